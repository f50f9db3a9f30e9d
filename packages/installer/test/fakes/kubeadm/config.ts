/**
 * Loading a kubeadm --config file the way kubeadm does: YAML 1.1 documents (sigs.k8s.io/yaml
 * reads `yes` as a boolean), each with apiVersion and kind, no kind twice; the kubeadm API
 * version must be one this kubeadm version serves; fields and their types checked against
 * schema.ts. Then the documents are reduced to what the fake acts on, with kubeadm's defaults.
 *
 * One deliberate difference, documented in README.md: kubeadm init/join only *warn* about an
 * unknown field (`strict decoding error`, a fatal error only in `kubeadm config validate`); the
 * fake refuses it, so a misspelt field in the installer's output cannot pass a test unnoticed.
 */
import { hostname, networkInterfaces } from "node:os";
import { parseAllDocuments } from "yaml";
import { parseGoDuration } from "../lib/duration.ts";
import { atLeastMinor, parseVersion, type Version } from "../lib/version.ts";
import { COMPONENT_CONFIGS, V1BETA3, V1BETA4, type FieldType, type Schema } from "./schema.ts";

export class ConfigError extends Error {}

type Doc = Record<string, unknown>;

export interface LoadedDocument {
  readonly apiVersion: string;
  readonly kind: string;
  readonly body: Doc;
}

const GO_TYPE: Record<string, string> = {
  string: "string",
  bool: "bool",
  int: "int32",
  duration: "v1.Duration",
  time: "v1.Time",
  strings: "[]string",
  stringMap: "map[string]string",
  boolMap: "map[string]bool",
};

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return "number";
  return typeof value;
}

/** Walks `value` against `type`; unknown fields and type errors are collected with their paths. */
function check(value: unknown, type: FieldType, path: string, kind: string, unknown: string[], typeErrors: string[]): void {
  if (value === null || value === undefined || type === "any") return;
  const mismatch = (goType: string): void => {
    typeErrors.push(`json: cannot unmarshal ${jsonType(value)} into Go struct field ${kind}.${path} of type ${goType}`);
  };
  if (typeof type === "object") {
    if ("object" in type) {
      if (jsonType(value) !== "object") return mismatch("struct");
      checkObject(value as Doc, type.object, `${path}.`, kind, unknown, typeErrors);
    } else {
      if (!Array.isArray(value)) return mismatch("[]struct");
      value.forEach((item, index) => {
        if (jsonType(item) !== "object") typeErrors.push(`json: cannot unmarshal ${jsonType(item)} into Go struct field ${kind}.${path} of type struct`);
        else checkObject(item as Doc, type.list, `${path}[${index}].`, kind, unknown, typeErrors);
      });
    }
    return;
  }
  switch (type) {
    case "string":
    case "time":
      if (typeof value !== "string") mismatch(GO_TYPE[type] ?? type);
      return;
    case "duration":
      if (typeof value !== "string") mismatch("v1.Duration");
      else if (parseGoDuration(value) === undefined) typeErrors.push(`time: invalid duration "${value}" (${kind}.${path})`);
      return;
    case "bool":
      if (typeof value !== "boolean") mismatch("bool");
      return;
    case "int":
      if (typeof value !== "number" || !Number.isInteger(value)) mismatch("int32");
      return;
    case "strings":
      if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) mismatch("[]string");
      return;
    case "stringMap":
    case "boolMap": {
      const want = type === "stringMap" ? "string" : "boolean";
      if (jsonType(value) !== "object" || Object.values(value as Doc).some((item) => typeof item !== want)) mismatch(GO_TYPE[type] ?? type);
      return;
    }
  }
}

function checkObject(doc: Doc, schema: Schema, prefix: string, kind: string, unknown: string[], typeErrors: string[]): void {
  for (const [key, value] of Object.entries(doc)) {
    const type = schema[key];
    if (type === undefined) unknown.push(`unknown field "${prefix}${key}"`);
    else check(value, type, `${prefix}${key}`, kind, unknown, typeErrors);
  }
}

