// The real-kernel suite: every test/kernel/*.kernel.ts file, run by node:test where a kernel with
// IPVS is (this host if it has IPVS and we are root, otherwise one qemu VM for all files, see
// test/README.md), each in a fresh network namespace, with every test mirrored here so that the
// host's npm test counts and reports them.
//
// LVSCARE_SKIP_KERNEL_TESTS=1 skips the suite knowingly (one passing test says loudly that it did not run).
import { after, test } from 'node:test';
import { SKIP_ENV, planKernelSuite } from './harness/kernel-plan.ts';
import { mirrorFileResult, startKernelSuite } from './harness/kernel-mirror.ts';
import type { KernelSuiteRun } from './harness/kernel-mirror.ts';
import { prepareImageBundle } from './kernel/lib/image-bundle.ts';

const plan = planKernelSuite();

if (process.env[SKIP_ENV] === '1') {
  test(`KERNEL SUITE DID NOT RUN (${SKIP_ENV}=1)`, (t) => {
    const message =
      `!!! ${SKIP_ENV}=1: the real-kernel suite was skipped; ${plan.files.length} kernel test file(s) ` +
      `(${plan.files.join(', ') || 'none'}) were NOT tested. IPVS behaviour is unverified by this run. !!!`;
    t.diagnostic(message);
    process.stderr.write(`${message}\n`);
  });
} else if (plan.kind === 'unavailable') {
  test('kernel suite', () => {
    throw new Error(plan.reason);
  });
} else {
  let suiteStart: Promise<KernelSuiteRun> | undefined;
  let removeImageBundle: () => void = () => undefined;
  const where = plan.kind === 'vm' ? `VM (Debian ${plan.kernel.release}, qemu TCG)` : 'host';
  // One top-level test per file, run in order; the first one starts the VM for all of them.
  for (const file of plan.files) {
    test(file, async (t) => {
      // The container test's image is prepared on the host before the VM boots (it cannot build there).
      suiteStart ??= prepareImageBundle(plan.files).then((cleanup) => {
        removeImageBundle = cleanup;
        return startKernelSuite(plan);
      });
      const suiteRun = await suiteStart;
      const result = await suiteRun.collector.result(file);
      if (suiteRun.bootMs !== undefined && file === plan.files[0]) {
        t.diagnostic(`VM ready ${(suiteRun.bootMs / 1000).toFixed(1)} s after qemu started`);
      }
      await mirrorFileResult(t, result, where);
    });
  }
  after(async () => {
    await (await suiteStart)?.done;
    removeImageBundle();
  });
}
