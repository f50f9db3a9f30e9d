/**
 * A host we talk to over one reused SSH connection: run a command (argv, quoted once), upload a
 * file, read a file, replace a file atomically. Commands run as root: directly for a root login,
 * through `sudo -n`, or through `sudo -S` with the password written to sudo only when sudo asks
 * for it (never on a command line, never to the command). Every command carries a timeout that
 * is enforced on the host (`timeout` kills the command's whole process group), and nothing is
 * ever re-run after a failure: only connecting is retried.
 */
import { createHash, randomBytes } from "node:crypto";
import { posix } from "node:path";
import type { ClientChannel } from "ssh2";
import type { ExecChannel } from "./connection.ts";
import type { LogLevel } from "./logger.ts";
import type { SshConnection } from "./connection.ts";
import type { SshCredentials } from "./credentials.ts";
import { RemoteCommandError, SshError } from "./errors.ts";
import type { Redactor } from "./redact.ts";
import { CHECKSUM_MISMATCH_STATUS, FINISH_UPLOAD, MISSING_FILE_STATUS, PREPARE_UPLOAD, READ_FILE, TARGET_IS_DIRECTORY_STATUS, WRITE_FILE } from "./remote-scripts.ts";
import { sftpCall, sftpWriteNewFile, type SftpWriteOptions, type UploadSource } from "./sftp-write.ts";
import { checkArgv, shellCommand } from "./shell-quote.ts";
import { checkMode, checkOwner, checkRemotePath, type SshTarget } from "./targets.ts";

export interface RunOptions {
  readonly stdin?: string | Buffer;
  /** Default: the pool's command timeout. `Infinity`: none. */
  readonly timeoutMs?: number;
  /** Run as root (directly for a root login, through sudo otherwise). Default true; false runs as the login user. */
  readonly sudo?: boolean;
  /** Exit statuses that are not an error. Default [0]. */
  readonly allowExitCodes?: readonly number[];
  /** Each complete line of output as it arrives (already redacted). */
  readonly onOutputLine?: (line: string, stream: "stdout" | "stderr") => void;
}

export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface FileOptions {
  readonly mode: number;
  /** `user` or `user:group` for chown; default: left as created (root for a root login or sudo). */
  readonly owner?: string;
}

export interface UploadOptions extends FileOptions {
  readonly onProgress?: (sent: number, total: number) => void;
}

/** What the lifecycle code sees of a host. */
export interface RemoteHost {
  /** The host as given to the pool, canonical (`192.168.0.2`, `[fd00::2]:2222`): the prefix of its log lines. */
  readonly address: string;
  readonly target: SshTarget;
  /** Connects now (commands connect on first use anyway); rejects with an SshError. */
  connect(): Promise<void>;
  run(argv: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** Uploads over SFTP to a temporary next to the target, sha256-checked on the host, then renamed. Skipped when the host already has the same bytes. */
  upload(local: string | Buffer, remotePath: string, options: UploadOptions): Promise<{ skipped: boolean }>;
  /** The file's bytes, or undefined if it does not exist. Read as root. */
  readFile(remotePath: string): Promise<Buffer | undefined>;
  /** Replaces a (small) file atomically; `changed: false` when it already had this content (mode and owner still applied). */
  writeFileAtomic(remotePath: string, content: string | Buffer, options: FileOptions): Promise<{ changed: boolean }>;
}

/** What a host needs from its pool. */
export interface HostContext {
  readonly credentials: SshCredentials;
  readonly redactor: Redactor;
  readonly commandTimeoutMs: number;
  readonly sftpWrite: SftpWriteOptions;
  openConnection(target: SshTarget): Promise<SshConnection>;
  localSha256(path: string): Promise<string>;
  log(level: LogLevel, host: string, message: string): void;
}

// Seconds between timeout's TERM and its KILL, and extra time the client waits after that.
const KILL_AFTER_S = 5;
const CLIENT_GRACE_MS = 10_000;
const MAX_OUTPUT_BYTES = 256 * 1024 * 1024;
const SCRIPT_TIMEOUT_MS = 10 * 60_000;
/** Contents up to this size go through one command's stdin; larger ones through SFTP. */
const STDIN_WRITE_LIMIT = 8 * 1024 * 1024;

type SudoMode = "root" | "nopasswd" | "password";

interface RawResult {
  readonly exitCode: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

interface Execution {
  readonly argv: readonly string[];
  readonly stdin: Buffer | undefined;
  readonly timeoutMs: number;
  readonly sudo: SudoMode | "none";
  readonly onOutputLine: RunOptions["onOutputLine"];
  /** How logs and errors show the command, when not as argv (our scripts show their name). */
  readonly display?: string;
}

export class SshHost implements RemoteHost {
  readonly target: SshTarget;
  readonly #context: HostContext;
  #connection: SshConnection | undefined;
  #connecting: Promise<SshConnection> | undefined;
  #sudoMode: Promise<SudoMode> | undefined;
  #home: Promise<string> | undefined;
  #closed = false;

