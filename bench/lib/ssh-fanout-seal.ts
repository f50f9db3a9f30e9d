// One fan-out run of seal's SSH layer, as its own process (run inside the benchmark's client
// network namespace, like the ssh and ansible runs it is compared with): connect to every host,
// upload the file with its sha256 check, run the commands one after another, close. Prints
// {"ms", "startupMs", "slowestHostMs": {"connect", "upload", "commands"}} on stdout; exits 1 with
// the failures on stderr.
//
//   node bench/lib/ssh-fanout-seal.ts '{"hosts":[...],"file":"...","remotePath":"...","knownHosts":"...","key":"...","commands":10}'
import module from 'node:module';

// As bin/seal.js does: Node's compile cache keeps the type-stripped, compiled sources between
// runs (start-up to a loaded SSH layer measured 310-440 ms without it, 140-160 ms with it).
module.enableCompileCache();
const { HostPool, loadCredentials, valuesOrThrow } = await import('@lvscare/installer/ssh');

interface Job {
  hosts: string[];
  file: string;
  remotePath: string;
  knownHosts: string;
  key: string;
  commands: number;
  concurrency?: number;
  ciphers?: string[];
  chunkSize?: number;
  requests?: number;
}

const job = JSON.parse(process.argv[2] ?? '{}') as Job;
// performance.now() counts from process start: this is Node's start-up plus loading the installer.
const loaded = performance.now();
const started = performance.now();
const phases = { connect: 0, upload: 0, commands: 0 };
const pool = new HostPool({
  credentials: await loadCredentials({ privateKeyPath: job.key, agentSocket: null }),
  hostKeys: { knownHostsPath: job.knownHosts, unknownHosts: 'refuse' },
  concurrency: job.concurrency ?? job.hosts.length,
  ...(job.ciphers === undefined ? {} : { algorithms: { cipher: job.ciphers } }),
  sftpWrite: { ...(job.chunkSize === undefined ? {} : { chunkSize: job.chunkSize }), ...(job.requests === undefined ? {} : { requests: job.requests }) },
});
try {
  const results = await pool.forEach(job.hosts, async (host) => {
    let mark = performance.now();
    const lap = (phase: keyof typeof phases) => {
      const now = performance.now();
      phases[phase] = Math.max(phases[phase], now - mark);
      mark = now;
    };
    await host.connect();
    lap('connect');
    await host.upload(job.file, job.remotePath, { mode: 0o640 });
    lap('upload');
    for (let index = 1; index <= job.commands; index++) await host.run(['sh', '-c', `echo ${index} $(hostname)`]);
    lap('commands');
  });
  valuesOrThrow(results, 'fan-out');
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await pool.close();
}
// Phases: the slowest host's time in each.
process.stdout.write(`${JSON.stringify({ ms: performance.now() - started, startupMs: loaded, slowestHostMs: phases })}\n`);
