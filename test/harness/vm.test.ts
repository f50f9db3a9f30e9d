// runInVm and the vm-run CLI against the real cached kernel under qemu (three boots).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { SKIP_ENV, vmProblem } from './kernel-plan.ts';
import { repoRoot } from './paths.ts';
import { VmError, runInVm, runningVmCount } from './vm.ts';
import { startKernelSuite } from './kernel-mirror.ts';
import { loadCachedKernel } from './vm-kernel.ts';

const fixtures = path.join(repoRoot, 'test', 'harness', 'fixtures');

if (process.env[SKIP_ENV] === '1') {
  test(`VM HARNESS TESTS DID NOT RUN (${SKIP_ENV}=1)`, (t) => {
    const message = `!!! ${SKIP_ENV}=1: runInVm was not tested; no VM was booted. !!!`;
    t.diagnostic(message);
    process.stderr.write(`${message}\n`);
  });
} else {
  test('runInVm refuses a bad job before booting anything', async () => {
    await assert.rejects(runInVm({ argv: [] }), /must name a program/);
    await assert.rejects(runInVm({ argv: ['true'], env: { 'NOT A NAME': 'x' } }), /bad environment variable name/);
    await assert.rejects(runInVm({ argv: ['true'], timeoutMs: -5 }), /timeoutMs must be a positive integer/);
    assert.equal(runningVmCount(), 0);
  });

  test('the VM can run here', () => {
    const problem = vmProblem();
    assert.equal(problem, undefined, `${problem}: run 'bash scripts/vm/fetch-kernel.sh' (or 'bash scripts/setup.sh')`);
  });

  test('runInVm: the command runs on the IPVS kernel with its argv, env and cwd; stdout, stderr and status come back', async () => {
    const kernel = loadCachedKernel();
    const writeProbe = path.join(repoRoot, '.cache', `guest-write-${process.pid}.txt`);
    const chunks: string[] = [];
    const result = await runInVm({
      argv: ['node', path.join(fixtures, 'vm-probe.fixture.ts'), writeProbe, 'two words', "it's"],
      env: { PROBE_VALUE: 'from the host $HOME' },
      cwd: fixtures,
      onOutput: (chunk) => chunks.push(chunk),
    });
    assert.equal(result.code, 3);
    assert.deepEqual(JSON.parse(result.stdout), {
      release: kernel.release,
      ipvs: true,
      node: process.version,
      cwd: fixtures,
      args: ['two words', "it's"],
      probeEnv: 'from the host $HOME',
      inVm: '1',
      wrote: true,
    });
    assert.equal(result.stderr, 'probe on stderr\n', 'stderr apart, without kernel messages');
    assert.equal(chunks.join(''), result.output, 'onOutput saw everything, in order');
    assert.ok(Number.isFinite(result.bootMs) && result.bootMs > 0);
    assert.equal(existsSync(writeProbe), false, "the guest's writes stay in the VM");
    assert.equal(runningVmCount(), 0, 'qemu has exited');
  });

  test('runInVm: a command that outlives its time limit gets its VM killed and a timeout error', async () => {
    await assert.rejects(runInVm({ argv: ['sh', '-c', 'echo started; exec sleep 1000'], timeoutMs: 15_000 }), (error: unknown) => {
      assert.ok(error instanceof VmError);
      assert.equal(error.kind, 'timeout');
      assert.match(error.message, /VM killed after 15000 ms/);
      return true;
    });
    assert.equal(runningVmCount(), 0, 'qemu was killed');
  });

  test('kernel suite in the VM: a kernel crash fails the file that caused it and the files after it, with the console tail', async () => {
    const ok = 'test/harness/fixtures/suite-sample.fixture.ts';
    const panic = 'test/harness/fixtures/suite-kernel-panic.fixture.ts';
    const after = 'test/harness/fixtures/suite-hang.fixture.ts';
    const run = startKernelSuite({ kind: 'vm', files: [ok, panic, after], fileTimeoutS: 300, kernel: loadCachedKernel() });
    const [okResult, panicResult, afterResult] = await Promise.all([ok, panic, after].map((file) => run.collector.result(file)));
    await run.done;
    assert.equal(okResult?.abortedBecause, undefined, 'the file before the crash has its own results');
    assert.equal(okResult?.reported, 8);
    assert.match(panicResult?.abortedBecause ?? '', /the VM failed: the VM stopped \(qemu status 0\) without reporting/);
    assert.match(panicResult?.abortedBecause ?? '', /Kernel panic/, 'the console tail shows why');
    assert.match(afterResult?.abortedBecause ?? '', /the VM failed/);
    assert.equal(runningVmCount(), 0);
  });

  test('vm-run CLI: output streamed, exit status propagated', async () => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'test/harness/vm-run.ts'), '--env', 'GREETING=hi there', '--', 'sh', '-c', 'echo "$GREETING"; echo oops >&2; exit 5'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 5);
    assert.equal(stdout, 'hi there\n');
    assert.equal(stderr, 'oops\n');
  });

  test('vm-run CLI: bad usage exits 2 without booting', async () => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'test/harness/vm-run.ts'), 'sh'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    assert.equal(await new Promise((resolve) => child.on('close', resolve)), 2);
    assert.match(stderr, /missing "--" before the command/);
  });
}
