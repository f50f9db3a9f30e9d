/**
 * The stand-in API server (not kube-apiserver): started by the fake kubeadm from the flags of the
 * kube-apiserver static pod manifest it wrote, plus the controller-manager's signing flags,
 * because this one process also does the two controller jobs kubeadm's joins depend on: it signs
 * the kubelet's client-certificate requests (auto-approved as kubeadm's RBAC allows) and it
 * signs cluster-info with every bootstrap token (the bootstrap signer). What it serves is listed
 * in README.md; everything else answers 404 NotFound. Objects live in etcd (etcd-store.ts).
 */
import { randomUUID } from "node:crypto";
import { readFileSync, watchFile } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import { signClientCertificate, readCertificateRequest } from "../lib/openssl.ts";
import { detachedSignature } from "../lib/jws.ts";
import { parseGoDuration } from "../lib/duration.ts";
import { allowed, authenticate, readTokenSecret, type RequestAttributes, type User } from "./access.ts";
import { EtcdStore } from "./etcd-store.ts";
import { apiGroupList, apiResourceList, mergePatch, RESOURCES, status, table, type KubeObject, type ResourceInfo } from "./resources.ts";

const NAME = "stand-in kube-apiserver (lvscare test double)";

function parseArgs(argv: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([a-z0-9-]+)=(.*)$/.exec(arg);
    if (match === null) throw new Error(`${NAME}: flags must be --name=value as in the static pod manifest, got ${JSON.stringify(arg)}`);
    flags.set(match[1] ?? "", match[2] ?? "");
  }
  return flags;
}

const flags = parseArgs(process.argv.slice(2));
const required = (name: string) => {
  const value = flags.get(name);
  if (value === undefined || value === "") throw new Error(`${NAME}: --${name} is required`);
  return value;
};

const store = new EtcdStore({
  servers: required("etcd-servers").split(","),
  caFile: required("etcd-cafile"),
  certFile: required("etcd-certfile"),
  keyFile: required("etcd-keyfile"),
});
const version = flags.get("stand-in-version") ?? "v0.0.0";
const signing = {
  cert: flags.get("cluster-signing-cert-file") ?? required("client-ca-file"),
  key: flags.get("cluster-signing-key-file") ?? "/etc/kubernetes/pki/ca.key",
  hours: (parseGoDuration(flags.get("cluster-signing-duration") ?? "8760h") ?? 8760 * 3_600_000) / 3_600_000,
};
const advertise = `${required("advertise-address")}:${required("secure-port")}`;

function log(message: string): void {
  process.stdout.write(`${new Date().toISOString()} ${NAME}: ${message}\n`);
}

class HttpError extends Error {
  readonly body: KubeObject;
  constructor(body: KubeObject) {
    super(String(body["message"]));
    this.body = body;
  }
}

const notFound = (resource: string, name: string) => new HttpError(status(404, "NotFound", `${resource} "${name}" not found`, { name, kind: resource }));

function send(response: ServerResponse, code: number, body: unknown, contentType = "application/json"): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  response.writeHead(code, { "content-type": contentType, "content-length": Buffer.byteLength(text) });
  response.end(text);
}

async function readBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString();
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(status(400, "BadRequest", "the stand-in API server accepts JSON bodies only"));
  }
}

function keyOf(resource: ResourceInfo, namespace: string | undefined, name: string): string {
  return resource.namespaced ? `${resource.prefix}${namespace}/${name}` : `${resource.prefix}${name}`;
}

function withMeta(object: KubeObject, modRevision: string): KubeObject {
  return { ...object, metadata: { ...(object.metadata ?? {}), resourceVersion: modRevision } };
}

function fieldSelected(object: KubeObject, selector: string | null): boolean {
  if (selector === null || selector === "") return true;
  return selector.split(",").every((term) => {
    const [path, value] = term.split(/!?=/);
    const negate = term.includes("!=");
    const actual = (path ?? "").split(".").reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], object);
    return negate ? String(actual ?? "") !== value : String(actual ?? "") === value;
  });
}

function labelSelected(object: KubeObject, selector: string | null): boolean {
  if (selector === null || selector === "") return true;
  const labels = (object.metadata?.["labels"] ?? {}) as Record<string, string>;
  return selector.split(",").every((term) => {
    const [key, value] = term.split("=");
    return value === undefined ? key !== undefined && key in labels : labels[key ?? ""] === value;
  });
}

