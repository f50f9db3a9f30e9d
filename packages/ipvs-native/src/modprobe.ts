import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

// Loading a kernel module is a start-up concern (never on the hot path), so a plain exec of
// modprobe is fine here. Newer kernels autoload ip_vs on the genl lookup by themselves; older
// ones need this. We try at most once per process: when it failed once, it will fail again.

const MODPROBE_PATHS = ['/sbin/modprobe', '/usr/sbin/modprobe'];
const attempted = new Map<string, string>();

/**
 * Runs `modprobe <module>` once per process and module. Returns a short description of what
 * happened ("loaded", or why not) for error messages.
 */
export function modprobeOnce(module: string): string {
  const previous = attempted.get(module);
  if (previous !== undefined) return `${previous} (not retried)`;
  const outcome = runModprobe(module);
  attempted.set(module, outcome);
  return outcome;
}

function runModprobe(module: string): string {
  if (!/^[a-z0-9_-]+$/.test(module)) return `refused to load module ${JSON.stringify(module)}`;
  const modprobe = MODPROBE_PATHS.find((path) => existsSync(path));
  if (modprobe === undefined) return 'modprobe is not installed';
  try {
    // An argument vector, no shell: the module name cannot inject anything.
    execFileSync(modprobe, ['--', module], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
    return `modprobe ${module} succeeded`;
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString('utf8').trim();
    return `modprobe ${module} failed${stderr ? `: ${stderr.split('\n')[0]}` : ''}`;
  }
}
