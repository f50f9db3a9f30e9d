/** One `nft` process per command: `nft -f -` with the transaction on stdin, `nft -j list table`. */
import type { NftFamily } from "./model.ts";
import {
  collect,
  DEFAULT_TIMEOUT_MS,
  failureOf,
  isMissingTable,
  listCommand,
  type NftCommand,
  nftCommand,
  type NftRunner,
  type NftRunnerOptions,
  parseListing,
} from "./runner.ts";

export class ExecNftRunner implements NftRunner {
  readonly kind = "exec";
  private readonly command: NftCommand;
  private readonly timeoutMs: number;

  private constructor(command: NftCommand, timeoutMs: number) {
    this.command = command;
    this.timeoutMs = timeoutMs;
  }

  static async open(options: NftRunnerOptions = {}): Promise<ExecNftRunner> {
    return new ExecNftRunner(await nftCommand(options), options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  }

  async run(script: string): Promise<void> {
    const result = await collect(this.command, ["-f", "-"], `${script}\n`, this.timeoutMs);
    if (result.code !== 0) throw failureOf("nft transaction", result, this.timeoutMs);
  }

  async listTable(family: NftFamily, name: string): Promise<unknown> {
    const result = await collect(this.command, ["-j", ...listCommand(family, name)], undefined, this.timeoutMs);
    if (result.code === 0) return parseListing(result.stdout);
    if (!result.timedOut && isMissingTable(result.stderr)) return undefined;
    throw failureOf("nft list table", result, this.timeoutMs);
  }

  async close(): Promise<void> {}
}
