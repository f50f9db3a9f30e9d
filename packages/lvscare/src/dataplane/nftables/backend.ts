/**
 * The nftables dataplane engine: our tables `ip lvscare` and `ip6 lvscare`, read back from the
 * kernel and rewritten whole from the in-memory model in one nft transaction.
 *
 * - read(family): lists our table and parses it (parse.ts). "absent" when there is none (a
 *   `nft flush ruleset` shows up here), "damaged" when it is not exactly what we would write for
 *   the model it describes (edited by hand, half deleted, the IPVS dataplane's link-mode table).
 *   Both mean "no virtual server": the caller re-adds what it wants and apply() rewrites the table.
 * - apply(desired): the desired full content of our tables (both families); families whose table
 *   already holds exactly that are not touched, the others are replaced in ONE transaction, so
 *   nft commits all of it or none, and a failure leaves the kernel and the model as they were.
 *   Destinations that disappear are added to the removed set (their connections get reset).
 *
 * After an apply the table is listed once more and its canonical text kept: a later listing
 * equal to it is known to be ours even if this version of the parser did not understand the JSON
 * of the installed nft (other versions than Debian 12's 1.0.6 print some things differently).
 * Once the parser has read such a listing back as exactly what we wrote, an apply whose commit
 * was the only one (the generation moved by exactly one) skips that listing.
 *
 * A read lists the table only when the ruleset may have changed since the last listing: the
 * kernel's nf_tables generation (one netlink round trip in-process, change-check.ts) is taken
 * before each listing, and a read that finds it unchanged answers from what that listing said.
 * Listing through nft costs ~1.5 ms on a host but about a second in the failover benchmark's
 * emulated VM, where it starved the daemon's probes every interval (BENCHMARKS.md).
 */
import { randomInt } from "node:crypto";
import { type Endpoint, type IpFamily, sameEndpoint } from "../../address.ts";
import { DataplaneError } from "../error.ts";
import { SerialQueue } from "./serial.ts";
import { canonicalListing, listingItems } from "./listing.ts";
import {
  emptyFamilyState,
  identicalFamilyState,
  isEmptyFamilyState,
  liveDestinations,
  type NftDesiredState,
  type NftFamilyState,
  nftFamily,
  type NftVirtualServer,
  sameFamilyState,
  TABLE,
} from "./model.ts";
import { parseTable } from "./parse.ts";
import { isRotating } from "./schedule.ts";
import { withRemovals } from "./removal.ts";
import { joinTransaction, renderTableDeletion, renderTableReplacement } from "./render-script.ts";
import { isNextGeneration, type NftChangeCheck, openGenerationCheck } from "./change-check.ts";
import type { NftRunner } from "./runner.ts";
import { ExecNftRunner } from "./runner-exec.ts";
import { InteractiveNftRunner, type InteractiveNftRunnerOptions } from "./runner-interactive.ts";

export type NftTableStatus = "absent" | "intact" | "damaged";

export interface NftFamilyRead {
  readonly family: IpFamily;
  readonly status: NftTableStatus;
  /** The table's content when intact; empty otherwise. */
  readonly state: NftFamilyState;
  /** Why a table counts as damaged. */
  readonly reason?: string;
}

export interface NftApplyResult {
  /** Families whose table this apply replaced or deleted; [] when everything already matched. */
  readonly rewritten: readonly IpFamily[];
}

export interface NftablesBackendOptions extends InteractiveNftRunnerOptions {
  /** "interactive" (default): one long-lived nft -i; "exec": one nft per command; or a runner of your own. */
  readonly runner?: "interactive" | "exec" | NftRunner;
  /**
   * How a read knows the ruleset has not changed since its last listing: "generation" (the
   * default with nft's own runners: the kernel's nf_tables generation), "none" (list every read,
   * the default with a runner of your own, which may not be the kernel), or a check of your own.
   */
  readonly changeCheck?: "generation" | "none" | NftChangeCheck;
  /** Told, in one line, when something works less well than it should (no change check: every read lists). */
  readonly onWarning?: (message: string) => void;
  /**
   * Which of `live` destinations a rewritten counter's slot 0 goes to (model.ts, rotation).
   * Default: at random, so the first new connections after a change spread like IPVS's rr.
   */
  readonly pickRotation?: (live: number) => number;
}

interface Known extends NftFamilyRead {
  /** Canonical text of the listing right after our last apply. */
  readonly appliedFingerprint: string | undefined;
  /** The change check's generation taken before the listing this is from; undefined: list again. */
  readonly generation: number | undefined;
}

const FAMILIES: readonly IpFamily[] = [4, 6];

