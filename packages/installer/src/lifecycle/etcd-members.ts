/**
 * etcd membership seen from a master that stays: its own etcd's v3 JSON gateway on 127.0.0.1:2379
 * through curl with the master's etcd client certificate (the healthcheck client kubeadm issues),
 * so no etcdctl is needed on hosts. `seal delete` removes the member of a deleted master this way
 * even when its host is gone: a stale member breaks the next join (sealos#380, #678, #3966).
 */
import { RemoteCommandError } from "../ssh/errors.ts";
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
  for (const member of stale) await removeWhenHealthy(via, member);
  return stale.map((member) => member.name || member.id);
}

/** How long etcd may answer "unhealthy cluster" to a removal before seal gives up. */
const REMOVE_RETRY_MS = 60_000;

/**
 * etcd answers 503 (ErrUnhealthy) to a member removal while it cannot yet prove the quorum would
 * survive it: a member connected for less than its health interval (5 s) does not count, so a
 * master deleted right after it joined, or after a peer reconnect, is refused for a few seconds.
 * That is retried with backoff; any other failure is not.
 */
async function removeWhenHealthy(via: RemoteHost, member: EtcdMember): Promise<void> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      await gateway(via, "remove", JSON.stringify({ ID: member.id }));
      return;
    } catch (error) {
      const unhealthy = error instanceof RemoteCommandError && error.exitCode === 22 && /\b503\b/.test(error.stderr);
      if (!unhealthy) throw error;
      if (Date.now() - started >= REMOVE_RETRY_MS) {
        throw new Error(`etcd on ${via.address} refused to remove member ${member.name || member.id} for ${REMOVE_RETRY_MS / 1000} s (503, unhealthy cluster: it would not keep its quorum with the members it sees started); check \`etcdctl endpoint health --cluster\` and run the same command again`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(8_000, 1_000 * 2 ** attempt)));
    }
  }
}