  constructor(target: SshTarget, context: HostContext) {
    this.target = target;
    this.#context = context;
  }

  get address(): string {
    return this.target.label;
  }

  async connect(): Promise<void> {
    await this.#connected();
  }

  async #connected(): Promise<SshConnection> {
    if (this.#closed) throw new SshError(this.address, "disconnected", "this host's connection was closed by the pool");
    if (this.#connection !== undefined && !this.#connection.closed) return this.#connection;
    this.#connecting ??= this.#context.openConnection(this.target).then(
      (connection) => {
        this.#connection = connection;
        this.#connecting = undefined;
        return connection;
      },
      (error: unknown) => {
        this.#connecting = undefined;
        throw error;
      },
    );
    return this.#connecting;
  }

  /** The current connection, for tests that cut it to interrupt a transfer. */
  get connection(): SshConnection | undefined {
    return this.#connection;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const connection = this.#connection ?? (await this.#connecting?.catch(() => undefined));
    await connection?.close();
  }

  async run(argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    const raw = await this.#execute(argv, options);
    const result = { exitCode: raw.exitCode, stdout: raw.stdout.toString("utf8"), stderr: raw.stderr };
    const allowed = options.allowExitCodes ?? [0];
    if (!allowed.includes(result.exitCode)) {
      const stderrTail = lastLines(result.stderr, 5);
      const { redactor } = this.#context;
      const message = redactor.redact(`\`${describeArgv(argv)}\` exited with status ${result.exitCode}${stderrTail === "" ? "" : `: ${stderrTail}`}`);
      // An error gets logged and printed: its copy of the output is redacted too.
      throw new RemoteCommandError(this.address, message, { exitCode: result.exitCode, stdout: redactor.redact(result.stdout), stderr: redactor.redact(result.stderr) });
    }
    return result;
  }

  async #execute(argv: readonly string[], options: RunOptions, display?: string): Promise<RawResult> {
    checkArgv(argv);
    const sudo = options.sudo === false ? "none" : await this.#sudo();
    const stdin = options.stdin === undefined ? undefined : Buffer.from(options.stdin);
    const timeoutMs = options.timeoutMs ?? this.#context.commandTimeoutMs;
    return this.#executeAs({ argv, stdin, timeoutMs, sudo, onOutputLine: options.onOutputLine, ...(display === undefined ? {} : { display }) });
  }

