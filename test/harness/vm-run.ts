// Runs one command in the kernel-suite VM (a real Debian kernel with IPVS under qemu), with its
// output streamed live and its exit status as this program's own. For benchmarks and demos.
//
//   npx node test/harness/vm-run.ts [--timeout SECONDS] [--cwd DIR] [--env NAME=VALUE]... \
//       [--memory MB] [--cpus N] [--timing] -- COMMAND [ARG]...
//
// Exit status: the command's; 124 when the VM ran out of time; 123 when the VM failed otherwise;
// 2 for bad usage. --timing prints the boot time to stderr. LVSCARE_VM_CONSOLE=1 shows the kernel console.
import { parseArgs } from 'node:util';
import { VmError, runInVm } from './vm.ts';

const USAGE = 'usage: vm-run.ts [--timeout SECONDS] [--cwd DIR] [--env NAME=VALUE]... [--memory MB] [--cpus N] [--timing] -- COMMAND [ARG]...';

function usage(problem: string): never {
  process.stderr.write(`vm-run: ${problem}\n${USAGE}\n`);
  process.exit(2);
}

const separator = process.argv.indexOf('--', 2);
if (separator < 0) usage('missing "--" before the command');
const command = process.argv.slice(separator + 1);
if (command.length === 0) usage('no command after "--"');

let values;
try {
  ({ values } = parseArgs({
    args: process.argv.slice(2, separator),
    options: {
      timeout: { type: 'string' },
      cwd: { type: 'string' },
      env: { type: 'string', multiple: true },
      memory: { type: 'string' },
      cpus: { type: 'string' },
      timing: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (error) {
  usage(error instanceof Error ? error.message : String(error));
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

function positive(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const number = Number(text);
  if (!Number.isFinite(number) || number <= 0) usage(`${what} must be a positive number, got ${JSON.stringify(text)}`);
  return number;
}

const env: Record<string, string> = {};
for (const assignment of values.env ?? []) {
  const equals = assignment.indexOf('=');
  if (equals <= 0) usage(`--env wants NAME=VALUE, got ${JSON.stringify(assignment)}`);
  env[assignment.slice(0, equals)] = assignment.slice(equals + 1);
}
const timeoutS = positive(values.timeout, '--timeout');

try {
  const result = await runInVm({
    argv: command,
    env,
    cwd: values.cwd === undefined ? process.cwd() : (await import('node:path')).resolve(values.cwd),
    timeoutMs: timeoutS === undefined ? undefined : Math.round(timeoutS * 1000),
    memoryMb: positive(values.memory, '--memory'),
    cpus: positive(values.cpus, '--cpus'),
    onOutput: (chunk, stream) => (stream === 'stdout' ? process.stdout : process.stderr).write(chunk),
  });
  if (values.timing) {
    process.stderr.write(
      `vm-run: guest ready ${(result.bootMs / 1000).toFixed(1)} s after qemu started (guest uptime ${result.guestBootS.toFixed(1)} s); ` +
        `whole run ${(result.totalMs / 1000).toFixed(1)} s\n`,
    );
  }
  process.exitCode = result.code;
} catch (error) {
  if (error instanceof VmError) {
    process.stderr.write(`vm-run: ${error.message}\n`);
    process.exitCode = error.kind === 'timeout' ? 124 : 123;
  } else {
    process.stderr.write(`vm-run: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 123;
  }
}
