// Starts the kernel suite where the plan says (the host, or one VM for all files) and re-creates
// every test it reports as a subtest of the host's npm test, passing or failing as it did there.
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { nestedTestRunnerEnv, tail } from './command.ts';
import type { ReportedError } from './kernel-protocol.ts';
import type { KernelSuitePlan } from './kernel-plan.ts';
import { SuiteCollector } from './kernel-results.ts';
import type { FileResult, ReportedTestNode } from './kernel-results.ts';
import { repoRoot } from './paths.ts';
import { VmError, runInVm } from './vm.ts';

const RUNNER = path.join(repoRoot, 'test', 'harness', 'kernel-suite.ts');
const BOOT_ALLOWANCE_MS = 5 * 60_000;

export interface KernelSuiteRun {
  collector: SuiteCollector;
  /** Resolves when the VM (or host runner) has stopped. */
  done: Promise<void>;
  /** Set once the VM is ready to run the suite. */
  bootMs: number | undefined;
}

/** LVSCARE_* settings travel into the VM (except the opt-out, which only matters on the host). */
function forwardedEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && (name.startsWith('LVSCARE_') || name === 'CI') && name !== 'LVSCARE_SKIP_KERNEL_TESTS') env[name] = value;
  }
  return env;
}

export function startKernelSuite(plan: Exclude<KernelSuitePlan, { kind: 'unavailable' }>): KernelSuiteRun {
  const collector = new SuiteCollector(plan.files);
  const verbose = process.env.LVSCARE_KERNEL_VERBOSE === '1';
  const argv = [process.execPath, RUNNER, '--env', plan.kind, '--file-timeout-s', String(plan.fileTimeoutS), ...plan.files];
  const onStdout = (chunk: string): void => collector.pushStdout(chunk);
  const onStderr = (chunk: string): void => {
    collector.pushStray(chunk);
    if (verbose) process.stderr.write(chunk);
  };
  const suiteRun: KernelSuiteRun = { collector, done: Promise.resolve(), bootMs: undefined };

  if (plan.kind === 'vm') {
    suiteRun.done = runInVm({
      argv,
      cwd: repoRoot,
      env: forwardedEnv(),
      timeoutMs: BOOT_ALLOWANCE_MS + plan.files.length * plan.fileTimeoutS * 1000 + 60_000,
      onOutput: (chunk, stream) => (stream === 'stdout' ? onStdout(chunk) : onStderr(chunk)),
      onReady: (ready) => (suiteRun.bootMs = ready.bootMs),
    }).then(
      (result) => collector.finish(`the suite runner in the VM stopped (status ${result.code}) before this file ended`),
      (error: unknown) => collector.finish(`the VM failed: ${describeVmFailure(error, collector.strayTail())}`),
    );
  } else {
    const child = spawn(argv[0] ?? process.execPath, argv.slice(1), { cwd: repoRoot, env: nestedTestRunnerEnv(process.env), stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8').on('data', onStdout);
    child.stderr.setEncoding('utf8').on('data', onStderr);
    suiteRun.done = new Promise((resolve) => {
      child.on('error', (error) => {
        collector.finish(`cannot start the kernel suite runner: ${error.message}`);
        resolve();
      });
      child.on('close', (code, signal) => {
        collector.finish(`the suite runner stopped (${signal ?? `status ${code}`}) before this file ended`);
        resolve();
      });
    });
  }
  return suiteRun;
}

/** The VM's failure without its stdout (the protocol, already parsed), with the suite's stderr and the console. */
function describeVmFailure(error: unknown, strayTail: string): string {
  if (!(error instanceof VmError)) return error instanceof Error ? error.message : String(error);
  const sections = [error.summary];
  if (error.kernelTrouble.length > 0) sections.push(`--- kernel trouble on the VM console ---\n${error.kernelTrouble.join('\n')}`);
  if (strayTail.trim() !== '') sections.push(`--- last stderr of the suite ---\n${strayTail}`);
  if (error.console.trim() !== '') sections.push(`--- last lines of the VM console ---\n${tail(error.console, 30)}`);
  return sections.join('\n');
}

/** The guest's error, with the guest's stack, as the host test's failure. */
function rebuildError(reported: ReportedError | undefined, fallback: string): Error {
  const error = new Error(reported?.message ?? fallback);
  error.name = reported?.name ?? 'Error';
  if (reported?.stack !== undefined) error.stack = reported.stack;
  return error;
}

function formatDuration(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

async function mirrorNode(t: TestContext, node: ReportedTestNode, where: string): Promise<void> {
  await t.test(node.name, async (sub) => {
    sub.diagnostic(`${where}: ${formatDuration(node.durationMs)}`);
    for (const message of node.diagnostics) sub.diagnostic(message);
    // A skip is not a pass: a kernel test that finds a feature or tool missing must fail and say
    // what to install, so one that skipped (or was left todo) in the guest fails here.
    if (node.skip !== undefined) throw new Error(`skipped in the ${where} (${node.skip || 'no reason given'}): kernel tests do not skip; fail with what to install instead`);
    if (node.todo !== undefined) throw new Error(`marked todo in the ${where} (${node.todo || 'no reason given'}): kernel tests are finished or absent`);
    for (const child of node.children) await mirrorNode(sub, child, where);
    // A failed child already fails this test; anything else (a hook, a timeout, its own assertion) is rethrown.
    if (!node.passed && !node.children.some((child) => !child.passed)) throw rebuildError(node.error, `${node.name} failed in the ${where}`);
  });
}

/** Mirrors one file's tests under `t`, then fails `t` if the file itself did not end properly. */
export async function mirrorFileResult(t: TestContext, result: FileResult, where: string): Promise<void> {
  for (const node of result.tests) await mirrorNode(t, node, where);
  const outputTail = (extra = ''): string => {
    const text = tail(result.output + extra);
    return text === '' ? '' : `\n--- last output of ${result.file} ---\n${text}`;
  };
  if (result.abortedBecause !== undefined) throw new Error(`${result.file}: ${result.abortedBecause}${outputTail()}`);
  t.diagnostic(`${result.file} ran in the ${where} in ${formatDuration(result.durationMs)}`);
  if (result.timedOut) throw new Error(`${result.file} was killed after its time limit (LVSCARE_KERNEL_FILE_TIMEOUT_S) in the ${where}${outputTail()}`);
  if (result.reported === 0) throw new Error(`${result.file} reported no test (exit status ${result.code ?? result.signal})${outputTail()}`);
  if (result.expected !== undefined && result.expected !== result.reported) {
    throw new Error(`${result.file}: node:test counted ${result.expected} tests and suites but ${result.reported} were reported${outputTail()}`);
  }
  const anyFailed = (nodes: ReportedTestNode[]): boolean => nodes.some((node) => !node.passed || anyFailed(node.children));
  if (result.code !== 0 && !anyFailed(result.tests)) {
    throw new Error(`${result.file} exited with ${result.signal ?? `status ${result.code}`} although its tests passed${outputTail()}`);
  }
  if (anyFailed(result.tests)) t.diagnostic(`output of ${result.file}:${outputTail() || ' (none)'}`);
}
