/**
 * The Clusterfile: sealos's `apps.sealos.io/v1beta1` `Cluster` (upstream-sealos.md section 5), so
 * a sealos Clusterfile parses, plus one optional document of ours (`seal.lvscare.io/v1alpha1`
 * `SealConfig`) holding seal's render settings. Decoding is strict: an unknown field, a wrong
 * type or a bad address is an InputError naming its path. Writing never includes a secret
 * (`ssh.passwd`, `ssh.pkData`, `ssh.pkPasswd`): they are read from a sealos file but a resumed
 * run asks for them again (flag, SEAL_SSH_PASSWORD or the prompt), and copies on masters must not
 * carry them.
 */
import { canonicalIp, parsePort } from "@lvscare/contracts/ip";
import { parseYamlDocuments, toMultiDocumentYaml } from "@lvscare/contracts/yaml";
import { InputError } from "../errors.ts";

export const CLUSTER_API_VERSION = "apps.sealos.io/v1beta1";
export const CLUSTER_KIND = "Cluster";
export const SEAL_CONFIG_API_VERSION = "seal.lvscare.io/v1alpha1";
export const SEAL_CONFIG_KIND = "SealConfig";

export const CLUSTER_PHASES = ["ClusterInProcess", "ClusterSuccess", "ClusterFailed"] as const;
export type ClusterPhase = (typeof CLUSTER_PHASES)[number];
export const CONDITION_STATUSES = ["True", "False", "Unknown"] as const;
export type ConditionStatus = (typeof CONDITION_STATUSES)[number];
export const HOST_ROLES = ["master", "node"] as const;
/** sealos also tags hosts with their architecture; accepted and kept. */
const ARCH_ROLES = ["amd64", "arm64"];

export interface ClusterSsh {
  readonly user?: string;
  readonly passwd?: string;
  readonly pk?: string;
  readonly pkData?: string;
  readonly pkPasswd?: string;
  readonly port?: number;
}

export interface ClusterHost {
  /** `IP` or `IP:port` (sealos writes `IP:22`). */
  readonly ips: readonly string[];
  readonly roles: readonly string[];
  readonly env?: readonly string[];
  readonly ssh?: ClusterSsh;
}

export interface ClusterCondition {
  /** `Preflight`, or `STEP/HOST` for a step on one host (`KubeadmJoin/10.0.0.11`). */
  readonly type: string;
  readonly status: ConditionStatus;
  readonly lastHeartbeatTime?: string;
  readonly reason?: string;
  readonly message?: string;
}

export interface Cluster {
  readonly apiVersion: typeof CLUSTER_API_VERSION;
  readonly kind: typeof CLUSTER_KIND;
  readonly metadata: { readonly name: string; readonly creationTimestamp?: string | null; readonly labels?: Readonly<Record<string, string>>; readonly annotations?: Readonly<Record<string, string>> };
  readonly spec: { readonly image?: readonly string[]; readonly ssh: ClusterSsh; readonly hosts: readonly ClusterHost[]; readonly env?: readonly string[]; readonly command?: readonly string[] };
  readonly status?: { readonly phase?: ClusterPhase; readonly conditions?: readonly ClusterCondition[]; readonly mounts?: readonly unknown[] };
}

/** seal's render settings: the `seal render` flags, with the Kubernetes version as resolved. */
export interface SealConfig {
  readonly vip?: string;
  readonly kubernetesVersion?: string;
  readonly podCidr?: string;
  readonly serviceCidr?: string;
  readonly dnsDomain?: string;
  readonly certSans?: readonly string[];
  readonly hostnames?: readonly string[];
  readonly lvscareImage?: string;
  readonly keyAlgorithm?: string;
  readonly certValidity?: string;
  readonly allowEvenMasters?: boolean;
  readonly criSocket?: string;
  readonly cgroupDriver?: string;
  readonly kubeProxyMode?: string;
}

export interface Clusterfile {
  readonly cluster: Cluster;
  readonly config: SealConfig;
}

type Json = unknown;

function fail(path: string, message: string): never {
  throw new InputError(`Clusterfile: ${path}: ${message}`);
}

function object(value: Json, path: string, allowed: readonly string[]): Record<string, Json> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) fail(path, "must be a mapping");
  for (const key of Object.keys(value)) if (!allowed.includes(key)) fail(path, `unknown field "${key}" (known: ${allowed.join(", ")})`);
  return value as Record<string, Json>;
}