  async #executeAs(execution: Execution): Promise<RawResult> {
    const { argv, timeoutMs } = execution;
    if (!(timeoutMs > 0)) throw new RangeError(`command timeout must be positive, got ${timeoutMs}`);
    const timed = Number.isFinite(timeoutMs) ? ["timeout", "-k", String(KILL_AFTER_S), seconds(timeoutMs), ...argv] : [...argv];
    const gate = execution.sudo === "password" ? new SudoPasswordGate(this.#sudoPassword()) : undefined;
    const final = execution.sudo === "nopasswd" ? ["sudo", "-n", "--", ...timed] : gate !== undefined ? gate.wrap(timed) : timed;
    const label = execution.display ?? describeArgv(argv);
    this.#context.log("debug", this.address, this.#context.redactor.redact(`$ ${label}`));

    const connection = await this.#connected();
    const started = Date.now();
    const outcome = await this.#collect(await connection.exec(shellCommand(final)), execution, gate, timeoutMs);
    const elapsed = Date.now() - started;

    if (gate?.refused === true) {
      throw new SshError(this.address, "sudo", `sudo refused the password for user ${this.#context.credentials.user}`);
    }
    if (outcome.exitCode === undefined) {
      if (outcome.clientTimedOut) throw this.#timeoutError(label, timeoutMs);
      throw new SshError(this.address, "disconnected", this.#context.redactor.redact(`the connection closed while \`${label}\` was running; it may have run in part and is not retried`));
    }
    const timedOut = Number.isFinite(timeoutMs) && (outcome.exitCode === 124 || outcome.exitCode === 128 + 9) && elapsed >= timeoutMs;
    if (timedOut) throw this.#timeoutError(label, timeoutMs);
    return { exitCode: outcome.exitCode, stdout: outcome.stdout, stderr: outcome.stderr };
  }

  #timeoutError(label: string, timeoutMs: number): SshError {
    return new SshError(this.address, "command-timeout", this.#context.redactor.redact(`\`${label}\` did not finish within ${seconds(timeoutMs)} s and was killed on the host`));
  }

  #collect(
    { channel, closed, exitStatus }: ExecChannel,
    execution: Execution,
    gate: SudoPasswordGate | undefined,
    timeoutMs: number,
  ): Promise<{ exitCode: number | undefined; stdout: Buffer; stderr: string; clientTimedOut: boolean }> {
    const { redactor } = this.#context;
    return new Promise((resolve, reject) => {
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let size = 0;
      let clientTimedOut = false;
      let failure: Error | undefined;
      const lines = { stdout: new LineSplitter(), stderr: new LineSplitter() };
      const redactLine = { stdout: redactor.lineRedactor(), stderr: redactor.lineRedactor() };
      const emit = (stream: "stdout" | "stderr", chunk: Buffer | undefined) => {
        if (execution.onOutputLine === undefined) return;
        for (const line of chunk === undefined ? lines[stream].end() : lines[stream].push(chunk)) execution.onOutputLine(redactLine[stream](line), stream);
      };
      const take = (sink: Buffer[], chunk: Buffer, stream: "stdout" | "stderr") => {
        size += chunk.length;
        if (size > MAX_OUTPUT_BYTES) {
          failure ??= new SshError(this.address, "command-failed", `\`${describeArgv(execution.argv)}\` wrote more than ${MAX_OUTPUT_BYTES} bytes of output`);
          channel.close();
          return;
        }
        sink.push(chunk);
        emit(stream, chunk);
      };

      const deadline = Number.isFinite(timeoutMs)
        ? setTimeout(() => {
            // The host's `timeout` should have ended it already: the host or the link is stuck.
            clientTimedOut = true;
            channel.signal("KILL");
            channel.close();
          }, timeoutMs + KILL_AFTER_S * 1000 + CLIENT_GRACE_MS)
        : undefined;

      channel.on("data", (chunk: Buffer) => take(stdout, chunk, "stdout"));
      channel.stderr.on("data", (chunk: Buffer) => {
        const passed = gate === undefined ? chunk : gate.filterStderr(chunk, channel, execution.stdin);
        if (passed.length > 0) take(stderr, passed, "stderr");
      });
      channel.on("error", (error: Error) => {
        failure ??= error;
      });
      // ssh2 closes the channel after stdout ended; stderr ends on its own schedule.
      const stderrEnded = new Promise<void>((resolveEnded) => {
        if (channel.stderr.readableEnded) resolveEnded();
        channel.stderr.once("end", resolveEnded).once("close", resolveEnded);
      });
      void Promise.all([closed, stderrEnded]).then(() => {
        clearTimeout(deadline);
        const unanswered = gate?.leftover();
        if (unanswered !== undefined && unanswered.length > 0) stderr.push(unanswered);
        emit("stdout", undefined);
        emit("stderr", undefined);
        if (failure !== undefined && !(failure instanceof SshError)) failure = new SshError(this.address, "disconnected", failure.message, { cause: failure });
        if (failure !== undefined) return reject(failure);
        const exit = exitStatus();
        const exitCode = exit === undefined ? undefined : (exit.code ?? 128 + signalNumber(exit.signal));
        resolve({ exitCode, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString("utf8"), clientTimedOut });
      });

      if (gate === undefined) channel.end(execution.stdin);
    });
  }

