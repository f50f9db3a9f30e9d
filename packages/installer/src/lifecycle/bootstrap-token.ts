/**
 * The cluster's bootstrap token made valid again on master0. kubeadm init gives it a 24 h TTL, so
 * a join resumed (or a host added) a day later would fail discovery with an expired token.
 */
import type { RemoteHost } from "../ssh/remote-host.ts";

export async function refreshBootstrapToken(master0: RemoteHost, token: string): Promise<void> {
  // Given on stdin, never on a command line; an existing token is updated (kubeadm's create-or-update).
  await master0.run(["sh", "-c", 'kubeadm token create "$(cat)" --description "seal: joins after the first day" >/dev/null'], { stdin: token, timeoutMs: 120_000 });
}
