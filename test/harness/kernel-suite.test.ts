// The kernel-suite machinery on the host, with fixture test files instead of IPVS tests: the
// runner (netns per file, time limit, reporter), the collector that rebuilds test trees, and the
// mirror that re-creates them in node:test. The VM path is exercised by vm.test.ts and kernel.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { nestedTestRunnerEnv } from './command.ts';
import { LineSplitter, decodeLine } from './kernel-protocol.ts';
import type { ReporterRecord } from './kernel-protocol.ts';
import { SuiteCollector, TestTreeBuilder } from './kernel-results.ts';
import type { FileResult, ReportedTestNode } from './kernel-results.ts';
import { ip } from './netns.ts';
import { repoRoot } from './paths.ts';

const SAMPLE = 'test/harness/fixtures/suite-sample.fixture.ts';
const HANG = 'test/harness/fixtures/suite-hang.fixture.ts';
const CRASH = 'test/harness/fixtures/suite-crash.fixture.ts';

function runNode(args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: repoRoot, env: nestedTestRunnerEnv(process.env, env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, stderr, code }));
  });
}

/** The parts of a tree that must survive mirroring. */
interface Shape {
  name: string;
  passed: boolean;
  skip: string | undefined;
  children: Shape[];
}
function shape(nodes: ReportedTestNode[]): Shape[] {
  return nodes.map((node) => ({ name: node.name, passed: node.passed, skip: node.skip, children: shape(node.children) }));
}

async function lvkNamespaces(): Promise<string[]> {
  return (await ip(['netns', 'list'])).split('\n').filter((line) => line.startsWith('lvk-'));
}

test('the runner needs root for its namespaces', () => {
  assert.equal(process.getuid?.(), 0, 'run the tests as root');
});

async function runSuite(files: string[], timeoutS: number): Promise<Map<string, FileResult>> {
  const collector = new SuiteCollector(files);
  const run = await runNode([path.join(repoRoot, 'test/harness/kernel-suite.ts'), '--env', 'host', '--file-timeout-s', String(timeoutS), ...files]);
  collector.pushStdout(run.stdout);
  collector.pushStray(run.stderr);
  collector.finish('runner ended');
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(collector.info?.env, 'host');
  return new Map(await Promise.all(files.map(async (file) => [file, await collector.result(file)] as const)));
}

async function mirrorSuite(files: string[], timeoutS: number): Promise<ReportedTestNode[]> {
  const run = await runNode(
    ['--test', `--test-reporter=${path.join(repoRoot, 'test/harness/kernel-reporter.ts')}`, '--test-reporter-destination=stdout', 'test/harness/fixtures/mirror-driver.fixture.ts'],
    { MIRROR_FIXTURES: files.join(','), MIRROR_TIMEOUT_S: String(timeoutS) },
  );
  const tree = new TestTreeBuilder();
  for (const line of new LineSplitter().push(run.stdout)) {
    const record = decodeLine<ReporterRecord>(line);
    if (record !== undefined) tree.add(record);
  }
  return tree.roots();
}

// Generous for files that finish; short for the file that never does.
const FINISHING_LIMIT_S = 120;
const HANG_LIMIT_S = 3;
let direct: Map<string, FileResult> | undefined;

