// Which masters answer through the VIP, asked with a fresh HTTPS client each time and a generous
// timeout (a TLS handshake under qemu TCG can take seconds), for the mode tests of both dataplanes.
import { type Cluster, type Master, waitFor } from './cluster.ts';

/** Fresh connections (a new client each time) through the VIP until every master has answered. */
export async function waitForAnswersFromEvery(cluster: Cluster, masters: readonly Master[], what: string): Promise<void> {
  const seen = new Set<string>();
  await waitFor(
    async () => {
      const client = await cluster.worker.netns.exec(
        [process.execPath, '--input-type=module', '-e', `process.env.NODE_TLS_REJECT_UNAUTHORIZED='0'; const r = await fetch('https://${cluster.vs}/whoami'); console.log(await r.text());`],
        { allowFailure: true, timeoutMs: 30_000, env: { ...process.env, NODE_NO_WARNINGS: '1' } as Record<string, string> },
      );
      if (client.code === 0) seen.add(client.stdout.trim());
      return masters.every((m) => seen.has(m.name));
    },
    120_000,
    what,
    () => `seen ${[...seen].join(',')}`,
    0,
  );
}