/** The bootstrap signer's work, done at read time: one JWS per signing token that has not expired. */
async function signClusterInfo(configMap: KubeObject): Promise<KubeObject> {
  const data = { ...((configMap["data"] ?? {}) as Record<string, string>) };
  for (const key of Object.keys(data)) if (key.startsWith("jws-kubeconfig-")) delete data[key];
  const kubeconfig = data["kubeconfig"];
  if (kubeconfig !== undefined) {
    for (const stored of await store.list("/registry/secrets/kube-system/bootstrap-token-")) {
      const token = readTokenSecret(stored.value);
      if (token !== undefined && token.signing && !token.expired) data[`jws-kubeconfig-${token.id}`] = detachedSignature(kubeconfig, token.id, token.secret);
    }
  }
  return { ...configMap, data };
}

/** The csrapproving and csrsigning controllers for kubelet client certificates. */
function approveAndSign(csr: KubeObject, user: User): KubeObject {
  const spec = (csr["spec"] ?? {}) as Record<string, unknown>;
  const pem = Buffer.from(String(spec["request"] ?? ""), "base64").toString();
  const subject = readCertificateRequest(pem);
  const signer = spec["signerName"];
  const isNodeClient = subject.organizations.length === 1 && subject.organizations[0] === "system:nodes" && subject.commonName.startsWith("system:node:");
  const requesterMayAsk = user.groups.includes("system:bootstrappers") || (user.groups.includes("system:nodes") && user.name === subject.commonName);
  const base = { ...csr, spec: { ...spec, username: user.name, groups: user.groups } };
  if (signer !== "kubernetes.io/kube-apiserver-client-kubelet" || !isNodeClient || !requesterMayAsk) {
    log(`CSR ${String(csr.metadata?.["name"])} left pending: signer ${String(signer)}, subject CN=${subject.commonName} O=${subject.organizations.join("+")}, requester ${user.name}`);
    return base;
  }
  const certificate = signClientCertificate(pem, signing.cert, signing.key, signing.hours);
  const now = new Date().toISOString();
  return {
    ...base,
    status: {
      conditions: [{ type: "Approved", status: "True", reason: "AutoApproved", message: "Auto approving kubelet client certificate after SubjectAccessReview.", lastUpdateTime: now, lastTransitionTime: now }],
      certificate: Buffer.from(certificate).toString("base64"),
    },
  };
}

