/**
 * How nft commands run: never through a shell, with a fixed environment, as `nft ...` or
 * `ip netns exec NAME nft ...`. Two runners implement NftRunner: runner-exec.ts (one `nft`
 * process per command) and runner-interactive.ts (one long-lived `nft -j -i`, the default; the
 * measurements behind that choice are in BENCHMARKS.md).
 */
import { spawn } from "node:child_process";
import { DataplaneError } from "../error.ts";
import { findTool } from "../kernel-masquerade.ts";
import type { NftFamily } from "./model.ts";
import { nftFailure, parseNftErrors } from "./nft-errors.ts";

export interface NftRunOptions {
  /**
   * Running the script twice leaves what running it once does (our whole-table replacements and
   * deletions). When nft is lost while running it (no answer within the timeout, or it died),
   * whether the kernel committed it is unknown: an idempotent script is then sent once more to a
   * new nft; any other fails with NftProcessLostError.
   */
  readonly idempotent?: boolean;
}

export interface NftRunner {
  readonly kind: "exec" | "interactive";
  /** One transaction (one line): nft commits all of it or none. Rejects with a DataplaneError. */
  run(script: string, options?: NftRunOptions): Promise<void>;
  /** The parsed JSON of `nft -j list table FAMILY NAME`; undefined when there is no such table. */
  listTable(family: NftFamily, name: string): Promise<unknown>;
  /** Ends the nft process, if any; the ruleset stays. */
  close(): Promise<void>;
}

export interface NftRunnerOptions {
  /** Run nft inside /run/netns/<netns> (tests, tools); the current namespace when absent. */
  readonly netns?: string;
  /**
   * A command that does not answer within this is abandoned (the process killed). Default 5 s.
   * A retry on a new process gets at least the default: a machine that is merely slow must not
   * be caught in a loop of killed processes.
   */
  readonly timeoutMs?: number;
  /**
   * Told, in one line, each time nft was lost (wedged past the timeout, or died) and what was done
   * about it; the daemon logs it. Whatever is lost is killed and replaced in any case.
   */
  readonly onProcessLost?: (message: string) => void;
}

export { DEFAULT_TIMEOUT_MS } from "./timeouts.ts";

/**
 * nft was lost while running a command: it did not answer within the timeout (and was killed),
 * or it died. Unlike nft's own refusals, the command's outcome is unknown.
 */
export class NftProcessLostError extends DataplaneError {
  override readonly name = "NftProcessLostError";
}

/** The start of a command, for a log line: enough to tell a listing from a transaction. */
export function commandSummary(line: string): string {
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}

/**
 * LC_ALL=C: error texts are matched to errno names. HOME=/dev/null: `nft -i` reads and writes a
 * history file in $HOME (`.nft.history`); under /dev/null both fail quietly.
 */
export const NFT_ENV: Readonly<Record<string, string>> = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C", HOME: "/dev/null" };

/** argv = [file, ...prefix, ...nft arguments]. */
export interface NftCommand {
  readonly file: string;
  readonly prefix: readonly string[];
}

export async function nftCommand(options: NftRunnerOptions = {}): Promise<NftCommand> {
  const nft = await findTool("nft");
  if (nft === undefined) {
    throw new DataplaneError("nftables", "ENOENT", "nft is not installed (Debian package nftables); the nftables dataplane needs it");
  }
  if (options.netns === undefined) return { file: nft, prefix: [] };
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(options.netns)) throw new DataplaneError("nftables", "EINVAL", `bad network namespace name ${JSON.stringify(options.netns)}`);
  const ip = await findTool("ip");
  if (ip === undefined) throw new DataplaneError("nftables", "ENOENT", "ip is not installed (Debian package iproute2)");
  return { file: ip, prefix: ["netns", "exec", options.netns, nft] };
}

export function listCommand(family: NftFamily, name: string): string[] {
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(name)) throw new DataplaneError("nftables", "EINVAL", `bad table name ${JSON.stringify(name)}`);
  return ["list", "table", family, name];
}

/** A listing's stderr that means "no such table" rather than a failure. */
export function isMissingTable(stderr: string): boolean {
  return parseNftErrors(stderr).some((e) => /No such file or directory/.test(e.message));
}

/** Parses a listing, or explains what nft printed instead. */
export function parseListing(stdout: string): unknown {
  try {
    return JSON.parse(stdout);
  } catch {
    throw new DataplaneError("nftables", "EIO", `nft -j printed something that is not JSON: ${stdout.slice(0, 120)}`);
  }
}

export interface Collected {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** Runs one nft command to completion (killed after timeoutMs), `input` on its stdin. */
export function collect(command: NftCommand, args: readonly string[], input: string | undefined, timeoutMs: number): Promise<Collected> {
  return new Promise((resolve, reject) => {
    const child = spawn(command.file, [...command.prefix, ...args], { env: NFT_ENV, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new DataplaneError("nftables", "ENOENT", `cannot run ${command.file}: ${err.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    // nft may exit before reading all of its input (e.g. on a syntax error): not our error.
    child.stdin?.on("error", () => {});
    if (input !== undefined) child.stdin?.end(input);
  });
}

export function failureOf(operation: string, result: Collected, timeoutMs: number): DataplaneError {
  if (result.timedOut) return new NftProcessLostError(operation, "ETIMEDOUT", `nft did not finish within ${timeoutMs} ms and was killed`);
  if (result.signal !== null && result.stderr.trim() === "") return new NftProcessLostError(operation, "EIO", `nft was killed by ${result.signal}`);
  return nftFailure(operation, result.stderr, result.signal === null ? `exit status ${String(result.code)}` : `killed by ${result.signal}`);
}