  #sudoPassword(): string {
    const password = this.#context.credentials.sudoPassword;
    if (password === undefined) throw new SshError(this.address, "sudo", "sudo needs a password and none was given");
    return password;
  }

  /** How this login becomes root, found out once per host. */
  #sudo(): Promise<SudoMode> {
    this.#sudoMode ??= this.#detectSudo().catch((error: unknown) => {
      this.#sudoMode = undefined; // asked again next time: the cause may have been the connection
      throw error;
    });
    return this.#sudoMode;
  }

  async #detectSudo(): Promise<SudoMode> {
    const { user, sudoPassword } = this.#context.credentials;
    if (user === "root") return "root";
    const probe = await this.#executeAs({ argv: ["sudo", "-n", "true"], stdin: undefined, timeoutMs: 30_000, sudo: "none", onOutputLine: undefined });
    if (probe.exitCode === 0) return "nopasswd";
    if (probe.exitCode === 127) throw new SshError(this.address, "sudo", `user ${user} is not root and sudo is not installed`);
    if (!/password is required/i.test(probe.stderr)) throw new SshError(this.address, "sudo", `sudo -n refused user ${user}: ${lastLines(probe.stderr, 2)}`);
    if (sudoPassword === undefined) throw new SshError(this.address, "sudo", `user ${user} needs a password for sudo (sudo -n: ${lastLines(probe.stderr, 1)}) and none was given`);
    const check = await this.#executeAs({ argv: ["true"], stdin: undefined, timeoutMs: 30_000, sudo: "password", onOutputLine: undefined });
    if (check.exitCode !== 0) throw new SshError(this.address, "sudo", `sudo refused user ${user}: ${lastLines(check.stderr, 2)}`);
    return "password";
  }

  async #script(name: string, script: string, args: readonly string[], stdin?: Buffer): Promise<RawResult> {
    const display = shellCommand([name, ...args]);
    return this.#execute(["sh", "-c", script, name, ...args], { timeoutMs: SCRIPT_TIMEOUT_MS, ...(stdin === undefined ? {} : { stdin }) }, display);
  }

  #transferError(what: string, result: RawResult): SshError {
    const reason =
      result.exitCode === CHECKSUM_MISMATCH_STATUS
        ? "sha256 mismatch on the host; the target was left untouched"
        : result.exitCode === TARGET_IS_DIRECTORY_STATUS
          ? "the target is a directory"
          : `exit status ${result.exitCode}: ${lastLines(result.stderr, 3)}`;
    return new SshError(this.address, "transfer", this.#context.redactor.redact(`${what}: ${reason}`));
  }

  async upload(local: string | Buffer, remotePath: string, options: UploadOptions): Promise<{ skipped: boolean }> {
    checkRemotePath(remotePath);
    const mode = modeText(options.mode);
    const owner = options.owner === undefined ? "" : checkOwner(options.owner);
    const source: UploadSource = typeof local === "string" ? { kind: "file", path: local } : { kind: "buffer", data: local };
    const what = `upload to ${remotePath}`;
    // The local hash (of a 100 MB bundle: a few hundred ms) runs alongside the host's check and
    // the transfer; it is only awaited when the host already has a file to compare with, and
    // before the final check. Hashed once per pool, so later hosts get it at once.
    const sumPromise = source.kind === "file" ? this.#context.localSha256(source.path) : Promise.resolve(sha256(source.data));
    sumPromise.catch(() => undefined);
    const prepare = async (sum: string) => {
      const prepared = await this.#script("seal-prepare-upload", PREPARE_UPLOAD, [remotePath, sum, mode, owner]);
      if (prepared.exitCode !== 0) throw this.#transferError(what, prepared);
      return prepared.stdout.toString("utf8").trimEnd();
    };
    const skipped = (sum: string) => {
      this.#context.log("debug", this.address, `${remotePath} already has sha256 ${sum}; upload skipped`);
      return { skipped: true };
    };
    let answer = await prepare((await settledValue(sumPromise)) ?? UNKNOWN_SUM);
    if (answer === "same") return skipped(await sumPromise);
    if (answer.startsWith("have ")) {
      // The host has a file there; now the local hash decides (the second call also applies mode and owner).
      const sum = await sumPromise;
      answer = answer.slice("have ".length, "have ".length + 64) === sum ? await prepare(sum) : `upload ${answer.slice("have ".length + 65)}`;
      if (answer === "same") return skipped(sum);
    }
    if (!answer.startsWith("upload /")) throw new SshError(this.address, "transfer", `${what}: unexpected answer from the host: ${JSON.stringify(answer.slice(0, 200))}`);
    const target = answer.slice("upload ".length);
    const random = randomBytes(8).toString("hex");
    // A root login writes the temporary right next to the target; anyone else into their home
    // first (SFTP runs as the login user), and the finishing step copies it over as root.
    const temporary =
      this.#context.credentials.user === "root"
        ? `${posix.dirname(target)}/.${posix.basename(target)}.seal-tmp-${random}`
        : `${await this.#homeDirectory()}/.seal-staging-${random}`;

    const connection = await this.#connected();
    const sftp = await connection.sftp();
    try {
      await sftpWriteNewFile(sftp, temporary, source, { ...this.#context.sftpWrite, ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }) });
    } catch (error) {
      // If the connection is gone this fails too; the next upload to this target removes the temporary.
      await sftpCall(sftp, (done) => sftp.unlink(temporary, done)).catch(() => undefined);
      throw new SshError(this.address, "transfer", `${what} failed: ${(error as Error).message}`, { cause: error });
    } finally {
      sftp.end();
    }
    const finished = await this.#script("seal-finish-upload", FINISH_UPLOAD, [temporary, target, await sumPromise, mode, owner]);
    if (finished.exitCode !== 0) throw this.#transferError(what, finished);
    return { skipped: false };
  }

  async #homeDirectory(): Promise<string> {
    this.#home ??= (async () => {
      const connection = await this.#connected();
      const sftp = await connection.sftp();
      try {
        return await sftpCall<string>(sftp, (done) => sftp.realpath(".", done));
      } finally {
        sftp.end();
      }
    })();
    this.#home.catch(() => (this.#home = undefined));
    return this.#home;
  }

  async readFile(remotePath: string): Promise<Buffer | undefined> {
    checkRemotePath(remotePath);
    const result = await this.#script("seal-read-file", READ_FILE, [remotePath]);
    if (result.exitCode === MISSING_FILE_STATUS) return undefined;
    if (result.exitCode !== 0) throw this.#transferError(`read ${remotePath}`, result);
    return result.stdout;
  }

  async writeFileAtomic(remotePath: string, content: string | Buffer, options: FileOptions): Promise<{ changed: boolean }> {
    checkRemotePath(remotePath);
    const data = Buffer.from(content);
    if (data.length > STDIN_WRITE_LIMIT) {
      const { skipped } = await this.upload(data, remotePath, options);
      return { changed: !skipped };
    }
    const owner = options.owner === undefined ? "" : checkOwner(options.owner);
    const result = await this.#script("seal-write-file", WRITE_FILE, [remotePath, sha256(data), modeText(options.mode), owner], data);
    if (result.exitCode !== 0) throw this.#transferError(`write ${remotePath}`, result);
    return { changed: result.stdout.toString("utf8").trimEnd() === "changed" };
  }
}

