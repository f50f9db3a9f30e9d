/** Object shapes the stand-in serves: Status errors, discovery documents, server-side tables. */
export type KubeObject = Record<string, unknown> & { metadata?: Record<string, unknown> };

export interface ResourceInfo {
  readonly name: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly group: string;
  readonly version: string;
  readonly verbs: readonly string[];
  readonly shortNames?: readonly string[];
  /** etcd prefix, kube-apiserver's own layout. */
  readonly prefix: string;
}

const CRUD = ["create", "delete", "get", "list", "patch", "update"];

export const RESOURCES: readonly ResourceInfo[] = [
  { name: "nodes", kind: "Node", namespaced: false, group: "", version: "v1", verbs: CRUD, shortNames: ["no"], prefix: "/registry/minions/" },
  { name: "pods", kind: "Pod", namespaced: true, group: "", version: "v1", verbs: CRUD, shortNames: ["po"], prefix: "/registry/pods/" },
  { name: "configmaps", kind: "ConfigMap", namespaced: true, group: "", version: "v1", verbs: CRUD, shortNames: ["cm"], prefix: "/registry/configmaps/" },
  { name: "secrets", kind: "Secret", namespaced: true, group: "", version: "v1", verbs: CRUD, prefix: "/registry/secrets/" },
  {
    name: "certificatesigningrequests",
    kind: "CertificateSigningRequest",
    namespaced: false,
    group: "certificates.k8s.io",
    version: "v1",
    verbs: ["create", "get", "list"],
    shortNames: ["csr"],
    prefix: "/registry/certificatesigningrequests/",
  },
];

export function status(code: number, reason: string, message: string, details?: Record<string, unknown>): KubeObject {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details === undefined ? {} : { details }), code };
}

export function apiResourceList(group: string, version: string): KubeObject {
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group === "" ? version : `${group}/${version}`,
    resources: RESOURCES.filter((resource) => resource.group === group && resource.version === version).map((resource) => ({
      name: resource.name,
      singularName: resource.kind.toLowerCase(),
      namespaced: resource.namespaced,
      kind: resource.kind,
      verbs: resource.verbs,
      ...(resource.shortNames === undefined ? {} : { shortNames: resource.shortNames }),
    })),
  };
}

export function apiGroupList(): KubeObject {
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: [
      {
        name: "certificates.k8s.io",
        versions: [{ groupVersion: "certificates.k8s.io/v1", version: "v1" }],
        preferredVersion: { groupVersion: "certificates.k8s.io/v1", version: "v1" },
      },
    ],
  };
}

function age(created: unknown, now: number): string {
  const seconds = Math.max(0, Math.floor((now - Date.parse(String(created))) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

function nodeRow(node: KubeObject, now: number): unknown[] {
  const labels = (node.metadata?.["labels"] ?? {}) as Record<string, string>;
  const roles = Object.keys(labels)
    .filter((label) => label.startsWith("node-role.kubernetes.io/"))
    .map((label) => label.slice("node-role.kubernetes.io/".length));
  const conditions = ((node["status"] as Record<string, unknown> | undefined)?.["conditions"] ?? []) as { type: string; status: string }[];
  const ready = conditions.find((condition) => condition.type === "Ready")?.status === "True" ? "Ready" : "NotReady";
  const unschedulable = (node["spec"] as Record<string, unknown> | undefined)?.["unschedulable"] === true;
  const info = ((node["status"] as Record<string, unknown> | undefined)?.["nodeInfo"] ?? {}) as Record<string, string>;
  return [node.metadata?.["name"], unschedulable ? `${ready},SchedulingDisabled` : ready, roles.length === 0 ? "<none>" : roles.join(","), age(node.metadata?.["creationTimestamp"], now), info["kubeletVersion"] ?? ""];
}

/** meta.k8s.io/v1 Table, as kube-apiserver answers kubectl's `Accept: ...;as=Table`. */
export function table(resource: ResourceInfo, items: KubeObject[], resourceVersion: string): KubeObject {
  const now = Date.now();
  const column = (name: string, format = "") => ({ name, type: "string", format, description: "", priority: 0 });
  const columns =
    resource.name === "nodes"
      ? [column("Name", "name"), column("Status"), column("Roles"), column("Age"), column("Version")]
      : [column("Name", "name"), column("Age")];
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion },
    columnDefinitions: columns,
    rows: items.map((item) => ({
      cells: resource.name === "nodes" ? nodeRow(item, now) : [item.metadata?.["name"], age(item.metadata?.["creationTimestamp"], now)],
      object: { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: item.metadata ?? {} },
    })),
  };
}

/** RFC 7386 JSON merge patch (also what a strategic merge patch of plain fields does). */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> = target !== null && typeof target === "object" && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}
