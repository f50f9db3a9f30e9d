// SSH fan-out benchmark (issue 9, section 6): upload a 100 MB bundle to N hosts and run 10
// commands on each, wall time, side by side in one run:
//   seal       seal's SSH layer (bench/lib/ssh-fanout-seal.ts: one process, one connection per
//              host, the upload checked with sha256sum on the host before it is renamed into place)
//   openssh    the machine's practical limit: OpenSSH's own scp then ssh to every host at once
//              from a shell loop, multiplexed over one ControlMaster connection per host as a
//              user would run 11 commands; no remote check of the file
//   openssh+v  the same plus `sha256sum` of the file on each host (what seal's upload includes)
//   ansible    ansible-core: copy + 10 shell tasks, forks = N, pipelining on (what a fair user
//              sets), host keys checked against the same known_hosts file
// Every tool runs from the same client network namespace to the same real sshd test hosts
// (packages/installer/test/hosts), with the same key and the same known_hosts (all host keys
// recorded up front, strict checking everywhere). Tools are interleaved within every round.
//
//   sudo npx node bench/ssh-fanout.ts [--sizes 1,5,10,20] [--rounds 3] [--mb 100]
//       [--tools seal,openssh,openssh+v,ansible] [--seal-ciphers aes128-gcm@openssh.com,...]
//
// Prints one line per trial, then medians and ratios per size, and a JSON line for the record.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createTestHosts, type TestHosts } from '@lvscare/installer/testing/hosts';
import { generateKeyPair } from '@lvscare/installer/testing/ssh-pool';
import { median } from './lib/stats.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REMOTE_DIR = '/var/lib/seal-bench';
const REMOTE_FILE = `${REMOTE_DIR}/bundle.tar`;
const COMMANDS = 10;
const TOOLS = ['seal', 'openssh', 'openssh+v', 'ansible'] as const;
type Tool = (typeof TOOLS)[number];

const { values: flags } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,5,10,20' },
    rounds: { type: 'string', default: '3' },
    mb: { type: 'string', default: '100' },
    tools: { type: 'string', default: TOOLS.join(',') },
    'seal-ciphers': { type: 'string' },
    'seal-chunk': { type: 'string' },
    'seal-requests': { type: 'string' },
  },
});
const sizes = String(flags.sizes).split(',').map(Number);
const rounds = Number(flags.rounds);
const megabytes = Number(flags.mb);
const tools = String(flags.tools).split(',') as Tool[];
for (const tool of tools) if (!TOOLS.includes(tool)) fail(`unknown tool ${tool} (known: ${TOOLS.join(', ')})`);
if (sizes.some((size) => !Number.isInteger(size) || size < 1 || size > 100)) fail(`--sizes ${flags.sizes}: integers 1-100`);

function fail(message: string): never {
  process.stderr.write(`ssh-fanout: ${message}\n`);
  process.exit(2);
}

function which(name: string, pkg: string): string {
  for (const dir of ['/usr/bin', '/usr/sbin', '/bin', '/usr/local/bin']) if (existsSync(path.join(dir, name))) return path.join(dir, name);
  fail(`${name} is not installed: apt-get install ${pkg} (scripts/setup.sh does)`);
}

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

function runTimed(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(argv[0] as string, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }));
  });
}

