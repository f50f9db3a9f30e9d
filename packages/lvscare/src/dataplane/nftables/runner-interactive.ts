/**
 * One long-lived `nft -j -i`: a line is one transaction, so an update costs no process start and,
 * above all, no netlink socket close (the kernel makes that wait for the previous transaction's
 * deferred cleanup: ~15 ms per `nft -f`). Measured side by side in bench/nft-bench.ts.
 *
 * nft -i says nothing when a command succeeds and prints "Error: ..." plus the input line when
 * one fails. So after each command we send a marker line that is certain to fail
 * (`lvscare-sync-N`): once its error, which echoes the marker, is on stderr, nft has finished
 * the command, and whatever came on stderr before it is the command's own error. A listing
 * (`-j`) is one line on stdout.
 *
 * Robustness: a command that gets no answer within the timeout means a wedged (stopped, starved,
 * stuck) nft; it is killed. A process that died is noticed by its exit. Either way the command's
 * outcome is unknown (the kernel commits a transaction whole or not at all, so the kernel's state
 * is a consistent one, but which one is not known): a listing, or a script the caller says is
 * idempotent (the engine's whole-table replacements), is sent once more to a new process at once,
 * so the caller's change is not left waiting for its next pass; anything else fails with
 * NftProcessLostError. Each loss is reported (onProcessLost) with what was done about it.
 * Libedit keeps every line in its history for the life of the process, so the process is also
 * replaced after `recycleAfter` commands.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { DataplaneError } from "../error.ts";
import { SerialQueue } from "./serial.ts";
import type { NftFamily } from "./model.ts";
import { nftFailure } from "./nft-errors.ts";
import {
  commandSummary,
  DEFAULT_TIMEOUT_MS,
  isMissingTable,
  listCommand,
  NFT_ENV,
  type NftCommand,
  nftCommand,
  NftProcessLostError,
  type NftRunner,
  type NftRunnerOptions,
  type NftRunOptions,
  parseListing,
} from "./runner.ts";

export interface InteractiveNftRunnerOptions extends NftRunnerOptions {
  /** Replace the nft process after this many commands (its line history only grows). Default 1000. */
  readonly recycleAfter?: number;
}

const MARKER_PREFIX = "lvscare-sync-";

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal === null ? `exit status ${String(code)}` : `signal ${signal}`;
}