function string(value: Json, path: string): string {
  if (typeof value !== "string") fail(path, "must be a string");
  return value;
}

function optionalString(value: Json, path: string): string | undefined {
  return value === undefined || value === null ? undefined : string(value, path);
}

function stringList(value: Json, path: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) fail(path, "must be a list");
  return value.map((item, index) => string(item, `${path}[${index}]`));
}

function stringMap(value: Json, path: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  const map = object(value, path, Object.keys(value as object));
  return Object.fromEntries(Object.entries(map).map(([key, item]) => [key, string(item, `${path}.${key}`)]));
}

function oneOf<T extends string>(value: Json, path: string, choices: readonly T[]): T {
  const text = string(value, path);
  if (!(choices as readonly string[]).includes(text)) fail(path, `"${text}" is not one of ${choices.join(", ")}`);
  return text as T;
}

function decodeSsh(value: Json, path: string): ClusterSsh {
  if (value === undefined || value === null) return {};
  const ssh = object(value, path, ["user", "passwd", "pk", "pkData", "pkPasswd", "port"]);
  let port: number | undefined;
  if (ssh["port"] !== undefined && ssh["port"] !== null) {
    // sealer wrote the port as a string; sealos v4 as a number.
    const text = typeof ssh["port"] === "number" ? String(ssh["port"]) : string(ssh["port"], `${path}.port`);
    port = parsePort(text);
    if (port === undefined || port === 0) fail(`${path}.port`, `"${text}" is not a port (1-65535)`);
  }
  const result: ClusterSsh = {
    user: optionalString(ssh["user"], `${path}.user`),
    passwd: optionalString(ssh["passwd"], `${path}.passwd`),
    pk: optionalString(ssh["pk"], `${path}.pk`),
    pkData: optionalString(ssh["pkData"], `${path}.pkData`),
    pkPasswd: optionalString(ssh["pkPasswd"], `${path}.pkPasswd`),
    port,
  };
  return dropUndefined(result);
}

/** `IP` or `IP:port` / `[IPv6]:port` -> canonical form, or an InputError. */
export function parseHostIp(text: string, path: string): { ip: string; port?: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const v4WithPort = /^([0-9.]+):(\d+)$/.exec(text);
  const [ipText, portText] = bracketed !== null ? [bracketed[1] ?? "", bracketed[2]] : v4WithPort !== null ? [v4WithPort[1] ?? "", v4WithPort[2]] : [text, undefined];
  const ip = canonicalIp(ipText);
  if (ip === undefined) fail(path, `"${text}" is not an IP address (optionally with :port)`);
  if (portText === undefined) return { ip: ip.ip };
  const port = parsePort(portText);
  if (port === undefined || port === 0) fail(path, `"${text}" has a bad port`);
  return { ip: ip.ip, port };
}

function decodeHost(value: Json, path: string): ClusterHost {
  const host = object(value, path, ["ips", "roles", "env", "ssh"]);
  const ips = stringList(host["ips"], `${path}.ips`) ?? [];
  if (ips.length === 0) fail(`${path}.ips`, "needs at least one address");
  ips.forEach((ip, index) => parseHostIp(ip, `${path}.ips[${index}]`));
  const roles = stringList(host["roles"], `${path}.roles`) ?? [];
  const main = roles.filter((role) => (HOST_ROLES as readonly string[]).includes(role));
  if (main.length !== 1) fail(`${path}.roles`, `needs exactly one of ${HOST_ROLES.join(", ")}, got [${roles.join(", ")}]`);
  for (const role of roles) if (!main.includes(role) && !ARCH_ROLES.includes(role)) fail(`${path}.roles`, `unknown role "${role}" (known: ${[...HOST_ROLES, ...ARCH_ROLES].join(", ")})`);
  return dropUndefined({ ips, roles, env: stringList(host["env"], `${path}.env`), ssh: host["ssh"] === undefined ? undefined : decodeSsh(host["ssh"], `${path}.ssh`) });
}

function decodeCondition(value: Json, path: string): ClusterCondition {
  const condition = object(value, path, ["type", "status", "lastHeartbeatTime", "reason", "message"]);
  return dropUndefined({
    type: string(condition["type"], `${path}.type`),
    status: oneOf(condition["status"], `${path}.status`, CONDITION_STATUSES),
    lastHeartbeatTime: optionalString(condition["lastHeartbeatTime"], `${path}.lastHeartbeatTime`),
    reason: optionalString(condition["reason"], `${path}.reason`),
    message: optionalString(condition["message"], `${path}.message`),
  });
}