async function writeRandomFile(file: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(file);
  for (let written = 0; written < bytes; ) {
    const chunk = randomBytes(Math.min(4 << 20, bytes - written));
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    written += chunk.length;
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  return hash.digest('hex');
}

const ssh = which('ssh', 'openssh-client');
const scp = which('scp', 'openssh-client');
const ansiblePlaybook = which('ansible-playbook', 'ansible-core');
const node = process.execPath;

const work = await mkdtemp(path.join(os.tmpdir(), 'seal-fanout-'));
let hosts: TestHosts | undefined;
try {
  const key = await generateKeyPair(work, 'client', 'ed25519');
  const maxSize = Math.max(...sizes);
  process.stderr.write(`ssh-fanout: starting ${maxSize} test hosts...\n`);
  hosts = await createTestHosts({ count: maxSize, authorizedKeys: [key.publicKey], stateSize: `${megabytes * 3 + 64}m` });
  const testHosts = hosts;
  const knownHosts = path.join(work, 'known_hosts');
  await writeFile(knownHosts, testHosts.hosts.map((host) => `${host.knownHostsLine()}\n`).join(''), { mode: 0o600 });
  const bundle = path.join(work, 'bundle.tar');
  const bundleSha = await writeRandomFile(bundle, megabytes << 20);
  const home = path.join(work, 'home');
  await mkdir(home, { recursive: true });
  const clientEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' };

  // OpenSSH: per host, scp (which opens the ControlMaster), the commands over it, then close it.
  const sshOptions = ['-F', '/dev/null', '-i', key.path, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'ControlMaster=auto', '-o', `ControlPath=${work}/cm-%h`, '-o', 'ControlPersist=60'];
  const openSshScript = path.join(work, 'openssh-fanout.sh');
  await writeFile(
    openSshScript,
    [
      '#!/bin/sh',
      '# usage: openssh-fanout.sh VERIFY HOST... (VERIFY=1 adds sha256sum of the file on each host)',
      'verify=$1; shift',
      `opts='${sshOptions.join(' ')}'`,
      'for host in "$@"; do',
      '  (',
      `    ${scp} -q $opts ${bundle} root@$host:${REMOTE_FILE} || exit 1`,
      `    i=1; while [ $i -le ${COMMANDS} ]; do ${ssh} $opts root@$host "echo $i \\$(hostname)" >/dev/null || exit 1; i=$((i + 1)); done`,
      `    if [ "$verify" = 1 ]; then ${ssh} $opts root@$host "sha256sum ${REMOTE_FILE}" | grep -q ${bundleSha} || exit 1; fi`,
      `    ${ssh} $opts -O exit root@$host 2>/dev/null`,
      '  ) &',
      'done',
      'status=0',
      'for job in $(jobs -p); do wait $job || status=1; done',
      'exit $status',
      '',
    ].join('\n'),
  );
  await chmod(openSshScript, 0o755);

  // Ansible: the same known_hosts and key; its default ssh_args (ControlPersist, -C) kept.
  const ansibleDir = path.join(work, 'ansible');
  await mkdir(ansibleDir);
  await writeFile(
    path.join(ansibleDir, 'playbook.yml'),
    [
      '- hosts: all',
      '  gather_facts: false',
      '  tasks:',
      '    - name: bundle',
      `      ansible.builtin.copy: { src: ${bundle}, dest: ${REMOTE_FILE}, mode: "0640" }`,
      ...Array.from({ length: COMMANDS }, (_, index) => [`    - name: command ${index + 1}`, `      ansible.builtin.shell: echo ${index + 1} $(hostname)`]).flat(),
      '',
    ].join('\n'),
  );
  await writeFile(
    path.join(ansibleDir, 'ansible.cfg'),
    [
      '[defaults]',
      'host_key_checking = True',
      'remote_user = root',
      `private_key_file = ${key.path}`,
      `local_tmp = ${ansibleDir}/tmp`,
      'interpreter_python = /usr/bin/python3',
      'forks = 100',
      '[ssh_connection]',
      'pipelining = True',
      `control_path_dir = ${ansibleDir}/cp`,
      `ssh_args = -C -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=${knownHosts} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes`,
      '',
    ].join('\n'),
  );

  async function clean(count: number): Promise<void> {
    await Promise.all(testHosts.hosts.slice(0, count).map((host) => host.execOk(['sh', '-c', `rm -rf ${REMOTE_DIR} && mkdir -p ${REMOTE_DIR}`])));
  }

  async function check(count: number, tool: Tool): Promise<void> {
    await Promise.all(
      testHosts.hosts.slice(0, count).map(async (host) => {
        const sum = (await host.execOk(['sha256sum', REMOTE_FILE])).split(' ')[0];
        if (sum !== bundleSha) throw new Error(`${tool}: ${host.address} has a wrong ${REMOTE_FILE}`);
      }),
    );
  }

  async function trial(tool: Tool, count: number): Promise<number> {
    const addresses = testHosts.addresses.slice(0, count);
    let run: Run;
    if (tool === 'seal') {
      const job = {
        hosts: addresses,
        file: bundle,
        remotePath: REMOTE_FILE,
        knownHosts,
        key: key.path,
        commands: COMMANDS,
        ...(flags['seal-ciphers'] === undefined ? {} : { ciphers: String(flags['seal-ciphers']).split(',') }),
        ...(flags['seal-chunk'] === undefined ? {} : { chunkSize: Number(flags['seal-chunk']) }),
        ...(flags['seal-requests'] === undefined ? {} : { requests: Number(flags['seal-requests']) }),
      };
      run = await runTimed(testHosts.clientCommand([node, path.join(HERE, 'lib', 'ssh-fanout-seal.ts'), JSON.stringify(job)]), clientEnv);
    } else if (tool === 'ansible') {
      const inventory = path.join(ansibleDir, `inventory-${count}`);
      await writeFile(inventory, `${addresses.join('\n')}\n`);
      run = await runTimed(testHosts.clientCommand([ansiblePlaybook, '-i', inventory, '-f', String(count), path.join(ansibleDir, 'playbook.yml')]), {
        ...clientEnv,
        ANSIBLE_CONFIG: path.join(ansibleDir, 'ansible.cfg'),
      });
    } else {
      run = await runTimed(testHosts.clientCommand([openSshScript, tool === 'openssh+v' ? '1' : '0', ...addresses]), clientEnv);
    }
    if (tool === 'seal' && process.env['SSH_FANOUT_PHASES'] === '1') process.stderr.write(`  seal phases: ${run.stdout.trim()}\n`);
    if (run.code !== 0) throw new Error(`${tool} with ${count} hosts exited ${run.code}:\n${run.stdout.slice(-2000)}\n${run.stderr.slice(-2000)}`);
    await check(count, tool);
    return run.ms;
  }

  const samples = new Map<string, number[]>();
  for (let round = 1; round <= rounds; round++) {
    for (const count of sizes) {
      // Rotate the order every round so no tool always runs first (or right after another).
      const order = tools.map((_, index) => tools[(index + round + count) % tools.length] as Tool);
      for (const tool of order) {
        await clean(count);
        const ms = await trial(tool, count);
        const key = `${tool}@${count}`;
        samples.set(key, [...(samples.get(key) ?? []), ms]);
        process.stdout.write(`round ${round} hosts ${String(count).padStart(2)} ${tool.padEnd(10)} ${(ms / 1000).toFixed(2)} s\n`);
      }
    }
  }

  const result: Record<string, unknown> = { date: new Date().toISOString(), megabytes, commands: COMMANDS, rounds, node: process.version, cpus: os.cpus().length, load: os.loadavg(), sizes: {} };
  process.stdout.write(`\nmedians of ${rounds} rounds (${megabytes} MB + ${COMMANDS} commands per host)\n`);
  process.stdout.write(`hosts  ${tools.map((tool) => tool.padStart(10)).join(' ')}   seal/openssh  seal/openssh+v  ansible/seal\n`);
  for (const count of sizes) {
    const medians = Object.fromEntries(tools.map((tool) => [tool, median(samples.get(`${tool}@${count}`) ?? [])]));
    const ratio = (a: string, b: string) => ((medians[a] ?? Number.NaN) / (medians[b] ?? Number.NaN)).toFixed(2);
    process.stdout.write(
      `${String(count).padStart(5)}  ${tools.map((tool) => `${((medians[tool] ?? Number.NaN) / 1000).toFixed(2).padStart(8)} s`).join(' ')}   ${ratio('seal', 'openssh').padStart(12)}  ${ratio('seal', 'openssh+v').padStart(14)}  ${ratio('ansible', 'seal').padStart(12)}\n`,
    );
    (result['sizes'] as Record<string, unknown>)[count] = { medians, samples: Object.fromEntries(tools.map((tool) => [tool, samples.get(`${tool}@${count}`)])) };
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await hosts?.destroy();
  await rm(work, { recursive: true, force: true });
}