async function handleResource(request: IncomingMessage, response: ServerResponse, user: User, url: URL): Promise<void> {
  const parts = url.pathname.split("/").filter((part) => part !== "");
  // /api/v1/... or /apis/<group>/<version>/...
  const [group, version, rest] = parts[0] === "api" ? ["", parts[1], parts.slice(2)] : [parts[1] ?? "", parts[2], parts.slice(3)];
  let namespace: string | undefined;
  let path = rest;
  if (path[0] === "namespaces" && path.length >= 3) {
    namespace = path[1];
    path = path.slice(2);
  }
  const resource = RESOURCES.find((candidate) => candidate.group === group && candidate.version === version && candidate.name === path[0]);
  if (resource === undefined || path.length > 2 || (resource.namespaced && namespace === undefined && !(request.method === "GET" && path.length === 1))) {
    throw new HttpError(status(404, "NotFound", "the server could not find the requested resource"));
  }
  const name = path[1];
  const method = request.method ?? "GET";
  const verb: RequestAttributes["verb"] =
    method === "GET" ? (name === undefined ? "list" : "get") : method === "POST" ? "create" : method === "PUT" ? "update" : method === "PATCH" ? "patch" : "delete";
  const body = method === "GET" || method === "DELETE" ? undefined : ((await readBody(request)) as KubeObject | undefined);
  const bodyNode = (body?.["spec"] as Record<string, unknown> | undefined)?.["nodeName"];
  let nodeName = typeof bodyNode === "string" ? bodyNode : undefined;
  if (resource.name === "pods" && name !== undefined && method === "DELETE") {
    const existing = await store.get(keyOf(resource, namespace, name));
    const existingNode = (existing?.value["spec"] as Record<string, unknown> | undefined)?.["nodeName"];
    nodeName = typeof existingNode === "string" ? existingNode : undefined;
  }
  const attributes: RequestAttributes = {
    verb,
    resource: resource.name,
    ...(namespace === undefined ? {} : { namespace }),
    ...(name === undefined ? (verb === "create" && typeof body?.metadata?.["name"] === "string" ? { name: body.metadata["name"] } : {}) : { name }),
    ...(nodeName === undefined ? {} : { nodeName }),
  };
  if (!allowed(user, attributes)) {
    const scope = namespace === undefined ? "at the cluster scope" : `in the namespace "${namespace}"`;
    throw new HttpError(
      status(403, "Forbidden", `${resource.name}${name === undefined ? "" : ` "${name}"`} is forbidden: User "${user.name}" cannot ${verb} resource "${resource.name}" in API group "${resource.group}" ${scope}`),
    );
  }

  if (verb === "list") {
    const prefix = resource.namespaced && namespace !== undefined ? `${resource.prefix}${namespace}/` : resource.prefix;
    const stored = await store.list(prefix);
    const items = stored
      .map((entry) => withMeta(entry.value, entry.modRevision))
      .filter((item) => fieldSelected(item, url.searchParams.get("fieldSelector")) && labelSelected(item, url.searchParams.get("labelSelector")));
    const resourceVersion = stored.reduce((max, entry) => (Number(entry.modRevision) > Number(max) ? entry.modRevision : max), "1");
    if ((request.headers.accept ?? "").includes("as=Table")) {
      send(response, 200, table(resource, items, resourceVersion));
      return;
    }
    send(response, 200, { kind: `${resource.kind}List`, apiVersion: resource.group === "" ? "v1" : `${resource.group}/${resource.version}`, metadata: { resourceVersion }, items });
    return;
  }
  if (name === undefined && verb !== "create") throw new HttpError(status(405, "MethodNotAllowed", `${method} is not supported on a collection`));
  if (verb === "create") {
    if (body === undefined) throw new HttpError(status(400, "BadRequest", "a body is required"));
    const objectName = typeof body.metadata?.["name"] === "string" ? body.metadata["name"] : resource.name === "certificatesigningrequests" ? `csr-${randomUUID().slice(0, 5)}` : "";
    if (objectName === "") throw new HttpError(status(422, "Invalid", `${resource.kind} "" is invalid: metadata.name: Required value: name or generateName is required`));
    let object: KubeObject = {
      ...body,
      kind: resource.kind,
      apiVersion: resource.group === "" ? "v1" : `${resource.group}/${resource.version}`,
      metadata: { ...(body.metadata ?? {}), name: objectName, ...(resource.namespaced ? { namespace } : {}), uid: randomUUID(), creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z") },
    };
    if (resource.name === "certificatesigningrequests") object = approveAndSign(object, user);
    const key = keyOf(resource, namespace, objectName);
    if (!(await store.create(key, object))) {
      throw new HttpError(status(409, "AlreadyExists", `${resource.name} "${objectName}" already exists`, { name: objectName, kind: resource.name }));
    }
    log(`${user.name} created ${resource.name} ${namespace === undefined ? "" : `${namespace}/`}${objectName}`);
    const created = await store.get(key);
    send(response, 201, created === undefined ? object : withMeta(created.value, created.modRevision));
    return;
  }
  const key = keyOf(resource, namespace, name ?? "");
  const existing = await store.get(key);
  if (existing === undefined) throw notFound(resource.name, name ?? "");
  if (verb === "get") {
    let object = withMeta(existing.value, existing.modRevision);
    if (resource.name === "configmaps" && namespace === "kube-public" && name === "cluster-info") object = await signClusterInfo(object);
    if ((request.headers.accept ?? "").includes("as=Table")) send(response, 200, table(resource, [object], existing.modRevision));
    else send(response, 200, object);
    return;
  }
  if (verb === "delete") {
    await store.delete(key);
    if (resource.name === "nodes") {
      // The pod garbage collector removes pods bound to a node that no longer exists.
      for (const pod of await store.list("/registry/pods/")) {
        if ((pod.value["spec"] as Record<string, unknown> | undefined)?.["nodeName"] === name) await store.delete(pod.key);
      }
    }
    log(`${user.name} deleted ${resource.name} ${namespace === undefined ? "" : `${namespace}/`}${name}`);
    send(response, 200, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details: { name, kind: resource.name } });
    return;
  }
  const updated = (verb === "patch" ? mergePatch(existing.value, body) : { ...(body ?? {}), metadata: { ...(body?.metadata ?? {}), ...pick(existing.value.metadata as Record<string, unknown> | undefined, ["uid", "creationTimestamp", "name", "namespace"]) } }) as KubeObject;
  await store.put(key, { ...updated, metadata: { ...(updated.metadata ?? {}), resourceVersion: undefined } });
  const saved = await store.get(key);
  log(`${user.name} ${verb === "patch" ? "patched" : "updated"} ${resource.name} ${namespace === undefined ? "" : `${namespace}/`}${name}`);
  send(response, 200, saved === undefined ? updated : withMeta(saved.value, saved.modRevision));
}

