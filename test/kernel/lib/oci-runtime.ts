// Runs an OCI runtime spec with Debian's runc or crun, as containerd would: `run` in the
// foreground (its output is the container's), `kill` to stop, `exec` to look inside, `delete`.
// Every container gets a private state directory and cgroup, so concurrent test runs never meet.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, type RunResult } from '../../harness/command.ts';
import { spawnBackground, type BackgroundProcess, type ExitStatus } from '../../harness/netns.ts';
import type { OciSpec } from './pod-to-oci.ts';

export const RUNTIMES = ['runc', 'crun'] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

/** Fails with what to install when the runtime is missing or broken. */
export function requireRuntime(runtime: RuntimeName): string {
  const probe = spawnSync(runtime, ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(`${runtime} is not usable (${probe.error?.message ?? probe.stderr.trim()}): install it with 'apt-get install -y ${runtime}' (scripts/setup.sh does)`);
  }
  return probe.stdout.split('\n')[0] ?? runtime;
}

/**
 * The kernel suite runs each file under `ip netns exec`, which mounts a fresh /sys in a mount
 * namespace of its own and so loses /sys/fs/cgroup; the runtimes need it back. The mount stays in
 * that private namespace.
 */
export async function ensureCgroupMount(): Promise<void> {
  const mounted = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => / \/sys\/fs\/cgroup .* - cgroup2? /.test(line));
  if (!mounted) await run(['mount', '-t', 'cgroup2', 'cgroup2', '/sys/fs/cgroup']);
}

/** The cgroup v2 parent every container of this process goes under (removed by `removeCgroupParent`). */
export function cgroupParent(): string {
  return `/lvscare-test-${process.pid}`;
}

export function removeCgroupParent(): void {
  try {
    rmdirSync(path.join('/sys/fs/cgroup', cgroupParent()));
  } catch {
    // Never created, or the runtime's cgroup v1 layout; nothing of ours is left in it either way.
  }
}

export class OciContainer {
  readonly runtime: RuntimeName;
  readonly id: string;
  readonly bundle: string;
  readonly process: BackgroundProcess;
  private readonly stateRoot: string;

  private constructor(runtime: RuntimeName, id: string, bundle: string, stateRoot: string, child: BackgroundProcess) {
    this.runtime = runtime;
    this.id = id;
    this.bundle = bundle;
    this.stateRoot = stateRoot;
    this.process = child;
  }

  /** Writes the spec into a fresh bundle directory and starts `RUNTIME run` in the foreground. */
  static start(runtime: RuntimeName, spec: OciSpec, name: string): OciContainer {
    const bundle = mkdtempSync(path.join(os.tmpdir(), `lvscare-${runtime}-${process.pid}-`));
    const stateRoot = path.join(bundle, 'state');
    mkdirSync(stateRoot);
    writeFileSync(path.join(bundle, 'config.json'), `${JSON.stringify(spec, null, 2)}\n`);
    const id = `${name}-${process.pid}`;
    const child = spawnBackground([runtime, '--root', stateRoot, 'run', '--bundle', bundle, id], { maxOutputBytes: 4 << 20 });
    return new OciContainer(runtime, id, bundle, stateRoot, child);
  }

  get spec(): OciSpec {
    return JSON.parse(readFileSync(path.join(this.bundle, 'config.json'), 'utf8')) as OciSpec;
  }

  output(): string {
    return this.process.output();
  }

  /** A program inside the running container (`RUNTIME exec`), with the container's capabilities. */
  exec(argv: readonly string[], env: readonly string[] = []): Promise<RunResult> {
    return run([this.runtime, '--root', this.stateRoot, 'exec', ...env.flatMap((entry) => ['--env', entry]), this.id, ...argv], { allowFailure: true, timeoutMs: 120_000 });
  }

  /** What kubelet does to stop a pod: SIGTERM to the container's init, then waits for it to exit. */
  async stop(timeoutMs = 60_000): Promise<ExitStatus> {
    await run([this.runtime, '--root', this.stateRoot, 'kill', this.id, 'TERM'], { allowFailure: true, timeoutMs: 30_000 });
    const timer = setTimeout(() => void run([this.runtime, '--root', this.stateRoot, 'kill', this.id, 'KILL'], { allowFailure: true }), timeoutMs);
    try {
      return await this.process.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills what is left and removes the container and its bundle; safe to call twice. */
  async destroy(): Promise<void> {
    if (!(await this.hasExited())) await this.stop(10_000);
    await run([this.runtime, '--root', this.stateRoot, 'delete', '--force', this.id], { allowFailure: true, timeoutMs: 30_000 });
    rmSync(this.bundle, { recursive: true, force: true });
  }

  private async hasExited(): Promise<boolean> {
    const raced = await Promise.race([this.process.exited.then(() => true), new Promise<boolean>((resolve) => setImmediate(() => resolve(false)))]);
    return raced;
  }
}
