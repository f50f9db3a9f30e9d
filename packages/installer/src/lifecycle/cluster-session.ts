/**
 * What `seal add` and `seal delete` do around their own steps: the SSH pool on the cluster's
 * known_hosts, and the ending every changing command shares (the phase ClusterSuccess and the
 * Clusterfile, without secrets, on every master).
 */
import { HostPool } from "../ssh/host-pool.ts";
import { parseHostKeyPin } from "../ssh/host-key-store.ts";
import { formatClusterfile, withoutSecrets } from "../cluster-state/clusterfile.ts";
import { MASTER_CLUSTERFILE_PATH, type StateDir } from "../cluster-state/state-dir.ts";
import type { RunContext } from "./run-cluster.ts";
import type { StepRunner } from "./step-runner.ts";

export async function openClusterPool(state: StateDir, port: number, request: { readonly acceptHostKey: readonly string[]; readonly sshInsecure: boolean }, context: RunContext): Promise<HostPool> {
  return new HostPool({
    credentials: await context.credentials(),
    port,
    hostKeys: { knownHostsPath: state.knownHosts, pins: request.acceptHostKey.map(parseHostKeyPin), insecureAcceptChangedKeys: request.sshInsecure },
    logger: context.logger,
    progress: context.progress,
  });
}

export async function finishWithClusterfileCopies(steps: StepRunner, pool: HostPool, masters: readonly string[]): Promise<void> {
  steps.record("ClusterSuccess", []);
  const copy = formatClusterfile({ ...steps.file, cluster: withoutSecrets(steps.file.cluster) });
  await steps.step("CopyClusterfile", masters, async (address) => {
    await pool.host(address).writeFileAtomic(MASTER_CLUSTERFILE_PATH, copy, { mode: 0o600 });
  });
  steps.record("ClusterSuccess", []);
}
