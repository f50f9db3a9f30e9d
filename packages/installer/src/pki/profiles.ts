/**
 * Who is who in a kubeadm cluster: every certificate kubeadm expects on a master (names, groups,
 * usages, SANs) and every kubeconfig identity, per Kubernetes version. Pure data, so tests can
 * compare it with what openssl reads back from the files.
 */
import type { ClusterSpec, HostSpec } from "../cluster/spec.ts";
import { hasSuperAdmin } from "../cluster/version.ts";
import { nthAddress } from "../net/cidr.ts";
import { formatIp, joinHostPort, parseIp } from "@lvscare/contracts/ip";
import { apiServerCertSans } from "../kubeadm/render.ts";
import type { ExtendedUsage, Subject } from "./certificates.ts";

export type AuthorityName = "ca" | "front-proxy-ca" | "etcd/ca";

export const AUTHORITIES: readonly { readonly name: AuthorityName; readonly commonName: string }[] = [
  { name: "ca", commonName: "kubernetes" },
  { name: "front-proxy-ca", commonName: "front-proxy-ca" },
  { name: "etcd/ca", commonName: "etcd-ca" },
];

export interface LeafProfile {
  /** Path under the pki directory without extension: `apiserver`, `etcd/server`. */
  readonly baseName: string;
  readonly authority: AuthorityName;
  readonly subject: Subject;
  readonly usages: readonly ExtendedUsage[];
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

export interface KubeconfigProfile {
  /** File name under /etc/kubernetes. */
  readonly fileName: string;
  /** The user entry's name; also the certificate's common name, as in kubeadm. */
  readonly userName: string;
  readonly subject: Subject;
  readonly server: string;
}

const SYSTEM_MASTERS = "system:masters";
const CLUSTER_ADMINS = "kubeadm:cluster-admins";

/** The group of the admin identities: 1.29 moved admin.conf and the kubelet client out of system:masters. */
function adminGroup(spec: ClusterSpec): string {
  return hasSuperAdmin(spec.kubernetesVersion) ? CLUSTER_ADMINS : SYSTEM_MASTERS;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** The API server's SANs: kubeadm's own list, the plan's certSANs and `localhost` (as sealos adds). */
export function apiServerAltNames(spec: ClusterSpec, master: HostSpec): { dnsNames: string[]; ipAddresses: string[] } {
  const firstServiceIp = nthAddress(spec.serviceCidr, 1);
  if (firstServiceIp === undefined) throw new Error("invariant: validated service CIDR has a first address");
  const dnsNames = [
    master.hostname,
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    `kubernetes.default.svc.${spec.dnsDomain}`,
    "localhost",
  ];
  const ipAddresses = [formatIp(firstServiceIp), master.addressText];
  for (const san of apiServerCertSans(spec)) {
    if (parseIp(san) === undefined) dnsNames.push(san);
    else ipAddresses.push(san);
  }
  return { dnsNames: unique(dnsNames), ipAddresses: unique(ipAddresses) };
}

/** etcd's serving and peer certificates: the node name, localhost and the node's own addresses. */
function etcdAltNames(master: HostSpec): { dnsNames: string[]; ipAddresses: string[] } {
  return { dnsNames: [master.hostname, "localhost"], ipAddresses: unique([master.addressText, "127.0.0.1", "::1"]) };
}

export function leafProfiles(spec: ClusterSpec, master: HostSpec): LeafProfile[] {
  const none = { dnsNames: [], ipAddresses: [] };
  return [
    {
      baseName: "apiserver",
      authority: "ca",
      subject: { commonName: "kube-apiserver" },
      usages: ["serverAuth"],
      ...apiServerAltNames(spec, master),
    },
    {
      baseName: "apiserver-kubelet-client",
      authority: "ca",
      subject: { commonName: "kube-apiserver-kubelet-client", organizations: [adminGroup(spec)] },
      usages: ["clientAuth"],
      ...none,
    },
    {
      baseName: "front-proxy-client",
      authority: "front-proxy-ca",
      subject: { commonName: "front-proxy-client" },
      usages: ["clientAuth"],
      ...none,
    },
    {
      baseName: "apiserver-etcd-client",
      authority: "etcd/ca",
      subject: { commonName: "kube-apiserver-etcd-client", organizations: [SYSTEM_MASTERS] },
      usages: ["clientAuth"],
      ...none,
    },
    {
      baseName: "etcd/server",
      authority: "etcd/ca",
      subject: { commonName: master.hostname },
      // etcd checks client usage on its serving certificate too (etcd issue 9785), hence both.
      usages: ["serverAuth", "clientAuth"],
      ...etcdAltNames(master),
    },
    {
      baseName: "etcd/peer",
      authority: "etcd/ca",
      subject: { commonName: master.hostname },
      usages: ["serverAuth", "clientAuth"],
      ...etcdAltNames(master),
    },
    {
      baseName: "etcd/healthcheck-client",
      authority: "etcd/ca",
      subject: { commonName: "kube-etcd-healthcheck-client", organizations: [SYSTEM_MASTERS] },
      usages: ["clientAuth"],
      ...none,
    },
  ];
}

export function kubeconfigProfiles(spec: ClusterSpec, master: HostSpec): KubeconfigProfile[] {
  const endpoint = `https://${spec.apiServerName}:${spec.apiServerPort}`;
  // kubeadm points the controller-manager and the scheduler at their own API server, so they
  // keep working while the shared endpoint is down or moving.
  const local = `https://${joinHostPort(master.address, spec.apiServerPort)}`;
  const profiles: KubeconfigProfile[] = [
    {
      fileName: "admin.conf",
      userName: "kubernetes-admin",
      subject: { commonName: "kubernetes-admin", organizations: [adminGroup(spec)] },
      server: endpoint,
    },
  ];
  // Like kubeadm, only the init node gets super-admin.conf: the break-glass identity stays on one host.
  if (hasSuperAdmin(spec.kubernetesVersion) && master.master0) {
    profiles.push({
      fileName: "super-admin.conf",
      userName: "kubernetes-super-admin",
      subject: { commonName: "kubernetes-super-admin", organizations: [SYSTEM_MASTERS] },
      server: endpoint,
    });
  }
  profiles.push(
    {
      fileName: "controller-manager.conf",
      userName: "system:kube-controller-manager",
      subject: { commonName: "system:kube-controller-manager" },
      server: local,
    },
    {
      fileName: "scheduler.conf",
      userName: "system:kube-scheduler",
      subject: { commonName: "system:kube-scheduler" },
      server: local,
    },
    {
      fileName: "kubelet.conf",
      userName: `system:node:${master.hostname}`,
      subject: { commonName: `system:node:${master.hostname}`, organizations: ["system:nodes"] },
      server: endpoint,
    },
  );
  return profiles;
}
