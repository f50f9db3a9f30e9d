// Runs one command line inside a qemu VM booted with the cached Debian kernel (which has IPVS),
// streaming the command's output live and returning its exit status.
//
// The guest mounts the host's root read-only over 9p under a RAM overlay and chroots into it, so it
// runs this repository's Node 24, npm packages and Debian tools unchanged at the same paths; its
// writes never reach the host. Kernel messages go to the serial console; the command's stdout,
// stderr and the init's status messages each have their own virtio serial port (see scripts/vm/init.sh).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { formatArgv, tail } from './command.ts';
import { ensureInitramfs } from './initramfs.ts';
import { repoRoot } from './paths.ts';
import { loadCachedKernel } from './vm-kernel.ts';
import { onProcessExit } from './process-cleanup.ts';
import { renderJobScript, validateVmJob } from './vm-job.ts';

/** qemu's -accel value: single-threaded TCG unless LVSCARE_VM_ACCEL says otherwise (why: see bootAndRun). */
export function vmAccel(): string {
  return process.env.LVSCARE_VM_ACCEL ?? 'tcg,thread=single';
}

/** qemu's -cpu value: `max` without PKU and LA57 unless LVSCARE_VM_CPU says otherwise. */
export function vmCpu(): string {
  return process.env.LVSCARE_VM_CPU ?? 'max,-pku,-la57';
}

export const QEMU_BIN = 'qemu-system-x86_64';
export const DEFAULT_VM_TIMEOUT_MS = 10 * 60_000;

export interface VmRunOptions {
  /** Program and arguments; the program is looked up in the guest's PATH. */
  argv: string[];
  /** Added to the guest's base environment (PATH with node_modules/.bin first, HOME, LANG, LVSCARE_IN_VM=1). */
  env?: Record<string, string>;
  /** Working directory in the guest (host paths are the same there); default: the repository root. */
  cwd?: string;
  /** Whole-VM limit, boot included; qemu is killed when it runs out. Default 10 minutes. */
  timeoutMs?: number;
  /** Called with each chunk of the command's output as it arrives. */
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
  /** Guest RAM (default 2048, or env LVSCARE_VM_MEMORY_MB). */
  memoryMb?: number;
  /** Guest vCPUs (default 2, or env LVSCARE_VM_CPUS). */
  cpus?: number;
  /** Called once the guest is booted and about to run the command. */
  onReady?: (ready: { bootMs: number; guestBootS: number }) => void;
  /** Called with each chunk of the kernel's serial console (default: nothing; env LVSCARE_VM_CONSOLE=1 copies it to stderr). */
  onConsole?: (chunk: string) => void;
}

export interface VmRunResult {
  /** Exit status of the command in the guest (125: cwd missing, 126/127: not executable / not found). */
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved in arrival order. */
  output: string;
  /** From starting qemu to the guest being ready to run the command (modules loaded, lo up). */
  bootMs: number;
  /** Guest uptime when it became ready (the kernel's own view of its boot). */
  guestBootS: number;
  totalMs: number;
}

export type VmFailureKind = 'timeout' | 'setup-failed' | 'no-exit-status' | 'qemu-failed';

export class VmError extends Error {
  readonly kind: VmFailureKind;
  /** The message without the output and console tails. */
  readonly summary: string;
  readonly output: string;
  readonly console: string;
  /** Panic/BUG/Oops lines of the console: a panic's headline scrolls out of the tail behind its trace. */
  readonly kernelTrouble: string[];

  constructor(kind: VmFailureKind, message: string, output: string, consoleText: string) {
    const sections = [message];
    const kernelTrouble = consoleText
      .split('\n')
      .filter((line) => /Kernel panic|BUG:|Oops:|general protection fault/.test(line))
      .slice(0, 5);
    if (kernelTrouble.length > 0) sections.push(`--- kernel trouble on the VM console ---\n${kernelTrouble.join('\n')}`);
    if (output.trim() !== '') sections.push(`--- last output of the guest ---\n${tail(output)}`);
    if (consoleText.trim() !== '') sections.push(`--- last lines of the VM console ---\n${tail(consoleText, 30)}`);
    super(sections.join('\n'));
    this.name = 'VmError';
    this.kind = kind;
    this.summary = message;
    this.kernelTrouble = kernelTrouble;
    this.output = output;
    this.console = consoleText;
  }
}

const liveVms = new Set<ChildProcess>();

/** qemu processes started by this process that have not exited yet. */
export function runningVmCount(): number {
  return liveVms.size;
}
let exitHookInstalled = false;

export function qemuMissingMessage(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    try {
      accessSync(path.join(dir || '.', QEMU_BIN), constants.X_OK);
      return undefined;
    } catch {
      // Not in this directory.
    }
  }
  return `${QEMU_BIN} not found on PATH: install it with 'apt-get install -y qemu-system-x86'`;
}

