/**
 * The objects kubeadm (and, on its behalf, the kubelet) keeps in the cluster, written through
 * the stand-in API server with the credentials the real component would use: kubeadm-config,
 * kubelet-config, cluster-info, bootstrap-token Secrets, Nodes and the etcd/apiserver mirror pods
 * kubeadm later reads its etcd endpoints from.
 */
import { stringify } from "yaml";
import { ApiError, apiOk, apiRequest, statusMessage } from "../lib/kube-client.ts";
import type { KubeconfigCredentials } from "../lib/kubeconfig.ts";
import type { BootstrapTokenSpec } from "./config.ts";

const b64 = (text: string) => Buffer.from(text).toString("base64");
type Obj = Record<string, unknown>;

async function createOrReplace(credentials: KubeconfigCredentials, collection: string, name: string, object: Obj): Promise<void> {
  const created = await apiRequest(credentials, "POST", collection, object);
  if (created.status === 201) return;
  if (created.status !== 409) throw new ApiError(created.status, `POST ${collection}: ${created.status} ${statusMessage(created)}`);
  await apiOk(credentials, "PUT", `${collection}/${name}`, object);
}

export function configMap(namespace: string, name: string, data: Record<string, string>): Obj {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace }, data };
}

export async function uploadConfig(admin: KubeconfigCredentials, clusterConfiguration: Obj, kubelet: Obj | undefined): Promise<void> {
  await createOrReplace(admin, "/api/v1/namespaces/kube-system/configmaps", "kubeadm-config", configMap("kube-system", "kubeadm-config", { ClusterConfiguration: stringify(clusterConfiguration) }));
  await createOrReplace(
    admin,
    "/api/v1/namespaces/kube-system/configmaps",
    "kubelet-config",
    configMap("kube-system", "kubelet-config", { kubelet: stringify(kubelet ?? { apiVersion: "kubelet.config.k8s.io/v1beta1", kind: "KubeletConfiguration" }) }),
  );
}

export async function publishClusterInfo(admin: KubeconfigCredentials, kubeconfig: string): Promise<void> {
  await createOrReplace(admin, "/api/v1/namespaces/kube-public/configmaps", "cluster-info", configMap("kube-public", "cluster-info", { kubeconfig }));
}

export function tokenSecret(spec: BootstrapTokenSpec, now = Date.now()): Obj {
  const [id, secret] = spec.token.split(".");
  const expiration = spec.expires ?? (spec.ttlMs > 0 ? new Date(now + spec.ttlMs).toISOString().replace(/\.\d+Z$/, "Z") : undefined);
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: `bootstrap-token-${id}`, namespace: "kube-system" },
    type: "bootstrap.kubernetes.io/token",
    data: {
      "token-id": b64(id ?? ""),
      "token-secret": b64(secret ?? ""),
      ...(expiration === undefined ? {} : { expiration: b64(expiration) }),
      ...(spec.description === "" ? {} : { description: b64(spec.description) }),
      ...Object.fromEntries(spec.usages.map((usage) => [`usage-bootstrap-${usage}`, b64("true")])),
      ...(spec.groups.length === 0 ? {} : { "auth-extra-groups": b64(spec.groups.join(",")) }),
    },
  };
}

export async function createToken(admin: KubeconfigCredentials, spec: BootstrapTokenSpec): Promise<void> {
  const secret = tokenSecret(spec);
  await createOrReplace(admin, "/api/v1/namespaces/kube-system/secrets", String((secret["metadata"] as Obj)["name"]), secret);
}

export interface NodeRegistrationRequest {
  readonly name: string;
  readonly address: string;
  readonly kubeletVersion: string;
  readonly containerRuntimeVersion: string;
}

/** What the kubelet posts when it registers its node (a 409 means it is registered already). */
export async function registerNode(kubelet: KubeconfigCredentials, node: NodeRegistrationRequest): Promise<void> {
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const body = {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: node.name,
      labels: { "kubernetes.io/hostname": node.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64" },
      annotations: { "seal.lvscare.io/registered-by": "FAKE kubelet (lvscare test double), through FAKE kubeadm" },
    },
    spec: {},
    status: {
      addresses: [
        { type: "InternalIP", address: node.address },
        { type: "Hostname", address: node.name },
      ],
      conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "FAKE kubelet: no pods run on this node", lastHeartbeatTime: now, lastTransitionTime: now }],
      nodeInfo: { kubeletVersion: node.kubeletVersion, kubeProxyVersion: node.kubeletVersion, containerRuntimeVersion: node.containerRuntimeVersion, operatingSystem: "linux", architecture: "amd64" },
    },
  };
  const response = await apiRequest(kubelet, "POST", "/api/v1/nodes", body);
  if (response.status !== 201 && response.status !== 409) throw new ApiError(response.status, `registering node "${node.name}": ${response.status} ${statusMessage(response)}`);
}

export async function markControlPlane(admin: KubeconfigCredentials, name: string, taints: Obj[] | undefined): Promise<void> {
  const effective = taints ?? [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }];
  await apiOk(admin, "PATCH", `/api/v1/nodes/${name}`, {
    metadata: { labels: { "node-role.kubernetes.io/control-plane": "", "node.kubernetes.io/exclude-from-external-load-balancers": "" } },
    spec: { taints: effective },
  });
}

export const ETCD_URL_ANNOTATION = "kubeadm.kubernetes.io/etcd.advertise-client-urls";
export const APISERVER_ENDPOINT_ANNOTATION = "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint";

/** The kubelet's mirror pods for the static pods: kubeadm reads etcd endpoints from them. */
export async function registerMirrorPods(kubelet: KubeconfigCredentials, node: string, address: string, bindPort: number): Promise<void> {
  const host = address.includes(":") ? `[${address}]` : address;
  for (const [component, annotation, value] of [
    ["etcd", ETCD_URL_ANNOTATION, `https://${host}:2379`],
    ["kube-apiserver", APISERVER_ENDPOINT_ANNOTATION, `${host}:${bindPort}`],
  ] as const) {
    const name = `${component}-${node}`;
    await apiRequest(kubelet, "DELETE", `/api/v1/namespaces/kube-system/pods/${name}`);
    await apiOk(kubelet, "POST", "/api/v1/namespaces/kube-system/pods", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        namespace: "kube-system",
        labels: { component, tier: "control-plane" },
        annotations: { [annotation]: value, "kubernetes.io/config.mirror": "fake", "kubernetes.io/config.source": "file" },
      },
      spec: { nodeName: node, containers: [{ name: component, image: `registry.k8s.io/${component}` }] },
      status: { phase: "Running" },
    });
  }
}

export async function etcdClientUrls(credentials: KubeconfigCredentials): Promise<string[]> {
  const list = (await apiOk(credentials, "GET", "/api/v1/namespaces/kube-system/pods?labelSelector=component%3Detcd%2Ctier%3Dcontrol-plane")) as { items?: Obj[] };
  return (list.items ?? [])
    .map((pod) => ((pod["metadata"] as Obj | undefined)?.["annotations"] as Record<string, string> | undefined)?.[ETCD_URL_ANNOTATION])
    .filter((value): value is string => value !== undefined);
}