/** kubeadm.k8s.io versions this kubeadm serves, by its own minor version. */
function kubeadmSchemas(apiVersion: string, kubeadm: Version): Readonly<Record<string, Schema>> {
  const version = apiVersion.slice("kubeadm.k8s.io/".length);
  if (version === "v1beta4" && atLeastMinor(kubeadm, 1, 31)) return V1BETA4;
  if (version === "v1beta3" && atLeastMinor(kubeadm, 1, 22)) return V1BETA3;
  if (["v1alpha1", "v1alpha2", "v1alpha3", "v1beta1", "v1beta2"].includes(version)) {
    throw new ConfigError(
      `your configuration file uses an old API spec: "${apiVersion}". Please use kubeadm v1.21 instead and run 'kubeadm config migrate --old-config old.yaml --new-config new.yaml', which will write the new, similar spec using a newer API version.`,
    );
  }
  throw new ConfigError(`no kind is registered for the version "${apiVersion}" in scheme "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme/scheme.go:31"`);
}

export interface LoadResult {
  readonly documents: LoadedDocument[];
  readonly warnings: string[];
}

/** Splits and checks every document of a config file. Throws ConfigError with kubeadm's message. */
export function loadDocuments(text: string, kubeadm: Version): LoadResult {
  const warnings: string[] = [];
  const documents: LoadedDocument[] = [];
  const seen = new Set<string>();
  for (const parsed of parseAllDocuments(text, { version: "1.1", uniqueKeys: true })) {
    if (parsed.errors.length > 0) throw new ConfigError(`error converting YAML to JSON: yaml: ${parsed.errors[0]?.message ?? "invalid YAML"}`);
    const body = parsed.toJS() as unknown;
    if (body === null || body === undefined) continue;
    if (jsonType(body) !== "object") throw new ConfigError(`error unmarshaling JSON: json: cannot unmarshal ${jsonType(body)} into Go value of type map[string]interface {}`);
    const doc = body as Doc;
    const apiVersion = typeof doc["apiVersion"] === "string" ? doc["apiVersion"] : "";
    const kind = typeof doc["kind"] === "string" ? doc["kind"] : "";
    if (apiVersion === "" || kind === "") {
      throw new ConfigError(`invalid configuration for GroupVersionKind ${apiVersion}, Kind=${kind}: kind and apiVersion is mandatory information that must be specified`);
    }
    const gvk = `${apiVersion}, Kind=${kind}`;
    if (seen.has(gvk)) throw new ConfigError(`invalid configuration: GroupVersionKind ${gvk} is specified twice in YAML file`);
    seen.add(gvk);
    let schema: Schema | undefined;
    if (apiVersion.startsWith("kubeadm.k8s.io/")) {
      schema = kubeadmSchemas(apiVersion, kubeadm)[kind];
      if (schema === undefined) throw new ConfigError(`no kind "${kind}" is registered for version "${apiVersion}" in scheme "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme/scheme.go:31"`);
    } else {
      schema = COMPONENT_CONFIGS[`${apiVersion}/${kind}`];
      if (schema === undefined) {
        warnings.push(`[config] WARNING: Ignored configuration document with GroupVersionKind ${gvk}`);
        continue;
      }
    }
    const unknown: string[] = [];
    const typeErrors: string[] = [];
    checkObject(doc, schema, "", kind, unknown, typeErrors);
    const gvkText = `schema.GroupVersionKind{Group:"${apiVersion.split("/")[0]}", Version:"${apiVersion.split("/")[1]}", Kind:"${kind}"}`;
    if (typeErrors.length > 0) throw new ConfigError(`error decoding ${gvkText}: ${typeErrors.join("; ")}`);
    if (unknown.length > 0) {
      throw new ConfigError(
        `error unmarshaling configuration ${gvkText}: strict decoding error: ${unknown.join(", ")} (FAKE kubeadm refuses this; the real kubeadm init/join only warns, kubeadm config validate refuses)`,
      );
    }
    documents.push({ apiVersion, kind, body: doc });
  }
  return { documents, warnings };
}