function decodeCluster(value: Json): Cluster {
  const root = object(value, "", ["apiVersion", "kind", "metadata", "spec", "status"]);
  if (root["apiVersion"] !== CLUSTER_API_VERSION) fail("apiVersion", `must be ${CLUSTER_API_VERSION}`);
  const metadata = object(root["metadata"] ?? {}, "metadata", ["name", "creationTimestamp", "labels", "annotations"]);
  const name = string(metadata["name"], "metadata.name");
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) fail("metadata.name", `"${name}" is not a DNS label (lowercase letters, digits, '-')`);
  const spec = object(root["spec"], "spec", ["image", "ssh", "hosts", "env", "command"]);
  if (!Array.isArray(spec["hosts"]) || spec["hosts"].length === 0) fail("spec.hosts", "must list at least one host");
  const hosts = (spec["hosts"] as Json[]).map((host, index) => decodeHost(host, `spec.hosts[${index}]`));
  if (!hosts.some((host) => host.roles.includes("master"))) fail("spec.hosts", "needs at least one master");
  const seen = new Set<string>();
  hosts.forEach((host, index) =>
    host.ips.forEach((ip) => {
      const canonical = parseHostIp(ip, `spec.hosts[${index}].ips`).ip;
      if (seen.has(canonical)) fail(`spec.hosts[${index}].ips`, `${canonical} is listed twice`);
      seen.add(canonical);
    }),
  );
  let status: Cluster["status"];
  if (root["status"] !== undefined && root["status"] !== null) {
    const raw = object(root["status"], "status", ["phase", "conditions", "mounts"]);
    const conditions = raw["conditions"];
    if (conditions !== undefined && conditions !== null && !Array.isArray(conditions)) fail("status.conditions", "must be a list");
    status = dropUndefined({
      phase: raw["phase"] === undefined || raw["phase"] === "" ? undefined : oneOf(raw["phase"], "status.phase", CLUSTER_PHASES),
      conditions: Array.isArray(conditions) ? conditions.map((condition, index) => decodeCondition(condition, `status.conditions[${index}]`)) : undefined,
      mounts: Array.isArray(raw["mounts"]) ? raw["mounts"] : undefined,
    });
  }
  const creationTimestamp = metadata["creationTimestamp"] === null ? undefined : optionalString(metadata["creationTimestamp"], "metadata.creationTimestamp");
  return dropUndefined({
    apiVersion: CLUSTER_API_VERSION,
    kind: CLUSTER_KIND,
    metadata: dropUndefined({ name, creationTimestamp, labels: stringMap(metadata["labels"], "metadata.labels"), annotations: stringMap(metadata["annotations"], "metadata.annotations") }),
    spec: dropUndefined({
      image: stringList(spec["image"], "spec.image"),
      ssh: decodeSsh(spec["ssh"], "spec.ssh"),
      hosts,
      env: stringList(spec["env"], "spec.env"),
      command: stringList(spec["command"], "spec.command"),
    }),
    status,
  });
}

const SEAL_CONFIG_STRINGS = ["vip", "kubernetesVersion", "podCidr", "serviceCidr", "dnsDomain", "lvscareImage", "keyAlgorithm", "certValidity", "criSocket", "cgroupDriver", "kubeProxyMode"] as const;

function decodeSealConfig(value: Json): SealConfig {
  const root = object(value, "SealConfig", ["apiVersion", "kind", "spec"]);
  const spec = object(root["spec"] ?? {}, "SealConfig.spec", [...SEAL_CONFIG_STRINGS, "certSans", "hostnames", "allowEvenMasters"]);
  const config: Record<string, unknown> = {};
  for (const key of SEAL_CONFIG_STRINGS) config[key] = optionalString(spec[key], `SealConfig.spec.${key}`);
  config["certSans"] = stringList(spec["certSans"], "SealConfig.spec.certSans");
  config["hostnames"] = stringList(spec["hostnames"], "SealConfig.spec.hostnames");
  if (spec["allowEvenMasters"] !== undefined && typeof spec["allowEvenMasters"] !== "boolean") fail("SealConfig.spec.allowEvenMasters", "must be true or false");
  config["allowEvenMasters"] = spec["allowEvenMasters"];
  return dropUndefined(config) as SealConfig;
}