function fingerprintOf(listing: unknown): string | undefined {
  const items = listingItems(listing);
  if (items === undefined) return undefined;
  const { declarations, rules } = canonicalListing(items);
  return JSON.stringify([declarations, [...rules.entries()].sort()]);
}

export class NftablesBackend {
  readonly runner: NftRunner;
  private readonly changeCheck: NftChangeCheck | undefined;
  private readonly known = new Map<IpFamily, Known>();
  private readonly queue = new SerialQueue();
  /** Reads answered from the last listing, and reads that listed (tests, benchmarks). */
  readonly readStats = { unchanged: 0, listed: 0 };
  /** Applies not listed afterwards (ours was the only commit), and applies that listed. */
  readonly applyStats = { unlisted: 0, listed: 0 };
  /**
   * Whether parse.ts read a listing of this nft back as exactly what we had written; false again
   * after a listing it called damaged (a hand edit, or an nft whose JSON it does not follow).
   */
  private parserAgrees = false;

  private readonly pickRotation: (live: number) => number;

  private constructor(runner: NftRunner, changeCheck: NftChangeCheck | undefined, pickRotation: (live: number) => number) {
    this.runner = runner;
    this.changeCheck = changeCheck;
    this.pickRotation = pickRotation;
  }

  /** Starts the runner and checks that nft works here (nf_tables in the kernel, permission). Changes nothing. */
  static async open(options: NftablesBackendOptions = {}): Promise<NftablesBackend> {
    const choice = options.runner ?? "interactive";
    const runner =
      choice === "interactive" ? await InteractiveNftRunner.open(options) : choice === "exec" ? await ExecNftRunner.open(options) : choice;
    try {
      await runner.listTable("ip", TABLE);
    } catch (err) {
      await runner.close();
      const cause = err instanceof DataplaneError ? err : undefined;
      throw new DataplaneError("open nftables", cause?.code ?? "EIO", `nftables is not usable here: ${cause?.message ?? String(err)}`);
    }
    const check = options.changeCheck ?? (typeof choice === "string" ? "generation" : "none");
    const changeCheck =
      check === "none" ? undefined : check === "generation" ? openGenerationCheck(options.netns, options.onWarning ?? (() => undefined)) : check;
    return new NftablesBackend(runner, changeCheck, options.pickRotation ?? ((live) => randomInt(live)));
  }

  /** Our table of `family` as the kernel has it now. */
  read(family: IpFamily): Promise<NftFamilyRead> {
    return this.queue.run(() => this.readNow(family));
  }

  /** The virtual server at `vip` as our table has it, or undefined (also when the table is damaged). */
  async readVirtualServer(vip: Endpoint): Promise<NftVirtualServer | undefined> {
    const { state } = await this.read(vip.family);
    return state.virtualServers.find((vs) => sameEndpoint(vs.address, vip));
  }

  /** Makes our tables hold exactly `desired` (plus the removed set), in one transaction. */
  apply(desired: NftDesiredState): Promise<NftApplyResult> {
    return this.queue.run(() => this.applyNow(desired));
  }

  /**
   * Reads both tables afresh (the kernel is the truth, as with IPVS), hands their content to
   * `change`, and applies what it returns in one transaction. A `change` that throws (an op the
   * model refuses: editor.ts) changes nothing. This is the contract's apply(ops):
   * `backend.edit((current) => applyOps(current, ops))`.
   */
  edit(change: (current: NftDesiredState) => NftDesiredState): Promise<NftApplyResult> {
    return this.queue.run(async () => {
      // One after the other: the runner is serial anyway, and a failed read must not leave another
      // one still running (and updating what is known) after this edit has given up.
      const families: Known[] = [];
      for (const family of FAMILIES) families.push(await this.readNow(family));
      const current: NftDesiredState = {
        virtualServers: families.flatMap((f) => f.state.virtualServers),
        masquerade: families.flatMap((f) => f.state.masquerade),
      };
      return this.applyNow(change(current));
    });
  }

