// `npm start`: the failover demo. On a host whose kernel has IPVS (and as root) it runs right here;
// otherwise it boots the project's qemu VM (a Debian kernel with IPVS) and streams the demo from it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { vmProblem } from '../test/harness/kernel-plan.ts';
import { VmError, runInVm } from '../test/harness/vm.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const demo = path.join(here, 'failover-demo.ts');

function fail(message: string): never {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(1);
}

if (process.getuid?.() !== 0) fail('the demo creates network namespaces and IPVS rules: run it as root (sudo npm start)');

const hostHasIpvs = existsSync('/proc/net/ip_vs') || (spawnSync('modprobe', ['ip_vs'], { stdio: 'ignore' }).status === 0 && existsSync('/proc/net/ip_vs'));
if (hostHasIpvs && process.env.LVSCARE_KERNEL_MODE !== 'vm') {
  process.stdout.write('this kernel has IPVS: running the demo here, in network namespaces\n');
  const run = spawnSync(process.execPath, [demo], { stdio: 'inherit' });
  process.exit(run.status ?? 1);
}

const problem = vmProblem();
if (problem !== undefined) fail(`this kernel has no IPVS and the VM cannot start: ${problem}\n(the setup command, 'sudo bash scripts/setup.sh', installs everything)`);
process.stdout.write('this kernel has no IPVS: booting a Debian kernel under qemu (software emulation, ~10-20 s)...\n');
try {
  const result = await runInVm({
    argv: [process.execPath, demo],
    timeoutMs: 15 * 60_000,
    onOutput: (chunk, stream) => void (stream === 'stderr' ? process.stderr : process.stdout).write(chunk),
    onReady: () => process.stdout.write('VM up.\n'),
  });
  process.exit(result.code);
} catch (error) {
  fail(error instanceof VmError ? error.message : String(error));
}