/** Parses a Clusterfile's text: one Cluster document, at most one SealConfig, nothing else. */
export function parseClusterfile(text: string): Clusterfile {
  const { values, errors } = parseYamlDocuments(text);
  if (errors.length > 0) throw new InputError(`Clusterfile: not valid YAML: ${errors[0]}`);
  let cluster: Cluster | undefined;
  let config: SealConfig | undefined;
  for (const value of values) {
    if (value === null || value === undefined) continue;
    const kind = (value as { kind?: unknown }).kind;
    const apiVersion = (value as { apiVersion?: unknown }).apiVersion;
    if (kind === CLUSTER_KIND && apiVersion === CLUSTER_API_VERSION) {
      if (cluster !== undefined) throw new InputError("Clusterfile: more than one Cluster document");
      cluster = decodeCluster(value);
    } else if (kind === SEAL_CONFIG_KIND && apiVersion === SEAL_CONFIG_API_VERSION) {
      if (config !== undefined) throw new InputError("Clusterfile: more than one SealConfig document");
      config = decodeSealConfig(value);
    } else {
      throw new InputError(`Clusterfile: document ${String(apiVersion)} ${String(kind)} is not supported (seal reads ${CLUSTER_API_VERSION} ${CLUSTER_KIND} and ${SEAL_CONFIG_API_VERSION} ${SEAL_CONFIG_KIND})`);
    }
  }
  if (cluster === undefined) throw new InputError(`Clusterfile: no ${CLUSTER_API_VERSION} ${CLUSTER_KIND} document`);
  return { cluster, config: config ?? {} };
}

/** The Cluster without passwords, key material or key passphrases, anywhere. */
export function withoutSecrets(cluster: Cluster): Cluster {
  const strip = (ssh: ClusterSsh): ClusterSsh => dropUndefined({ user: ssh.user, pk: ssh.pk, port: ssh.port });
  return {
    ...cluster,
    spec: { ...cluster.spec, ssh: strip(cluster.spec.ssh), hosts: cluster.spec.hosts.map((host) => (host.ssh === undefined ? host : { ...host, ssh: strip(host.ssh) })) },
  };
}

/** The file's text: always without secrets. */
export function formatClusterfile(file: Clusterfile): string {
  return toMultiDocumentYaml([withoutSecrets(file.cluster), { apiVersion: SEAL_CONFIG_API_VERSION, kind: SEAL_CONFIG_KIND, spec: file.config }]);
}

/** Masters (in file order; the first is master0) and workers as canonical IPs, with their SSH ports if given. */
export function clusterHosts(cluster: Cluster): { masters: { ip: string; port?: number }[]; nodes: { ip: string; port?: number }[] } {
  const pick = (role: string) =>
    cluster.spec.hosts.filter((host) => host.roles.includes(role)).flatMap((host) => host.ips.map((ip) => parseHostIp(ip, "spec.hosts")));
  return { masters: pick("master"), nodes: pick("node") };
}

/** `spec.hosts` as seal writes it: one group of masters (master0 first), one of workers if any, each `IP:port`. */
export function hostGroups(masters: readonly string[], nodes: readonly string[], port: number): ClusterHost[] {
  return [
    { ips: masters.map((ip) => `${ip}:${port}`), roles: ["master"] },
    ...(nodes.length > 0 ? [{ ips: nodes.map((ip) => `${ip}:${port}`), roles: ["node"] }] : []),
  ];
}

/** Sets (replacing one of the same type) conditions and the phase. */
export function withStatus(cluster: Cluster, phase: ClusterPhase, conditions: readonly ClusterCondition[]): Cluster {
  const merged = new Map((cluster.status?.conditions ?? []).map((condition) => [condition.type, condition]));
  for (const condition of conditions) merged.set(condition.type, condition);
  return { ...cluster, status: { ...cluster.status, phase, conditions: [...merged.values()] } };
}

/**
 * Drops the per-host conditions (`Step/<address>`) of hosts that left the cluster: a host added
 * again later must not show the steps of its previous life.
 */
export function withoutHostConditions(cluster: Cluster, addresses: readonly string[]): Cluster {
  if (cluster.status?.conditions === undefined) return cluster;
  const gone = new Set(addresses);
  const conditions = cluster.status.conditions.filter((condition) => {
    const slash = condition.type.indexOf("/");
    return slash < 0 || !gone.has(condition.type.slice(slash + 1));
  });
  return { ...cluster, status: { ...cluster.status, conditions } };
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T;
}
