// HTTP GETs from inside a network namespace. The benchmark itself runs in the VM's root namespace,
// which has no route to the cluster's bridge; a short-lived node in the worker's namespace fetches
// the URLs (given in an environment variable, never spliced into code) and stamps each answer with
// the time it arrived.
import type { Netns } from '../../test/harness/netns.ts';

export interface FetchedBody {
  url: string;
  /** Epoch ms when the answer was complete. */
  t: number;
  status: number;
  body: string;
}

const SCRIPT = `
const urls = JSON.parse(process.env.BENCH_URLS);
const out = [];
for (const url of urls) {
  const response = await fetch(url);
  const body = await response.text();
  out.push({ url, t: Date.now(), status: response.status, body });
}
process.stdout.write(JSON.stringify(out));
`;

export async function fetchInNetns(netns: Netns, urls: readonly string[]): Promise<FetchedBody[]> {
  const result = await netns.exec([process.execPath, '--input-type=module', '-e', SCRIPT], {
    env: { ...(process.env as Record<string, string>), BENCH_URLS: JSON.stringify(urls) },
    timeoutMs: 60_000,
  });
  const bodies = JSON.parse(result.stdout) as FetchedBody[];
  for (const answer of bodies) {
    if (answer.status !== 200) throw new Error(`GET ${answer.url} answered ${answer.status}: ${answer.body.slice(0, 200)}`);
  }
  return bodies;
}