// ---------------------------------------------------------------------------------------------
// What the fake acts on, with kubeadm's defaults.

const str = (doc: Doc | undefined, key: string): string | undefined => {
  const value = doc?.[key];
  return typeof value === "string" && value !== "" ? value : undefined;
};
const sub = (doc: Doc | undefined, key: string): Doc | undefined => {
  const value = doc?.[key];
  return jsonType(value) === "object" ? (value as Doc) : undefined;
};
const strings = (doc: Doc | undefined, key: string): string[] => {
  const value = doc?.[key];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
};

/** v1beta3 maps and v1beta4 name/value lists, as one map (later entries win, as in kubeadm). */
function extraArgs(doc: Doc | undefined, key: string): Map<string, string> {
  const value = doc?.[key];
  const args = new Map<string, string>();
  if (Array.isArray(value)) for (const item of value as Doc[]) args.set(String(item["name"]), String(item["value"] ?? ""));
  else if (jsonType(value) === "object") for (const [name, arg] of Object.entries(value as Doc)) args.set(name, String(arg));
  return args;
}

export interface BootstrapTokenSpec {
  readonly token: string;
  readonly description: string;
  readonly ttlMs: number;
  readonly expires?: string;
  readonly usages: string[];
  readonly groups: string[];
}

export interface NodeRegistration {
  readonly name: string;
  readonly criSocket: string;
  readonly ignorePreflightErrors: string[];
  readonly kubeletExtraArgs: Map<string, string>;
  /** undefined: kubeadm's default (control-plane taint on masters). */
  readonly taints?: Doc[];
}

export interface ClusterSettings {
  readonly kubernetesVersion: string;
  readonly controlPlaneEndpoint?: string;
  readonly certSANs: string[];
  readonly serviceSubnet: string;
  readonly podSubnet?: string;
  readonly dnsDomain: string;
  readonly clusterName: string;
  readonly certificatesDir: string;
  readonly etcdDataDir: string;
  readonly etcdExternal: boolean;
  readonly etcdServerCertSANs: string[];
  readonly etcdPeerCertSANs: string[];
  readonly controllerManagerArgs: Map<string, string>;
  readonly apiServerArgs: Map<string, string>;
  /** The ClusterConfiguration document as given, for the kubeadm-config ConfigMap. */
  readonly document: Doc;
}

export interface InitSettings {
  readonly apiVersion: string;
  readonly nodeRegistration: NodeRegistration;
  readonly advertiseAddress: string;
  readonly bindPort: number;
  readonly bootstrapTokens: BootstrapTokenSpec[];
  readonly skipPhases: string[];
  readonly certificateKey?: string;
  readonly controlPlaneTimeoutMs?: number;
  readonly cluster: ClusterSettings;
  readonly kubelet?: Doc;
  readonly kubeProxy?: Doc;
}

export interface JoinSettings {
  readonly apiVersion: string;
  readonly nodeRegistration: NodeRegistration;
  readonly caCertPath: string;
  readonly token?: string;
  readonly apiServerEndpoint?: string;
  readonly caCertHashes: string[];
  readonly unsafeSkipCAVerification: boolean;
  readonly discoveryFile?: string;
  readonly tlsBootstrapToken?: string;
  readonly discoveryTimeoutMs?: number;
  readonly controlPlane?: { readonly advertiseAddress: string; readonly bindPort: number; readonly certificateKey?: string };
  readonly skipPhases: string[];
}

export const DEFAULT_CRI_SOCKET = "unix:///var/run/containerd/containerd.sock";

/** kubeadm's node-name default: the hostname, lower-cased. */
export function defaultNodeName(): string {
  return hostname().toLowerCase();
}

/** kubeadm picks the address of the default route's interface; the fake takes the first global IPv4. */
export function defaultAdvertiseAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === "IPv4" && !address.internal) return address.address;
  }
  throw new ConfigError("unable to select an IP from default routes.");
}

