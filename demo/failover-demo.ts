// The failover demo, run where the kernel has IPVS (inside the VM, or on such a host) as root:
// three masters and a worker in network namespaces, the real `lvscare care` started with
// sealos's arguments, a kubelet-like client talking to the VIP, and a script of faults. It prints
// the kernel's table, the client's success rate and each measured failover as it happens.
import { Cluster, type Master, waitFor } from '../test/kernel/lib/cluster.ts';
import { type FaultStart, summarizeRequests } from './summary.ts';

const started = Date.now();
const stamp = (): string => `+${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
const say = (line: string): void => void process.stdout.write(`${stamp()}  ${line}\n`);

function tableLine(cluster: Cluster): string {
  const weights = cluster.weights();
  return cluster.masters
    .map((m) => {
      const weight = weights[m.endpoint];
      return `${m.name}=${weight === undefined ? '--' : `w${weight}`}`;
    })
    .join('  ');
}

interface Measured {
  fault: string;
  removedMs: number;
  clientBackMs: number | undefined;
}

async function main(): Promise<void> {
  say('building a worker and three masters (network namespaces on a bridge)...');
  const cluster = await Cluster.create();
  const results: Measured[] = [];
  const faultStarts: FaultStart[] = [];
  try {
    say(`masters: ${cluster.masters.map((m) => `${m.name} ${m.endpoint}`).join(', ')}; worker ${cluster.workerIp}; VIP ${cluster.vs}`);
    say(`starting: lvscare ${cluster.sealosArgs().join(' ')}`);
    const daemon = cluster.startDaemon();
    let shownLog = 0;
    const showDaemonLog = (): void => {
      const lines = daemon.output().split('\n');
      for (const line of lines.slice(shownLog, Math.max(shownLog, lines.length - 1))) {
        if (/ (WARN|ERROR) |ipvs: |in rotation|ready|route /.test(line)) say(`  lvscare | ${line.replace(/^\S+\s+/, '')}`);
      }
      shownLog = Math.max(shownLog, lines.length - 1);
    };
    await waitFor(() => Object.keys(cluster.weights()).length === 3, 120_000, 'the daemon to program the masters', () => daemon.output());
    showDaemonLog();
    const client = cluster.startClient(50, 1000);
    await client.waitForSuccesses(3, 0, 60_000);
    say(`table: ${tableLine(cluster)}   client connected through the VIP`);

    const status = setInterval(() => {
      showDaemonLog();
      const recent = client.records().filter((r) => r.t >= Date.now() - 2000);
      const ok = recent.filter((r) => r.ok).length;
      const last = recent.filter((r) => r.ok).at(-1)?.who ?? '-';
      say(`table: ${tableLine(cluster)}   client last 2s: ${ok}/${recent.length} ok, answered by ${last}`);
    }, 1000);

    const connectedTo = (): Master => {
      const who = client.records().filter((r) => r.ok).at(-1)?.who;
      return cluster.masters.find((m) => m.name === who) ?? (cluster.masters[0] as Master);
    };

    const trial = async (fault: string, inject: (m: Master) => Promise<void>, restore: (m: Master) => Promise<void>): Promise<void> => {
      const victim = connectedTo();
      say(`>>> ${fault}: ${victim.name} (the master the client is connected to)`);
      faultStarts.push({ fault, at: Date.now() });
      await inject(victim);
      // Every injection resolves once the fault is in effect; time counts from there.
      const at = Date.now();
      const removedMs = await waitFor(() => !(victim.endpoint in cluster.weights()), 60_000, `${victim.name} to leave the table`, undefined, 5);
      const back = await client.waitForSuccesses(1, at, 60_000).catch(() => []);
      const first = back.find((r) => r.ok);
      const clientBackMs = first ? first.t + first.ms - at : undefined;
      results.push({ fault, removedMs, clientBackMs });
      say(`<<< ${victim.name} out of the table ${removedMs.toFixed(0)} ms after the fault; client served again after ${clientBackMs ?? '?'} ms`);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      say(`restoring ${victim.name}`);
      await restore(victim);
      await waitFor(() => cluster.weights()[victim.endpoint] === 1, 60_000, `${victim.name} back`, undefined, 20);
      say(`${victim.name} back in rotation`);
      await new Promise((resolve) => setTimeout(resolve, 3000));
    };

    await new Promise((resolve) => setTimeout(resolve, 3000));
    await trial('kill -9 the apiserver', (m) => m.kill(), (m) => m.start());
    await trial('blackhole (link down, no RST)', (m) => m.blackhole(), (m) => m.unblackhole());
    await trial('/healthz answers 500', (m) => m.setHealth('fail'), (m) => m.setHealth('ok'));
    await trial('/healthz slower than the probe timeout', (m) => m.setHealth('slow/3000'), (m) => m.setHealth('ok'));
    say('>>> the table is flushed behind the daemon (what kube-proxy cleanup does): ipvsadm --clear');
    const flushedAt = Date.now();
    faultStarts.push({ fault: 'table flushed', at: flushedAt });
    await cluster.worker.netns.exec(['ipvsadm', '--clear']);
    const restoredMs = await waitFor(() => Object.keys(cluster.weights()).length === 3, 60_000, 'restore', undefined, 5);
    say(`<<< restored ${restoredMs.toFixed(0)} ms after the flush`);
    clearInterval(status);
    showDaemonLog();

    await client.stop();
    const summary = summarizeRequests(client.records(), faultStarts);
    const failedIn = (fault: string): string => {
      const row = summary.rows.find((r) => r.fault === fault);
      return row ? `${row.failed} of ${row.requests}` : '-';
    };
    process.stdout.write('\nsummary (this run, inside a qemu TCG VM: timings are slower than on real hardware)\n');
    process.stdout.write('failed requests count from the fault\'s injection to the next fault\'s (restore included)\n');
    process.stdout.write('fault                                    removed from table   client served again   failed requests\n');
    for (const r of results) {
      process.stdout.write(`${r.fault.padEnd(40)} ${`${r.removedMs.toFixed(0)} ms`.padStart(18)}   ${`${r.clientBackMs ?? '?'} ms`.padStart(19)}   ${failedIn(r.fault).padStart(15)}\n`);
    }
    process.stdout.write(`${'table flushed (restored)'.padEnd(40)} ${`${restoredMs.toFixed(0)} ms`.padStart(18)}   ${'-'.padStart(19)}   ${failedIn('table flushed').padStart(15)}\n`);
    process.stdout.write(`before the first fault: ${summary.before.failed} of ${summary.before.requests} failed\n`);
    process.stdout.write(`client: ${summary.requests - summary.failed} of ${summary.requests} requests through the VIP succeeded (${summary.failed} failed, each counted in one row above)\n`);
  } finally {
    await cluster.destroy();
  }
}

await main();