  private async applyNow(desired: NftDesiredState): Promise<NftApplyResult> {
    const wrong = [...desired.virtualServers.map((vs) => vs.address), ...desired.masquerade].find((vip) => !FAMILIES.includes(vip.family));
    if (wrong !== undefined) throw new DataplaneError("nftables", "EINVAL", `${String(wrong.ip)}: address family ${String(wrong.family)} is neither 4 nor 6`);
    const parts: string[] = [];
    const changes: Array<{ family: IpFamily; next: NftFamilyState }> = [];
    for (const family of FAMILIES) {
      const known = this.known.get(family) ?? (await this.readNow(family));
      const wanted = withRemovals(known.status === "damaged" ? undefined : known.state, {
        family,
        virtualServers: desired.virtualServers.filter((vs) => vs.address.family === family),
        masquerade: desired.masquerade.filter((vip) => vip.family === family),
      });
      if (known.status !== "damaged" && sameFamilyState(known.state, wanted)) continue;
      const next = this.withNewRotations(wanted);
      // Rendering validates: every family is checked before anything runs.
      parts.push(isEmptyFamilyState(next) ? renderTableDeletion(family) : renderTableReplacement(next));
      changes.push({ family, next });
    }
    if (parts.length === 0) return { rewritten: [] };
    try {
      const before = this.changeCheck?.generation();
      // Every transaction of ours makes whole tables exactly something: safe to send twice.
      await this.runner.run(joinTransaction(parts), { idempotent: true });
      const generation = this.changeCheck?.generation();
      // Ours was the only commit: the tables are what it wrote, and listing them again would cost
      // an nft round trip and its JSON (about a second of CPU in the benchmark's emulated VM).
      // Only once our parser has read back what we wrote with this nft: otherwise the listing's
      // fingerprint is what keeps a table the parser misreads from being rewritten on every
      // foreign commit.
      if (this.parserAgrees && isNextGeneration(before, generation)) {
        for (const { family, next } of changes) {
          const status = isEmptyFamilyState(next) ? "absent" : "intact";
          this.known.set(family, { family, status, state: next, appliedFingerprint: undefined, generation });
        }
        this.applyStats.unlisted++;
        return { rewritten: changes.map((c) => c.family) };
      }
      this.applyStats.listed++;
      for (const { family, next } of changes) {
        const listing = await this.runner.listTable(nftFamily(family), TABLE);
        if (listing !== undefined && !this.parserAgrees) {
          const parsed = parseTable(listing, family);
          this.parserAgrees = parsed.status === "intact" && identicalFamilyState(parsed.state, next);
        }
        this.known.set(family, {
          family,
          status: listing === undefined ? "absent" : "intact",
          state: next,
          appliedFingerprint: listing === undefined ? undefined : fingerprintOf(listing),
          generation,
        });
      }
    } catch (err) {
      // Refused, or nft lost with the outcome unknown: what we knew of these tables may be stale,
      // so the next apply reads them again instead of trusting it.
      for (const { family } of changes) this.known.delete(family);
      throw err;
    }
    return { rewritten: changes.map((c) => c.family) };
  }

  /** A rewrite restarts every counter at slot 0: each counter's slot 0 is picked anew. */
  private withNewRotations(state: NftFamilyState): NftFamilyState {
    return {
      ...state,
      virtualServers: state.virtualServers.map(({ rotation: _old, ...vs }) => {
        const live = liveDestinations(vs.destinations).length;
        if (!isRotating(vs.scheduler) || live < 2) return vs;
        const rotation = this.pickRotation(live);
        return rotation === 0 ? vs : { ...vs, rotation };
      }),
    };
  }

  /** Deletes our tables (both families); absent ones are fine. Nothing else is touched. */
  remove(): Promise<void> {
    return this.queue.run(async () => {
      try {
        await this.runner.run(joinTransaction(FAMILIES.map(renderTableDeletion)), { idempotent: true });
      } catch (err) {
        for (const family of FAMILIES) this.known.delete(family);
        throw err;
      }
      for (const family of FAMILIES) {
        this.known.set(family, { family, status: "absent", state: emptyFamilyState(family), appliedFingerprint: undefined, generation: undefined });
      }
    });
  }

  /** Stops the nft process; the tables stay as they are. */
  async close(): Promise<void> {
    await this.queue.idle();
    this.changeCheck?.close();
    await this.runner.close();
  }

  private async readNow(family: IpFamily): Promise<Known> {
    // Taken before the listing: a change committed while it runs moves the generation past it.
    const generation = this.changeCheck?.generation();
    const previous = this.known.get(family);
    if (generation !== undefined && previous?.generation === generation) {
      this.readStats.unchanged++;
      return previous;
    }
    this.readStats.listed++;
    const listing = await this.runner.listTable(nftFamily(family), TABLE);
    let known: Known;
    if (listing === undefined) {
      known = { family, status: "absent", state: emptyFamilyState(family), appliedFingerprint: undefined, generation };
    } else if (previous?.appliedFingerprint !== undefined && previous.appliedFingerprint === fingerprintOf(listing)) {
      known = { ...previous, generation };
    } else {
      const parsed = parseTable(listing, family);
      known =
        parsed.status === "intact"
          ? { family, status: "intact", state: parsed.state, appliedFingerprint: undefined, generation }
          : { family, status: "damaged", state: emptyFamilyState(family), reason: parsed.reason, appliedFingerprint: undefined, generation };
      if (parsed.status !== "intact") this.parserAgrees = false;
    }
    this.known.set(family, known);
    return known;
  }

}