/** One nft -i process and what it printed so far. */
class Session {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  commands = 0;
  private ended: string | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(command: NftCommand) {
    this.child = spawn(command.file, [...command.prefix, "-j", "-i"], { env: NFT_ENV, stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      this.stdout += chunk;
      this.notify();
    });
    this.child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderr += chunk;
      this.notify();
    });
    this.child.stdin?.on("error", () => {});
    this.child.on("error", (err) => this.end(`could not be started: ${err.message}`));
    this.child.on("exit", (code, signal) => this.end(`exited (${describeExit(code, signal)})`));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.ended === undefined;
  }

  /** How the process ended ("exited (signal SIGKILL)"), undefined while it runs. */
  get endedHow(): string | undefined {
    return this.ended;
  }

  private end(why: string): void {
    this.ended ??= why;
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  write(text: string): void {
    this.child.stdin?.write(text);
  }

  /** Resolves once `ready()` holds; rejects when the process ends first or time runs out. */
  waitFor(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (ready()) {
          done();
          resolve();
        } else if (this.ended !== undefined) {
          done();
          const tail = this.stderr.trim().split("\n").slice(-3).join(" | ");
          reject(new NftProcessLostError("nftables", "EIO", `nft -i (pid ${String(this.pid)}) ${this.ended} before ${what}${tail === "" ? "" : `: ${tail}`}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new NftProcessLostError("nftables", "ETIMEDOUT", `nft -i (pid ${String(this.pid)}) did not finish ${what} within ${timeoutMs} ms (stopped, starved or stuck); killed it`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  kill(): void {
    if (this.alive) this.child.kill("SIGKILL");
  }

  /** Asks nft to exit (end of input); it finishes what it has read first. */
  retire(): void {
    this.child.stdin?.end();
  }

  async exited(timeoutMs: number): Promise<void> {
    if (!this.alive) return;
    await this.waitFor(() => false, timeoutMs, "exiting").catch(() => this.kill());
  }
}

export class InteractiveNftRunner implements NftRunner {
  readonly kind = "interactive";
  private readonly command: NftCommand;
  private readonly timeoutMs: number;
  private readonly recycleAfter: number;
  private readonly onProcessLost: (message: string) => void;
  private session: Session | undefined;
  private sequence = 0;
  private readonly queue = new SerialQueue();
  private started = 0;

  private constructor(command: NftCommand, options: InteractiveNftRunnerOptions) {
    this.command = command;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.recycleAfter = options.recycleAfter ?? 1000;
    this.onProcessLost = options.onProcessLost ?? (() => undefined);
  }

  static async open(options: InteractiveNftRunnerOptions = {}): Promise<InteractiveNftRunner> {
    return new InteractiveNftRunner(await nftCommand(options), options);
  }

  /** The pid of the current nft process, if one runs (diagnostics). */
  get pid(): number | undefined {
    return this.session?.alive === true ? this.session.pid : undefined;
  }

  /** How many nft processes this runner has started (a restart after a wedge shows here). */
  get processesStarted(): number {
    return this.started;
  }

  run(script: string, options: NftRunOptions = {}): Promise<void> {
    return this.queue.run(async () => {
      const { errors } = await this.sendRetrying(script, false, options.idempotent === true);
      if (errors !== "") throw nftFailure("nft transaction", errors, "unknown error");
    });
  }

  listTable(family: NftFamily, name: string): Promise<unknown> {
    const line = listCommand(family, name).join(" ");
    return this.queue.run(async () => {
      const { errors, output } = await this.sendRetrying(line, true, true);
      if (errors === "") return parseListing(output ?? "");
      if (isMissingTable(errors)) return undefined;
      throw nftFailure("nft list table", errors, "unknown error");
    });
  }

  async close(): Promise<void> {
    await this.queue.idle();
    const session = this.session;
    this.session = undefined;
    if (session === undefined) return;
    session.retire();
    await session.exited(1_000);
  }


  private current(): Session {
    if (this.session?.alive === true) return this.session;
    // Died while idle (killed, OOM): nothing was lost, but say so.
    if (this.session !== undefined) this.onProcessLost(`nftables: nft -i (pid ${String(this.session.pid)}) ${this.session.endedHow ?? "ended"} while idle; starting a new one`);
    this.session = new Session(this.command);
    this.started += 1;
    return this.session;
  }

  /** send(), and when nft is lost during an idempotent command, once more on a new process (reported either way). */
  private async sendRetrying(line: string, wantOutput: boolean, idempotent: boolean): Promise<{ errors: string; output: string | undefined }> {
    try {
      return await this.send(line, wantOutput, this.timeoutMs);
    } catch (err) {
      if (!(err instanceof NftProcessLostError)) throw err;
      const command = `\`${commandSummary(line)}\``;
      if (!idempotent) {
        this.onProcessLost(`nftables: ${command}: ${err.detail}; not retried (not idempotent): its outcome is unknown`);
        throw err;
      }
      this.onProcessLost(`nftables: ${command}: ${err.detail}; retrying it on a new nft -i`);
      try {
        const answer = await this.send(line, wantOutput, Math.max(this.timeoutMs, DEFAULT_TIMEOUT_MS));
        this.onProcessLost(`nftables: the retry of ${command} on a new nft -i (pid ${String(this.pid)}) answered`);
        return answer;
      } catch (again) {
        if (!(again instanceof NftProcessLostError)) throw again;
        throw new NftProcessLostError(again.operation, again.code, `${again.detail} (the retry, after ${err.detail})`);
      }
    }
  }

  /** Sends one line; returns what nft printed on stderr for it ("" = success) and, if asked, its one line of stdout. */
  private async send(line: string, wantOutput: boolean, timeoutMs: number): Promise<{ errors: string; output: string | undefined }> {
    if (line.includes("\n")) throw new DataplaneError("nftables", "EINVAL", "an nft -i command must be one line");
    const session = this.current();
    this.sequence += 1;
    const markerLine = `\n${MARKER_PREFIX}${this.sequence}\n`;
    session.stdout = "";
    session.write(`${line}${markerLine}`);
    try {
      await session.waitFor(() => session.stderr.includes(markerLine), timeoutMs, "the command");
      const at = session.stderr.indexOf(markerLine);
      // The marker's own "Error: ..." line; a caret line before it may lack its newline.
      const markerError = session.stderr.lastIndexOf("Error:", at);
      const markerErrorStart = markerError >= 0 ? markerError : session.stderr.lastIndexOf("\n", at - 1) + 1;
      // What is left of the previous marker's error (its caret line) is not this command's.
      const printed = session.stderr.slice(0, markerErrorStart).replace(/^[ \t^~]*\n?/, "");
      const errors = printed.includes("Error:") ? printed : "";
      session.stderr = session.stderr.slice(at + markerLine.length);
      let output: string | undefined;
      if (wantOutput && errors === "") {
        await session.waitFor(() => session.stdout.includes("\n"), timeoutMs, "printing the listing");
        const end = session.stdout.indexOf("\n");
        output = session.stdout.slice(0, end);
        session.stdout = session.stdout.slice(end + 1);
      }
      session.commands += 1;
      if (session.commands >= this.recycleAfter) {
        session.retire();
        this.session = undefined;
      }
      return { errors, output };
    } catch (err) {
      session.kill();
      if (this.session === session) this.session = undefined;
      throw err;
    }
  }
}