function nodeRegistration(doc: Doc | undefined): NodeRegistration {
  const taints = doc?.["taints"];
  return {
    name: str(doc, "name") ?? defaultNodeName(),
    criSocket: str(doc, "criSocket") ?? DEFAULT_CRI_SOCKET,
    ignorePreflightErrors: strings(doc, "ignorePreflightErrors"),
    kubeletExtraArgs: extraArgs(doc, "kubeletExtraArgs"),
    ...(Array.isArray(taints) ? { taints: taints as Doc[] } : {}),
  };
}

function durationOf(doc: Doc | undefined, key: string): number | undefined {
  const text = str(doc, key);
  return text === undefined ? undefined : parseGoDuration(text);
}

export function clusterSettings(doc: Doc | undefined, fallbackVersion: string, warnings: string[]): ClusterSettings {
  const etcd = sub(doc, "etcd");
  const local = sub(etcd, "local");
  const networking = sub(doc, "networking");
  let kubernetesVersion = str(doc, "kubernetesVersion");
  if (kubernetesVersion === undefined || !/^v?\d/.test(kubernetesVersion)) {
    warnings.push(
      `could not fetch a Kubernetes version from the internet: unable to get URL "https://dl.k8s.io/release/stable-1.txt": (no network on a test host); falling back to the local client version: ${fallbackVersion}`,
    );
    kubernetesVersion = fallbackVersion;
  }
  const endpoint = str(doc, "controlPlaneEndpoint");
  return {
    kubernetesVersion: kubernetesVersion.startsWith("v") ? kubernetesVersion : `v${kubernetesVersion}`,
    ...(endpoint === undefined ? {} : { controlPlaneEndpoint: endpoint }),
    certSANs: strings(sub(doc, "apiServer"), "certSANs"),
    serviceSubnet: str(networking, "serviceSubnet") ?? "10.96.0.0/12",
    ...(str(networking, "podSubnet") === undefined ? {} : { podSubnet: str(networking, "podSubnet") as string }),
    dnsDomain: str(networking, "dnsDomain") ?? "cluster.local",
    clusterName: str(doc, "clusterName") ?? "kubernetes",
    certificatesDir: str(doc, "certificatesDir") ?? "/etc/kubernetes/pki",
    etcdDataDir: str(local, "dataDir") ?? "/var/lib/etcd",
    etcdExternal: sub(etcd, "external") !== undefined,
    etcdServerCertSANs: strings(local, "serverCertSANs"),
    etcdPeerCertSANs: strings(local, "peerCertSANs"),
    controllerManagerArgs: extraArgs(sub(doc, "controllerManager"), "extraArgs"),
    apiServerArgs: extraArgs(sub(doc, "apiServer"), "extraArgs"),
    document: doc ?? { apiVersion: "kubeadm.k8s.io/v1beta4", kind: "ClusterConfiguration" },
  };
}

