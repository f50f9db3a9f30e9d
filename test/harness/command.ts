// Runs a program without a shell (arguments are never interpreted, so no injection) and
// collects its output; a non-zero exit becomes a CommandError that says what ran and what it printed.
import { spawn } from 'node:child_process';

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Kill the program (SIGKILL) after this long; the promise then rejects. */
  timeoutMs?: number;
  input?: string;
  /** Resolve instead of rejecting on a non-zero exit status. */
  allowFailure?: boolean;
}

export interface RunResult {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  readonly argv: readonly string[];
  readonly result: RunResult | undefined;

  constructor(argv: readonly string[], message: string, result?: RunResult) {
    super(message);
    this.name = 'CommandError';
    this.argv = argv;
    this.result = result;
  }
}

export function formatArgv(argv: readonly string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : JSON.stringify(arg))).join(' ');
}

export function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new TypeError('run: argv is empty'));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    if (options.input !== undefined) child.stdin?.end(options.input);
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new CommandError(argv, `${formatArgv(argv)}: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result: RunResult = { code: code ?? -1, signal, stdout, stderr };
      if (timedOut) {
        reject(new CommandError(argv, `${formatArgv(argv)}: killed after ${options.timeoutMs} ms\n${tail(stdout + stderr)}`, result));
      } else if (result.code !== 0 && !options.allowFailure) {
        const how = signal === null ? `exit status ${result.code}` : `signal ${signal}`;
        reject(new CommandError(argv, `${formatArgv(argv)} failed (${how}): ${tail(stderr || stdout).trim()}`, result));
      } else {
        resolve(result);
      }
    });
  });
}

/** The last lines of a program's output, for error messages that must stay readable. */
export function tail(text: string, maxLines = 40): string {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.slice(-maxLines).join('\n');
}

/**
 * The environment for a `node --test` started from inside a test: node:test marks its child
 * processes with NODE_TEST_CONTEXT, and a nested runner that inherits it ignores --test-reporter
 * and talks node's internal child protocol instead.
 */
export function nestedTestRunnerEnv(env: NodeJS.ProcessEnv, extra: Record<string, string> = {}): Record<string, string> {
  const clean: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && name !== 'NODE_TEST_CONTEXT') clean[name] = value;
  }
  return { ...clean, ...extra };
}
