// Runs kernel test files (test/kernel/*.kernel.ts) where the IPVS kernel is — inside the VM, or
// on a host that has IPVS — each file as `node --test` in a fresh network namespace with its own
// time limit, and prints the results as protocol lines (kernel-protocol.ts) on stdout.
//
//   node test/harness/kernel-suite.ts --env vm|host [--file-timeout-s SECONDS] FILE...
//
// test/kernel.test.ts starts this; run it by hand to see the raw protocol.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { nestedTestRunnerEnv, run } from './command.ts';
import { LineSplitter, decodeLine, encodeRecord } from './kernel-protocol.ts';
import type { ReporterRecord, SuiteRecord } from './kernel-protocol.ts';
import { createNetns } from './netns.ts';
import { onProcessExit } from './process-cleanup.ts';
import { repoRoot, vmScriptsDir } from './paths.ts';

const REPORTER = path.join(repoRoot, 'test', 'harness', 'kernel-reporter.ts');
const RUNNER_OUTPUT_KEEP = 64 * 1024;

function emit(record: SuiteRecord): void {
  process.stdout.write(encodeRecord(record));
}

/** The module list the VM loads; on a host with IPVS, load what can be loaded so schedulers exist. */
async function loadHostModules(): Promise<void> {
  const list = readFileSync(path.join(vmScriptsDir, 'kernel-modules.txt'), 'utf8')
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean);
  await run(['modprobe', '-a', ...list], { allowFailure: true }).catch(() => undefined);
}

interface FileOutcome {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  runnerOutput: string;
}

async function runFile(file: string, env: 'vm' | 'host', timeoutMs: number): Promise<FileOutcome> {
  let runnerOutput = '';
  const note = (text: string): void => {
    runnerOutput = (runnerOutput + text).slice(-RUNNER_OUTPUT_KEEP);
  };
  let netns;
  try {
    netns = await createNetns('lvk');
  } catch (error) {
    note(`cannot create the test's network namespace: ${error instanceof Error ? error.message : String(error)}\n`);
    return { code: null, signal: null, timedOut: false, runnerOutput };
  }
  try {
    const argv = netns.wrap([
      process.execPath,
      '--test',
      '--test-force-exit',
      `--test-reporter=${REPORTER}`,
      '--test-reporter-destination=stdout',
      file,
    ]);
    const [program, ...args] = argv;
    const child = spawn(program ?? '', args, {
      cwd: repoRoot,
      env: nestedTestRunnerEnv(process.env, { LVSCARE_KERNEL_ENV: env, LVSCARE_KERNEL_NETNS: netns.name }),
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: a timeout kills the test file and everything it started.
      detached: true,
    });
    const lines = new LineSplitter();
    const forward = (line: string): void => {
      const record = decodeLine<ReporterRecord>(line);
      if (record === undefined) note(`${line}\n`);
      else emit({ kind: 'report', file, record });
    };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => lines.push(chunk).forEach(forward));
    child.stderr.setEncoding('utf8').on('data', note);
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const forgetKill = onProcessExit(killGroup);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    const exit = await new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      child.on('error', (error) => {
        note(`cannot start node --test: ${error.message}\n`);
        resolve({ code: null, signal: null });
      });
      child.on('close', (code, signal) => resolve({ code, signal }));
    });
    clearTimeout(timer);
    forgetKill();
    lines.end().forEach(forward);
    return { ...exit, timedOut, runnerOutput };
  } finally {
    await netns.delete().catch((error: unknown) => note(`cannot delete namespace ${netns.name}: ${String(error)}\n`));
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { env: { type: 'string' }, 'file-timeout-s': { type: 'string' } },
  });
  const env = values.env;
  if (env !== 'vm' && env !== 'host') throw new Error('--env must be vm or host');
  const timeoutS = Number(values['file-timeout-s'] ?? '600');
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new Error('--file-timeout-s must be a positive number');
  if (positionals.length === 0) throw new Error('no kernel test files given');
  const files = positionals.map((file) => path.relative(repoRoot, path.resolve(repoRoot, file)));
  for (const file of files) {
    if (!existsSync(path.join(repoRoot, file))) throw new Error(`kernel test file not found: ${file}`);
  }
  if (process.getuid?.() !== 0) throw new Error('the kernel suite runs as root (network namespaces, IPVS)');

  if (env === 'host') await loadHostModules();
  emit({ kind: 'suite-start', env, kernelRelease: os.release(), files });
  for (const file of files) {
    emit({ kind: 'file-start', file });
    const started = performance.now();
    const outcome = await runFile(file, env, timeoutS * 1000);
    emit({ kind: 'file-end', file, ...outcome, durationMs: performance.now() - started });
  }
  emit({ kind: 'suite-end' });
}

main().catch((error: unknown) => {
  process.stderr.write(`kernel-suite: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
});
