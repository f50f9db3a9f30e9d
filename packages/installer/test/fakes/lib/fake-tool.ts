/**
 * What every fake shares: its name in what it prints, one call-log line per call, and the real
 * tool's exit codes. A fake's entry point is `runFake(tool, main)`; `main` returns the exit code
 * or throws `FakeExit` (a refusal, printed as the real tool would) — anything else is a bug in the
 * fake and exits 125 with the stack, so it can never pass for a refusal.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { CALL_LOG, FAKES_STATE_DIR, type CallRecord, type FakeToolName } from "../contract.ts";

export class FakeExit extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

export function banner(tool: string): string {
  return `FAKE ${tool} (lvscare test double)`;
}

const TOKENS = /\b([a-z0-9]{6})\.[a-z0-9]{16}\b/g;
const WHOLE_TOKEN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;
const SECRET_FLAGS = new Set(["--certificate-key", "--token", "--discovery-token", "--tls-bootstrap-token"]);

const redactTokens = (text: string) => text.replace(TOKENS, "$1.<redacted>");
const redactValue = (value: string) => (WHOLE_TOKEN.test(value) ? redactTokens(value) : "<redacted>");

/** argv as recorded: a bootstrap token keeps its public id, its secret and certificate keys vanish. */
export function redactArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const eq = arg.indexOf("=");
    if (eq > 0 && SECRET_FLAGS.has(arg.slice(0, eq))) {
      out.push(`${arg.slice(0, eq)}=${redactValue(arg.slice(eq + 1))}`);
    } else if (SECRET_FLAGS.has(arg) && i + 1 < argv.length) {
      out.push(arg, redactValue(argv[i + 1] ?? ""));
      i++;
    } else {
      out.push(redactTokens(arg));
    }
  }
  return out;
}

function record(entry: CallRecord): void {
  mkdirSync(FAKES_STATE_DIR, { recursive: true, mode: 0o755 });
  // One write() per line with O_APPEND: concurrent fakes never interleave inside a line.
  appendFileSync(CALL_LOG, `${JSON.stringify(entry)}\n`, { mode: 0o644 });
}

export async function runFake(tool: FakeToolName, main: (argv: string[]) => Promise<number>): Promise<never> {
  const argv = process.argv.slice(2);
  const started = Date.now();
  let code: number;
  try {
    code = await main(argv);
  } catch (error) {
    if (error instanceof FakeExit) {
      if (error.message !== "") process.stderr.write(error.message.endsWith("\n") ? error.message : `${error.message}\n`);
      code = error.code;
    } else {
      process.stderr.write(`${banner(tool)}: internal error in the fake (not a behaviour of the real ${tool}): ${error instanceof Error ? error.stack : String(error)}\n`);
      code = 125;
    }
  }
  try {
    record({
      tool,
      argv: redactArgv(argv),
      cwd: process.cwd(),
      uid: process.getuid?.() ?? -1,
      time: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      exitCode: code,
    });
  } catch (error) {
    process.stderr.write(`${banner(tool)}: could not record the call in ${CALL_LOG}: ${String(error)}\n`);
    code = code === 0 ? 125 : code;
  }
  process.exit(code);
}
