// TCP connections through a VIP from inside the worker's namespace, for the dataplane comparison
// (bench/lib/dataplane-compare.ts). Prints one JSON line.
//   burst HOST PORT COUNT                            COUNT connections one after another (connect, then close):
//                                                    {"n","errors","totalMs","connectUs":[each connect, microseconds]}
//   loop HOST PORT INTERVAL_MS DURATION_MS TIMEOUT_MS a new connection every INTERVAL_MS for DURATION_MS
//                                                    from the first one that succeeds (announced by
//                                                    "connected" on stderr, so a caller can start its
//                                                    fault only then): {"attempts":[{"t","ok","ms","code"}]}
import net from 'node:net';

const [mode, host, portText, ...rest] = process.argv.slice(2);
const port = Number(portText);
if ((mode !== 'burst' && mode !== 'loop') || host === undefined || !(port > 0)) {
  process.stderr.write('usage: connect-probe.ts burst HOST PORT COUNT | loop HOST PORT INTERVAL_MS DURATION_MS TIMEOUT_MS\n');
  process.exit(2);
}

function connectOnce(timeoutMs: number): Promise<{ ok: boolean; ms: number; code?: string }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean, code?: string): void => {
      socket.destroy();
      resolve({ ok, ms: performance.now() - started, ...(code === undefined ? {} : { code }) });
    };
    socket.setTimeout(timeoutMs, () => done(false, 'TIMEOUT'));
    socket.once('connect', () => done(true));
    socket.once('error', (error: NodeJS.ErrnoException) => done(false, error.code ?? 'ERROR'));
  });
}

if (mode === 'burst') {
  const count = Number(rest[0]);
  const connectUs: number[] = [];
  let errors = 0;
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const attempt = await connectOnce(2_000);
    if (attempt.ok) connectUs.push(Math.round(attempt.ms * 1000));
    else errors += 1;
  }
  process.stdout.write(`${JSON.stringify({ n: count, errors, totalMs: performance.now() - started, connectUs })}\n`);
} else {
  const [intervalMs, durationMs, timeoutMs] = rest.map(Number) as [number, number, number];
  const attempts: Array<{ t: number; ok: boolean; ms: number; code?: string }> = [];
  const pending: Array<Promise<void>> = [];
  // The window starts at the first success: a slow start (a Node process in a starved VM) must
  // not eat the window, nor may attempts before the VIP ever answered count as downtime.
  let firstOk = Infinity;
  let end = Infinity;
  const giveUp = Date.now() + 60_000;
  while (Date.now() < (end === Infinity ? giveUp : end)) {
    const t = Date.now();
    pending.push(
      connectOnce(timeoutMs).then((a) => {
        if (a.ok && end === Infinity) {
          firstOk = t;
          end = Date.now() + durationMs;
          process.stderr.write('connected\n');
        }
        attempts.push({ t, ...a });
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  if (end === Infinity) {
    process.stderr.write(`no connection to ${host}:${port} succeeded within 60 s\n`);
    process.exit(1);
  }
  await Promise.all(pending);
  const counted = attempts.filter((a) => a.t >= firstOk).sort((a, b) => a.t - b.t);
  process.stdout.write(`${JSON.stringify({ attempts: counted })}\n`);
}