function guestBaseEnv(): Record<string, string> {
  return {
    PATH: `${path.join(repoRoot, 'node_modules', '.bin')}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    HOME: '/root',
    LANG: 'C.UTF-8',
    LVSCARE_IN_VM: '1',
  };
}

function positiveInteger(value: number | string | undefined, fallback: number, what: string): number {
  if (value === undefined || value === '') return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) throw new TypeError(`runInVm: ${what} must be a positive integer, got ${JSON.stringify(value)}`);
  return number;
}

/** Paths go on the kernel command line, which splits at whitespace and has no quoting. */
function checkCommandLinePath(value: string, what: string): string {
  if (!/^\/[\w@%+=:,./-]*$/.test(value)) throw new Error(`runInVm: the ${what} path ${JSON.stringify(value)} has characters the VM's kernel command line cannot carry`);
  return value;
}

export async function runInVm(options: VmRunOptions): Promise<VmRunResult> {
  // Everything is checked before the first side effect.
  const job = { argv: options.argv, env: { ...guestBaseEnv(), ...options.env }, cwd: options.cwd ?? repoRoot };
  validateVmJob(job);
  const timeoutMs = positiveInteger(options.timeoutMs, DEFAULT_VM_TIMEOUT_MS, 'timeoutMs');
  const memoryMb = positiveInteger(options.memoryMb ?? process.env.LVSCARE_VM_MEMORY_MB, 2048, 'memoryMb');
  const cpus = positiveInteger(options.cpus ?? process.env.LVSCARE_VM_CPUS, 2, 'cpus');
  const qemuProblem = qemuMissingMessage();
  if (qemuProblem !== undefined) throw new Error(qemuProblem);
  const kernel = loadCachedKernel();
  checkCommandLinePath(repoRoot, 'repository');
  checkCommandLinePath(kernel.modulesDir, 'kernel modules');
  const initramfs = await ensureInitramfs(kernel);

  const workDir = mkdtempSync(path.join(os.tmpdir(), 'lvscare-vm-'));
  try {
    const jobFile = checkCommandLinePath(path.join(workDir, 'job.sh'), 'job');
    // 0600: the environment may carry secrets.
    writeFileSync(jobFile, renderJobScript(job), { mode: 0o600 });
    return await bootAndRun({ ...options, timeoutMs, memoryMb, cpus, workDir, jobFile, initramfs, vmlinuz: kernel.vmlinuz, modulesDir: kernel.modulesDir });
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

interface BootPlan extends VmRunOptions {
  timeoutMs: number;
  memoryMb: number;
  cpus: number;
  workDir: string;
  jobFile: string;
  initramfs: string;
  vmlinuz: string;
  modulesDir: string;
}

type Channel = 'console' | 'stdout' | 'stderr' | 'control';
const CHANNELS: readonly Channel[] = ['console', 'stdout', 'stderr', 'control'];
const CONSOLE_KEEP_BYTES = 256 * 1024;

/** qemu connects to one unix socket per channel; each server takes that single connection. */
function listenChannel(socketPath: string, onData: (chunk: Buffer) => void): Promise<{ server: net.Server; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    let markClosed: () => void = () => undefined;
    const closed = new Promise<void>((done) => (markClosed = done));
    const server = net.createServer((socket) => {
      server.close();
      socket.on('data', onData);
      socket.on('close', () => markClosed());
      socket.on('error', () => markClosed());
    });
    server.on('error', reject);
    server.listen(socketPath, () => resolve({ server, closed }));
  });
}

async function bootAndRun(plan: BootPlan): Promise<VmRunResult> {
  const started = performance.now();
  let stdout = '';
  let stderr = '';
  let output = '';
  let consoleText = '';
  let controlText = '';
  let readyAt: number | undefined;
  let guestBootS = Number.NaN;
  let exitCode: number | undefined;
  let setupFailure: string | undefined;
  const copyConsole = plan.onConsole ?? (process.env.LVSCARE_VM_CONSOLE === '1' ? (chunk: string) => process.stderr.write(chunk) : undefined);

  const decoders = new Map(CHANNELS.map((channel) => [channel, new StringDecoder('utf8')]));
  const handle = (channel: Channel, text: string): void => {
    if (text === '') return;
    if (channel === 'stdout' || channel === 'stderr') {
      if (channel === 'stdout') stdout += text;
      else stderr += text;
      output += text;
      plan.onOutput?.(text, channel);
    } else if (channel === 'console') {
      consoleText = (consoleText + text).slice(-CONSOLE_KEEP_BYTES);
      copyConsole?.(text);
    } else {
      controlText += text;
      let newline: number;
      while ((newline = controlText.indexOf('\n')) >= 0) {
        const line = controlText.slice(0, newline).trim();
        controlText = controlText.slice(newline + 1);
        const [word, ...rest] = line.split(' ');
        if (word === 'ready') {
          readyAt = performance.now();
          guestBootS = Number(rest[0]);
          plan.onReady?.({ bootMs: readyAt - started, guestBootS });
        } else if (word === 'exit') {
          exitCode = Number(rest[0]);
        } else if (word === 'failed') {
          setupFailure = rest.join(' ');
        }
      }
    }
  };

  const channels = await Promise.all(
    CHANNELS.map((channel) =>
      listenChannel(path.join(plan.workDir, `${channel}.sock`), (chunk) => handle(channel, decoders.get(channel)?.write(chunk) ?? '')),
    ),
  );

  const append = [
    'console=ttyS0',
    'quiet',
    'loglevel=3',
    'panic=-1',
    'random.trust_cpu=on',
    'mitigations=off',
    `lvscare_job=${plan.jobFile}`,
    `lvscare_repo=${repoRoot}`,
    `lvscare_modules=${plan.modulesDir}`,
  ].join(' ');
  const socket = (channel: Channel): string => `socket,id=${channel},path=${path.join(plan.workDir, `${channel}.sock`)}`;
  const args = [
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    // KVM does not work on the machines this runs on (see /work/shared/docs/environment.md).
    // One TCG thread for all vCPUs. With multi-threaded TCG, Node 24 in the guest died now and then
    // (V8 "Check failed: it->second.Size() > offset", SIGTRAP, or SIGSEGV): 3 of 172 start-ups
    // with `-cpu max` with or without AVX, and the CI lost 3 tests of 480 to it. Single-threaded:
    // 0 of 100 start-ups and a clean suite, at the price of running both vCPUs on one host core
    // (start-up ~2x slower when both are busy). V8 writes JIT code on one thread and runs it on
    // another, which is where an emulator race would show. PKU and LA57 stay off (an earlier
    // suspect; harmless). LVSCARE_VM_ACCEL and LVSCARE_VM_CPU override both for experiments.
    '-machine', 'pc', '-accel', vmAccel(), '-cpu', vmCpu(),
    '-smp', String(plan.cpus), '-m', String(plan.memoryMb),
    '-kernel', plan.vmlinuz, '-initrd', plan.initramfs, '-append', append,
    '-chardev', socket('console'), '-serial', 'chardev:console',
    '-device', 'virtio-serial-pci,id=vser0',
    ...(['stdout', 'stderr', 'control'] as const).flatMap((channel) => [
      '-chardev', socket(channel),
      '-device', `virtserialport,bus=vser0.0,chardev=${channel},name=lvscare.${channel}`,
    ]),
    '-fsdev', 'local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap',
    '-device', 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
    '-device', 'virtio-rng-pci',
    '-nic', 'none',
  ];

  const qemu = spawn(QEMU_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  liveVms.add(qemu);
  installExitHook();
  let qemuMessages = '';
  qemu.stdout.setEncoding('utf8').on('data', (chunk: string) => (qemuMessages += chunk));
  qemu.stderr.setEncoding('utf8').on('data', (chunk: string) => (qemuMessages += chunk));

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    qemu.kill('SIGKILL');
  }, plan.timeoutMs);

  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    qemu.on('error', (error) => resolve({ code: null, signal: null, error }));
    qemu.on('close', (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(timer);
  liveVms.delete(qemu);
  // qemu has exited, so its ends of the sockets are closed; drain what is still buffered.
  await Promise.all(channels.map((channel) => channel.closed.catch(() => undefined)));
  for (const channel of channels) channel.server.close();
  for (const channel of CHANNELS) handle(channel, decoders.get(channel)?.end() ?? '');

  const totalMs = performance.now() - started;
  if (timedOut) {
    const phase = readyAt === undefined ? 'while booting' : 'while the command ran';
    throw new VmError('timeout', `VM killed after ${plan.timeoutMs} ms (${phase}): ${formatArgv(plan.argv)}`, output, consoleText);
  }
  if (exit.error !== undefined) throw new VmError('qemu-failed', `cannot start ${QEMU_BIN}: ${exit.error.message}`, output, consoleText);
  if (setupFailure !== undefined) throw new VmError('setup-failed', `VM setup failed: ${setupFailure}`, output, consoleText);
  if (exitCode === undefined || Number.isNaN(exitCode)) {
    const how = exit.signal === null ? `status ${exit.code}` : `signal ${exit.signal}`;
    const detail = qemuMessages.trim() === '' ? '' : `\nqemu said: ${tail(qemuMessages, 10)}`;
    throw new VmError('no-exit-status', `the VM stopped (qemu ${how}) without reporting the command's exit status${detail}`, output, consoleText);
  }
  return {
    code: exitCode,
    stdout,
    stderr,
    output,
    bootMs: (readyAt ?? performance.now()) - started,
    guestBootS,
    totalMs,
  };
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test process that dies must not leave a VM eating the machine's two cores.
  onProcessExit(() => {
    for (const qemu of liveVms) qemu.kill('SIGKILL');
  });
}