export function initSettings(loaded: LoadResult, kubeadmVersion: Version): InitSettings {
  const byKind = (kind: string) => loaded.documents.find((doc) => doc.kind === kind && doc.apiVersion.startsWith("kubeadm.k8s.io/"));
  const init = byKind("InitConfiguration");
  const cluster = byKind("ClusterConfiguration");
  if (init === undefined && cluster === undefined) throw new ConfigError("no InitConfiguration or ClusterConfiguration kind was found in the configuration file");
  const body = init?.body;
  const endpoint = sub(body, "localAPIEndpoint");
  const timeouts = sub(body, "timeouts");
  const apiServer = sub(cluster?.body, "apiServer");
  const controlPlaneTimeout = durationOf(timeouts, "controlPlaneComponentHealthCheck") ?? durationOf(apiServer, "timeoutForControlPlane");
  const tokens = body?.["bootstrapTokens"];
  const certificateKey = str(body, "certificateKey");
  const kubelet = loaded.documents.find((doc) => doc.kind === "KubeletConfiguration")?.body;
  const kubeProxy = loaded.documents.find((doc) => doc.kind === "KubeProxyConfiguration")?.body;
  return {
    apiVersion: (init ?? cluster)?.apiVersion ?? "kubeadm.k8s.io/v1beta4",
    nodeRegistration: nodeRegistration(sub(body, "nodeRegistration")),
    advertiseAddress: str(endpoint, "advertiseAddress") ?? defaultAdvertiseAddress(),
    bindPort: typeof endpoint?.["bindPort"] === "number" ? endpoint["bindPort"] : 6443,
    bootstrapTokens: Array.isArray(tokens)
      ? (tokens as Doc[]).map((token) => ({
          token: String(token["token"] ?? ""),
          description: str(token, "description") ?? "",
          ttlMs: durationOf(token, "ttl") ?? 24 * 3_600_000,
          ...(str(token, "expires") === undefined ? {} : { expires: str(token, "expires") as string }),
          usages: token["usages"] === undefined ? ["signing", "authentication"] : strings(token, "usages"),
          groups: token["groups"] === undefined ? ["system:bootstrappers:kubeadm:default-node-token"] : strings(token, "groups"),
        }))
      : [],
    skipPhases: strings(body, "skipPhases"),
    ...(certificateKey === undefined ? {} : { certificateKey }),
    ...(controlPlaneTimeout === undefined ? {} : { controlPlaneTimeoutMs: controlPlaneTimeout }),
    cluster: clusterSettings(cluster?.body, `v${kubeadmVersion.major}.${kubeadmVersion.minor}.${kubeadmVersion.patch}`, loaded.warnings),
    ...(kubelet === undefined ? {} : { kubelet }),
    ...(kubeProxy === undefined ? {} : { kubeProxy }),
  };
}

export function joinSettings(loaded: LoadResult): JoinSettings {
  const join = loaded.documents.find((doc) => doc.kind === "JoinConfiguration" && doc.apiVersion.startsWith("kubeadm.k8s.io/"));
  if (join === undefined) throw new ConfigError("no JoinConfiguration found in the supplied config");
  const body = join.body;
  const discovery = sub(body, "discovery");
  const token = sub(discovery, "bootstrapToken");
  const controlPlane = sub(body, "controlPlane");
  const cpEndpoint = sub(controlPlane, "localAPIEndpoint");
  const discoveryTimeout = durationOf(sub(body, "timeouts"), "discovery") ?? durationOf(discovery, "timeout");
  const file = str(sub(discovery, "file"), "kubeConfigPath");
  return {
    apiVersion: join.apiVersion,
    nodeRegistration: nodeRegistration(sub(body, "nodeRegistration")),
    caCertPath: str(body, "caCertPath") ?? "/etc/kubernetes/pki/ca.crt",
    ...(str(token, "token") === undefined ? {} : { token: str(token, "token") as string }),
    ...(str(token, "apiServerEndpoint") === undefined ? {} : { apiServerEndpoint: str(token, "apiServerEndpoint") as string }),
    caCertHashes: strings(token, "caCertHashes"),
    unsafeSkipCAVerification: token?.["unsafeSkipCAVerification"] === true,
    ...(file === undefined ? {} : { discoveryFile: file }),
    ...(str(discovery, "tlsBootstrapToken") === undefined ? {} : { tlsBootstrapToken: str(discovery, "tlsBootstrapToken") as string }),
    ...(discoveryTimeout === undefined ? {} : { discoveryTimeoutMs: discoveryTimeout }),
    ...(controlPlane === undefined
      ? {}
      : {
          controlPlane: {
            advertiseAddress: str(cpEndpoint, "advertiseAddress") ?? defaultAdvertiseAddress(),
            bindPort: typeof cpEndpoint?.["bindPort"] === "number" ? cpEndpoint["bindPort"] : 6443,
            ...(str(controlPlane, "certificateKey") === undefined ? {} : { certificateKey: str(controlPlane, "certificateKey") as string }),
          },
        }),
    skipPhases: strings(body, "skipPhases"),
  };
}