test('runner: each file in its own namespace, its tests rebuilt as a tree with errors, diagnostics and output', async () => {
  const results = await runSuite([SAMPLE, CRASH], FINISHING_LIMIT_S);
  direct = results;

  const sample = results.get(SAMPLE);
  assert.ok(sample);
  assert.equal(sample.abortedBecause, undefined);
  assert.equal(sample.timedOut, false);
  assert.equal(sample.code, 1, 'node --test exits 1 when a test failed');
  assert.deepEqual(shape(sample.tests), [
    {
      name: 'parent',
      passed: false,
      skip: undefined,
      children: [
        { name: 'child passes', passed: true, skip: undefined, children: [] },
        { name: 'child fails', passed: false, skip: undefined, children: [] },
      ],
    },
    {
      name: 'a suite',
      passed: true,
      skip: undefined,
      children: [
        { name: 'leaf one', passed: true, skip: undefined, children: [] },
        { name: 'leaf two', passed: true, skip: undefined, children: [] },
      ],
    },
    { name: 'reports its namespace', passed: true, skip: undefined, children: [] },
    { name: 'skipped on purpose', passed: true, skip: 'fixture skip', children: [] },
  ]);
  assert.equal(sample.reported, 8);
  assert.equal(sample.expected, 8, "node:test's own count agrees");
  const [parent, suite] = sample.tests;
  assert.equal(suite?.type, 'suite');
  assert.deepEqual(parent?.diagnostics, ['parent diagnostic']);
  assert.deepEqual(suite?.children[0]?.diagnostics, ['leaf diagnostic']);
  const failure = parent?.children[1]?.error;
  assert.match(failure?.message ?? '', /^expected failure\n/);
  assert.equal(failure?.failureType, 'testCodeFailure');
  assert.match(failure?.stack ?? '', /suite-sample\.fixture\.ts:\d+/);
  assert.match(sample.output, /sample stdout line/);
  assert.match(sample.output, /sample stderr line/);

  const crash = results.get(CRASH);
  assert.notEqual(crash?.code, 0);
  assert.match(JSON.stringify(crash?.tests) + (crash?.output ?? ''), /fixture crashed at load time/);

  assert.deepEqual(await lvkNamespaces(), [], 'every per-file namespace was deleted');
});

test('runner: a file that never ends is killed at its time limit, namespace and all', async () => {
  const hang = (await runSuite([HANG], HANG_LIMIT_S)).get(HANG);
  assert.equal(hang?.timedOut, true, 'the hung file was killed');
  assert.equal(hang?.abortedBecause, undefined, 'the runner itself carried on and reported the file');
  assert.deepEqual(await lvkNamespaces(), []);
});

test('mirror: the host re-creates the same tests with the same outcomes and the guest errors', async () => {
  const mirrored = await mirrorSuite([SAMPLE, CRASH], FINISHING_LIMIT_S);
  assert.deepEqual(mirrored.map((node) => node.name), [SAMPLE, CRASH]);
  const [sample, crash] = mirrored;

  assert.ok(direct, 'the runner test ran first');
  // Same tree, same outcomes, except that a skip in the guest is a failure on the host.
  const expected = shape(direct.get(SAMPLE)?.tests ?? []).map((node) => (node.skip === undefined ? node : { ...node, passed: false, skip: undefined }));
  assert.deepEqual(shape(sample?.children ?? []), expected, 'same tree, same outcomes, the skip failed');
  const skipped = sample?.children.find((node) => node.name === 'skipped on purpose');
  assert.match(skipped?.error?.message ?? '', /^skipped in the host \(fixture skip\): kernel tests do not skip/);
  assert.equal(sample?.passed, false);
  const childFails = sample?.children[0]?.children[1];
  assert.match(childFails?.error?.message ?? '', /^expected failure\n[^]*'host' !== 'not-this'/, "the guest's assertion message");
  assert.match(childFails?.error?.stack ?? '', /suite-sample\.fixture\.ts:\d+/, "the guest's stack");
  assert.ok(sample?.children[1]?.children[0]?.diagnostics.includes('leaf diagnostic'), 'diagnostics carried over');
  assert.equal(crash?.passed, false);
  assert.deepEqual(await lvkNamespaces(), []);
});

test('mirror: a file killed at its time limit fails on the host with that reason', async () => {
  const [hang] = await mirrorSuite([HANG], HANG_LIMIT_S);
  assert.equal(hang?.passed, false);
  assert.match(hang?.error?.message ?? '', /killed after its time limit/);
  assert.deepEqual(await lvkNamespaces(), []);
});