/**
 * Feeds sudo its password only when it prints our one-off prompt, and the command its stdin only
 * after the wrapper under sudo printed our one-off start mark. If sudo does not ask (a NOPASSWD
 * rule), the password is never sent; if it asks twice, the password was wrong.
 */
class SudoPasswordGate {
  readonly #password: string;
  readonly #prompt = `[seal-sudo-${randomBytes(8).toString("hex")}]`;
  readonly #started = `[seal-started-${randomBytes(8).toString("hex")}]`;
  #preamble = "";
  #prompts = 0;
  #running = false;
  refused = false;

  constructor(password: string) {
    this.#password = password;
  }

  wrap(argv: readonly string[]): string[] {
    // `sh -c 'printf ... "$0" >&2; exec "$@"' MARK argv...`: marks the moment sudo let us through.
    return ["sudo", "-S", "-k", "-p", this.#prompt, "--", "sh", "-c", 'printf %s "$0" >&2; exec "$@"', this.#started, ...argv];
  }

  /** Takes stderr as it arrives, answers sudo, and returns what belongs to the command's stderr. */
  filterStderr(chunk: Buffer, channel: ClientChannel, stdin: Buffer | undefined): Buffer {
    if (this.#running) return chunk;
    this.#preamble += chunk.toString("latin1");
    let index: number;
    while ((index = this.#preamble.indexOf(this.#prompt)) >= 0) {
      this.#preamble = this.#preamble.slice(0, index) + this.#preamble.slice(index + this.#prompt.length);
      this.#prompts++;
      if (this.#prompts === 1) {
        channel.write(`${this.#password}\n`);
      } else {
        this.refused = true;
        channel.end(); // sudo reads EOF, gives up and exits
      }
    }
    index = this.#preamble.indexOf(this.#started);
    if (index < 0) return Buffer.alloc(0);
    this.#running = true;
    const before = this.#preamble.slice(0, index);
    const after = this.#preamble.slice(index + this.#started.length);
    this.#preamble = "";
    channel.end(stdin);
    return Buffer.from(stripSudoNoise(before) + after, "latin1");
  }

  /** What sudo printed if it never let the command start (refused, not a sudoer, no sudo). */
  leftover(): Buffer {
    const rest = this.#running ? "" : this.#preamble;
    this.#preamble = "";
    return Buffer.from(stripSudoNoise(rest), "latin1");
  }
}

function stripSudoNoise(text: string): string {
  // sudo's retry message; its other messages (not in sudoers...) are the error the caller needs.
  return text.replace(/^Sorry, try again\.\n/gm, "");
}

class LineSplitter {
  #partial = "";

  push(chunk: Buffer): string[] {
    const parts = (this.#partial + chunk.toString("utf8")).split(/\r?\n/);
    this.#partial = parts.pop() ?? "";
    return parts;
  }

  end(): string[] {
    const rest = this.#partial;
    this.#partial = "";
    return rest === "" ? [] : [rest];
  }
}

/** What PREPARE_UPLOAD gets while the local hash is still being computed. */
const UNKNOWN_SUM = "-";

/** The promise's value if it has already resolved, else undefined (without waiting). */
async function settledValue<T>(promise: Promise<T>): Promise<T | undefined> {
  const pending = Symbol("pending");
  const first = await Promise.race([promise.catch(() => pending), Promise.resolve(pending)]);
  return first === pending ? undefined : (first as T);
}

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function seconds(ms: number): string {
  return String(Math.max(0.001, ms / 1000));
}

function modeText(mode: number): string {
  return checkMode(mode).toString(8).padStart(4, "0");
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split("\n").slice(-count).join(" | ");
}

/** A command as a log line shows it (quoted as it is sent, minus our wrappers). */
function describeArgv(argv: readonly string[]): string {
  const text = shellCommand(argv);
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

const SIGNALS: Record<string, number> = { HUP: 1, INT: 2, QUIT: 3, ABRT: 6, KILL: 9, SEGV: 11, PIPE: 13, ALRM: 14, TERM: 15 };

function signalNumber(signal: string | undefined): number {
  return SIGNALS[(signal ?? "").replace(/^SIG/, "")] ?? 0;
}
