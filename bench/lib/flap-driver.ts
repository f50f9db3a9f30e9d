// Makes one stand-in apiserver flap: its /healthz alternates fail/ok, each phase lasting a random
// time between MIN_MS and MAX_MS (seeded, so a run can be repeated), for DURATION_MS; it ends on
// "ok". Some phases are shorter than the daemon's fall/rise need, some much longer: the irregular
// pattern a master with a sick etcd shows. One JSON line per switch:
//   {"t":<epoch ms after the master acknowledged>,"health":"fail"}
// Runs inside a namespace that reaches the master's control port (the master's own).
//
// usage: node flap-driver.ts CONTROL_URL SEED DURATION_MS MIN_MS MAX_MS
//   CONTROL_URL: http://IP:PORT of the master's control server (PUT /healthz/ok|fail)

const [controlUrl, seedText, durationText, minText, maxText] = process.argv.slice(2);
const numbers = [seedText, durationText, minText, maxText].map(Number);
if (!controlUrl || !/^http:\/\/[0-9a-f.:[\]]+:\d+$/i.test(controlUrl) || numbers.some((n) => !Number.isInteger(n) || n < 0)) {
  console.error('usage: flap-driver.ts http://IP:PORT SEED DURATION_MS MIN_MS MAX_MS');
  process.exit(2);
}
const [seed, durationMs, minMs, maxMs] = numbers as [number, number, number, number];
if (minMs > maxMs) {
  console.error(`flap-driver: MIN_MS ${minMs} > MAX_MS ${maxMs}`);
  process.exit(2);
}

/** mulberry32: a small seeded generator, enough for irregular but repeatable phase lengths. */
function generator(state: number): () => number {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

async function setHealth(health: 'ok' | 'fail'): Promise<void> {
  const response = await fetch(`${controlUrl}/healthz/${health}`, { method: 'PUT' });
  if (response.status !== 204) throw new Error(`PUT /healthz/${health} answered ${response.status}: ${await response.text()}`);
  process.stdout.write(`${JSON.stringify({ t: Date.now(), health })}\n`);
}

let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
});

const random = generator(seed);
const endAt = Date.now() + durationMs;
let health: 'ok' | 'fail' = 'ok';
while (!stopping && Date.now() < endAt) {
  health = health === 'ok' ? 'fail' : 'ok';
  await setHealth(health);
  const phase = minMs + random() * (maxMs - minMs);
  const wakeAt = Math.min(endAt, Date.now() + phase);
  while (!stopping && Date.now() < wakeAt) await new Promise((resolve) => setTimeout(resolve, Math.min(200, wakeAt - Date.now())));
}
if (health !== 'ok') await setHealth('ok');
