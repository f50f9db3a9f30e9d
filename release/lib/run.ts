/** Runs the build's external tools (git, tar, strip, mmdebstrap, umoci, skopeo) without a shell. */
import { spawnSync } from "node:child_process";

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Bytes for stdin. */
  readonly input?: string | Buffer;
}

/** stdout of `command args...`; throws with the command and its stderr when it fails or is missing. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): string {
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    input: options.input,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error !== undefined) {
    const missing = (result.error as NodeJS.ErrnoException).code === "ENOENT";
    throw new Error(missing ? `${command} is not installed (scripts/setup.sh installs it)` : `${command}: ${result.error.message}`);
  }
  if (result.status !== 0) {
    const why = result.signal !== null ? `killed by ${result.signal}` : `exit status ${result.status}`;
    throw new Error(`${command} ${args.join(" ")}: ${why}: ${result.stderr.trim().split("\n").slice(-5).join(" | ")}`);
  }
  return result.stdout;
}
