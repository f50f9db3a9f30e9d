/**
 * Who is calling the stand-in API server and what they may do. Authentication as kube-apiserver
 * does it: a client certificate that chains to --client-ca-file (CN = user, O = groups), a
 * bootstrap token as bearer (checked against its Secret in kube-system: secret, expiry, usage),
 * or anonymous. Authorization is a fixed table standing in for the RBAC rules kubeadm creates
 * and the Node authorizer; it is listed in README.md.
 */
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import type { EtcdStore } from "./etcd-store.ts";

export interface User {
  readonly name: string;
  readonly groups: readonly string[];
}

export const ANONYMOUS: User = { name: "system:anonymous", groups: ["system:unauthenticated"] };
const BEARER = /^Bearer ([a-z0-9]{6})\.([a-z0-9]{16})$/;

const decode = (data: Record<string, unknown> | undefined, key: string) => {
  const value = data?.[key];
  return typeof value === "string" ? Buffer.from(value, "base64").toString() : undefined;
};

export interface BootstrapTokenSecret {
  readonly id: string;
  readonly secret: string;
  readonly expired: boolean;
  readonly signing: boolean;
  readonly authentication: boolean;
  readonly extraGroups: string[];
}

export function readTokenSecret(object: Record<string, unknown>, now = Date.now()): BootstrapTokenSecret | undefined {
  if (object["type"] !== "bootstrap.kubernetes.io/token") return undefined;
  const data = object["data"] as Record<string, unknown> | undefined;
  const id = decode(data, "token-id");
  const secret = decode(data, "token-secret");
  if (id === undefined || secret === undefined) return undefined;
  const expiration = decode(data, "expiration");
  return {
    id,
    secret,
    expired: expiration !== undefined && Date.parse(expiration) <= now,
    signing: decode(data, "usage-bootstrap-signing") === "true",
    authentication: decode(data, "usage-bootstrap-authentication") === "true",
    extraGroups: (decode(data, "auth-extra-groups") ?? "").split(",").filter((group) => group !== ""),
  };
}

/** undefined: credentials were presented and are not valid (401). */
export async function authenticate(request: IncomingMessage, store: EtcdStore): Promise<User | undefined> {
  const socket = request.socket as TLSSocket;
  const peer = socket.getPeerCertificate();
  if (peer !== null && Object.keys(peer).length > 0) {
    if (!socket.authorized) return undefined;
    const organizations = [peer.subject.O ?? []].flat();
    return { name: [peer.subject.CN].flat()[0] ?? "", groups: [...organizations, "system:authenticated"] };
  }
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = BEARER.exec(header);
    if (match === null) return undefined;
    const stored = await store.get(`/registry/secrets/kube-system/bootstrap-token-${match[1]}`);
    const token = stored === undefined ? undefined : readTokenSecret(stored.value);
    if (token === undefined || token.secret !== match[2] || token.expired || !token.authentication) return undefined;
    return { name: `system:bootstrap:${token.id}`, groups: ["system:bootstrappers", ...token.extraGroups, "system:authenticated"] };
  }
  return ANONYMOUS;
}

export interface RequestAttributes {
  readonly verb: "get" | "list" | "create" | "update" | "patch" | "delete";
  readonly resource: string;
  readonly namespace?: string;
  readonly name?: string;
  /** For pods: the node the pod is (to be) bound to. */
  readonly nodeName?: string;
}

const ADMIN_GROUPS = ["system:masters", "kubeadm:cluster-admins"];
const KUBEADM_CONFIGMAPS = ["kubeadm-config", "kubelet-config", "kube-proxy"];

export function allowed(user: User, attributes: RequestAttributes): boolean {
  if (user.groups.some((group) => ADMIN_GROUPS.includes(group))) return true;
  const { verb, resource, namespace, name } = attributes;
  if (resource === "configmaps" && namespace === "kube-public" && name === "cluster-info" && verb === "get") return true;
  const readsKubeadmConfig = resource === "configmaps" && namespace === "kube-system" && verb === "get" && KUBEADM_CONFIGMAPS.includes(name ?? "");
  if (user.groups.includes("system:bootstrappers")) {
    if (readsKubeadmConfig) return true;
    if (resource === "nodes" && verb === "get") return true;
    if (resource === "certificatesigningrequests" && (verb === "create" || verb === "get")) return true;
    return false;
  }
  if (user.groups.includes("system:nodes") && user.name.startsWith("system:node:")) {
    const node = user.name.slice("system:node:".length);
    if (readsKubeadmConfig) return true;
    if (resource === "nodes") return verb === "get" || verb === "list" || ((verb === "create" || verb === "update" || verb === "patch") && name === node);
    if (resource === "pods") return (verb === "get" || verb === "list") || ((verb === "create" || verb === "delete") && attributes.nodeName === node);
    if (resource === "certificatesigningrequests") return verb === "create" || verb === "get";
    return false;
  }
  return false;
}
