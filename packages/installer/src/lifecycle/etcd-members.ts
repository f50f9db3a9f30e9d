/**
 * etcd membership seen from a master that stays: its own etcd's v3 JSON gateway on 127.0.0.1:2379
 * through curl with the master's etcd client certificate (the healthcheck client kubeadm issues),
 * so no etcdctl is needed on hosts. `seal delete` removes the member of a deleted master this way
 * even when its host is gone: a stale member breaks the next join (sealos#380, #678, #3966).
 */
import type { RemoteHost } from "../ssh/remote-host.ts";

const ETCD_PKI = "/etc/kubernetes/pki/etcd";
const GATEWAY = "https://127.0.0.1:2379/v3/cluster/member";

export interface EtcdMember {
  /** uint64, kept as the decimal string the gateway prints. */
  readonly id: string;
  readonly name: string;
  readonly peerUrls: readonly string[];
}

async function gateway(host: RemoteHost, call: "list" | "remove", body: string): Promise<unknown> {
  const result = await host.run([
    "curl", "-sS", "--fail", "--max-time", "20",
    "--cacert", `${ETCD_PKI}/ca.crt`, "--cert", `${ETCD_PKI}/healthcheck-client.crt`, "--key", `${ETCD_PKI}/healthcheck-client.key`,
    "-X", "POST", "--data-binary", "@-", `${GATEWAY}/${call}`,
  ], { stdin: body, timeoutMs: 30_000 });
  try {
    return JSON.parse(result.stdout) as unknown;
  } catch {
    throw new Error(`etcd's member ${call} on ${host.address} did not answer JSON: ${result.stdout.slice(0, 200)}`);
  }
}

export async function listEtcdMembers(host: RemoteHost): Promise<EtcdMember[]> {
  const answer = (await gateway(host, "list", "{}")) as { members?: { ID?: string | number; name?: string; peerURLs?: string[] }[] };
  return (answer.members ?? []).map((member) => ({ id: String(member.ID ?? ""), name: member.name ?? "", peerUrls: member.peerURLs ?? [] }));
}

/** The members that are this host: by name (the node name) or by peer address (a member never started has no name). */
export function membersOfHost(members: readonly EtcdMember[], hostname: string, address: string): EtcdMember[] {
  const peer = `https://${address.includes(":") ? `[${address}]` : address}:2380`;
  return members.filter((member) => member.name === hostname || member.peerUrls.includes(peer));
}

/** Removes the host's members; returns the names removed (none when it had already left). */
export async function removeEtcdMembersOf(via: RemoteHost, hostname: string, address: string): Promise<string[]> {
  const stale = membersOfHost(await listEtcdMembers(via), hostname, address);
  for (const member of stale) await gateway(via, "remove", JSON.stringify({ ID: member.id }));
  return stale.map((member) => member.name || member.id);
}