function pick(source: Record<string, unknown> | undefined, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((key) => source?.[key] !== undefined).map((key) => [key, source?.[key]]));
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? "/", "https://stand-in");
  const user = await authenticate(request, store);
  if (user === undefined) throw new HttpError(status(401, "Unauthorized", "Unauthorized"));
  switch (url.pathname) {
    case "/healthz":
    case "/livez":
      send(response, 200, "ok", "text/plain; charset=utf-8");
      return;
    case "/readyz":
      if (await store.healthy()) send(response, 200, "ok", "text/plain; charset=utf-8");
      else send(response, 500, "[-]etcd failed: reason withheld\nreadyz check failed", "text/plain; charset=utf-8");
      return;
    case "/version": {
      const match = /^v(\d+)\.(\d+)/.exec(version);
      send(response, 200, { major: match?.[1] ?? "0", minor: match?.[2] ?? "0", gitVersion: version, gitCommit: "stand-in", gitTreeState: "clean", buildDate: "1970-01-01T00:00:00Z", goVersion: "none", compiler: "none", platform: "linux/amd64" });
      return;
    }
  }
  if (!user.groups.includes("system:authenticated") && (url.pathname === "/api" || url.pathname.startsWith("/apis") || url.pathname === "/api/v1") && !url.pathname.includes("/namespaces/")) {
    throw new HttpError(status(403, "Forbidden", `forbidden: User "${user.name}" cannot get path "${url.pathname}"`));
  }
  if (url.pathname === "/api") {
    send(response, 200, { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: advertise }] });
    return;
  }
  if (url.pathname === "/api/v1") return send(response, 200, apiResourceList("", "v1"));
  if (url.pathname === "/apis") return send(response, 200, apiGroupList());
  if (url.pathname === "/apis/certificates.k8s.io/v1") return send(response, 200, apiResourceList("certificates.k8s.io", "v1"));
  if (url.pathname.startsWith("/api/v1/") || url.pathname.startsWith("/apis/")) {
    await handleResource(request, response, user, url);
    return;
  }
  throw new HttpError(status(404, "NotFound", "the server could not find the requested resource"));
}

function tlsFiles(): { cert: Buffer; key: Buffer; ca: Buffer } {
  return { cert: readFileSync(required("tls-cert-file")), key: readFileSync(required("tls-private-key-file")), ca: readFileSync(required("client-ca-file")) };
}

const server = createServer(
  {
    ...tlsFiles(),
    requestCert: true,
    rejectUnauthorized: false,
  },
  (request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (error instanceof HttpError) send(response, Number(error.body["code"]), error.body);
      else {
        log(`internal error on ${request.method} ${request.url}: ${error instanceof Error ? error.stack : String(error)}`);
        send(response, 500, status(500, "InternalError", `Internal error occurred: ${error instanceof Error ? error.message : String(error)}`));
      }
    });
  },
);

// kube-apiserver reloads its serving certificate and client CA when their files change
// (dynamiccertificates: fsnotify plus a periodic check) and keeps the old ones while the new
// pair does not load (a key written before its certificate); `seal cert` relies on that too.
const reloadTls = () => {
  try {
    server.setSecureContext(tlsFiles());
    log("reloaded the serving certificate and client CA from their files");
  } catch (error) {
    log(`kept the previous serving certificate: ${error instanceof Error ? error.message : String(error)}`);
  }
};
for (const flag of ["tls-cert-file", "tls-private-key-file", "client-ca-file"]) {
  watchFile(required(flag), { interval: 1000, persistent: false }, (current, previous) => {
    if (current.mtimeMs !== previous.mtimeMs || current.ino !== previous.ino) reloadTls();
  });
}

server.listen(Number(required("secure-port")), flags.get("bind-address") ?? "0.0.0.0", () => log(`serving on ${flags.get("bind-address") ?? "0.0.0.0"}:${required("secure-port")}, etcd ${required("etcd-servers")}, version ${version}`));
const shutdown = () => server.close(() => process.exit(0));
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
