/** One `nft` process per command: `nft -f -` with the transaction on stdin, `nft -j list table`. */
import type { NftFamily } from "./model.ts";
import {
  collect,
  type Collected,
  commandSummary,
  DEFAULT_TIMEOUT_MS,
  failureOf,
  isMissingTable,
  listCommand,
  type NftCommand,
  nftCommand,
  NftProcessLostError,
  type NftRunner,
  type NftRunnerOptions,
  type NftRunOptions,
  parseListing,
} from "./runner.ts";

export class ExecNftRunner implements NftRunner {
  readonly kind = "exec";
  private readonly command: NftCommand;
  private readonly timeoutMs: number;
  private readonly onProcessLost: (message: string) => void;

  private constructor(command: NftCommand, options: NftRunnerOptions) {
    this.command = command;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.onProcessLost = options.onProcessLost ?? (() => undefined);
  }

  static async open(options: NftRunnerOptions = {}): Promise<ExecNftRunner> {
    return new ExecNftRunner(await nftCommand(options), options);
  }

  async run(script: string, options: NftRunOptions = {}): Promise<void> {
    const { result, timeoutMs } = await this.collectRetrying("nft transaction", ["-f", "-"], `${script}\n`, script, options.idempotent === true);
    if (result.code !== 0) throw failureOf("nft transaction", result, timeoutMs);
  }

  async listTable(family: NftFamily, name: string): Promise<unknown> {
    const args = listCommand(family, name);
    const { result, timeoutMs } = await this.collectRetrying("nft list table", ["-j", ...args], undefined, args.join(" "), true);
    if (result.code === 0) return parseListing(result.stdout);
    if (!result.timedOut && isMissingTable(result.stderr)) return undefined;
    throw failureOf("nft list table", result, timeoutMs);
  }

  async close(): Promise<void> {}

  /** Runs the command; an nft lost on an idempotent one (timed out, killed) is reported and replaced once. */
  private async collectRetrying(
    operation: string,
    args: readonly string[],
    input: string | undefined,
    line: string,
    idempotent: boolean,
  ): Promise<{ result: Collected; timeoutMs: number }> {
    const first = await collect(this.command, args, input, this.timeoutMs);
    const lost = first.code === 0 ? undefined : failureOf(operation, first, this.timeoutMs);
    if (!(lost instanceof NftProcessLostError)) return { result: first, timeoutMs: this.timeoutMs };
    if (!idempotent) {
      this.onProcessLost(`nftables: \`${commandSummary(line)}\`: ${lost.detail}; not retried (not idempotent): its outcome is unknown`);
      return { result: first, timeoutMs: this.timeoutMs };
    }
    this.onProcessLost(`nftables: \`${commandSummary(line)}\`: ${lost.detail}; retrying it on a new nft`);
    const timeoutMs = Math.max(this.timeoutMs, DEFAULT_TIMEOUT_MS);
    return { result: await collect(this.command, args, input, timeoutMs), timeoutMs };
  }
}
