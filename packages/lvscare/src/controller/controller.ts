/**
 * The daemon's decision logic as a deterministic state machine: time, probe results and lost
 * connections go in; probes to start or cancel, health transitions and desired destinations come
 * out. It never reads a clock or does I/O, so every scenario (kill, blackhole, flapping, ...) is
 * replayed in unit tests with a fake clock.
 *
 * Probing, per master (numbers are the defaults):
 * - A round every interval (1 s): one probe on the kept-alive connection.
 * - Hedge: if that probe is unanswered after 250 ms, a second probe on a fresh connection. A lost
 *   SYN or a stalled connection then costs nothing (the hedge answers); a blackhole makes both
 *   time out, which is two failures = fall at ~timeout + 250 ms after the round started.
 * - A success settles the round (the other probe is cancelled and does not count).
 * - After a failed round the next one starts at once while the master is still in rotation, so a
 *   refused connection is confirmed within milliseconds instead of a full interval later.
 * - A kept-alive connection the master closes or resets starts a round at once (at most one such
 *   early round per interval, so a server that closes after every answer cannot cause a storm).
 * - Down masters are probed once per interval without hedging: nothing to protect there.
 * - While a master's health is unknown (start-up) its probes get the longer first-contact
 *   deadline and no hedge: a cold process's first handshakes are slow, and until the verdict the
 *   kernel's table is left as it is, so waiting costs nothing and a restart removes nothing.
 * - A deadline counts daemon time, not wall time: when the event loop was stalled during a
 *   probe's window (see loop-stall.ts), the deadline moves by the stalled time, up to
 *   MAX_WINDOW_FACTOR x the timeout; a probe still unanswered then, without the daemon having run
 *   for its whole timeout, is inconclusive: neither success nor failure. A refused connection,
 *   a reset, a TLS error or an unhealthy status stays evidence however starved the daemon is.
 */
import { type Endpoint, formatEndpoint } from "../address.ts";
import type { AllDownPolicy } from "../config.ts";
import type { ProbeOutcome } from "../probe/outcome.ts";
import { type DesiredDestinations, desiredDestinations, type MasterHealth } from "./desired.ts";
import { type Health, HealthTracker } from "./health.ts";
import { LoopStallLog, STALL_NOISE_MS } from "./loop-stall.ts";

/** A starved daemon waits at most this many timeouts (wall time) for a probe before giving up on it. */
export const MAX_WINDOW_FACTOR = 3;

export interface ControllerTiming {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly hedgeDelayMs: number;
  /** Deadline of probes while a master's health is unknown; defaults to timeoutMs. */
  readonly firstContactTimeoutMs?: number;
  readonly fall: number;
  readonly rise: number;
}

export type ProbeRole = "primary" | "hedge";

export type ControllerCommand =
  | {
      readonly kind: "start-probe";
      readonly probeId: number;
      readonly master: Endpoint;
      readonly role: ProbeRole;
      /** true: open a new connection instead of reusing the kept-alive one. */
      readonly fresh: boolean;
    }
  /**
   * The probe's answer no longer matters: its deadline passed (counted as a timeout failure), its
   * round already succeeded, or the daemon was stalled too long to judge it (inconclusive).
   */
  | { readonly kind: "cancel-probe"; readonly probeId: number; readonly master: Endpoint; readonly why: CancelReason };

export type CancelReason = "timeout" | "superseded" | "inconclusive";

/** A timeout that proved nothing: the daemon was not running for the probe's whole deadline. */
export interface InconclusiveProbe {
  readonly master: Endpoint;
  readonly role: ProbeRole;
  /** Wall time from the probe's start to the verdict. */
  readonly windowMs: number;
  /** Part of the window the event loop was stalled. */
  readonly stalledMs: number;
}

export interface HealthTransition {
  readonly master: Endpoint;
  readonly from: Health;
  readonly to: Health;
  /** Why, for the log line: "2 consecutive failures, last: connection refused". */
  readonly reason: string;
  readonly at: number;
}

export interface ControllerOutput {
  readonly commands: ControllerCommand[];
  readonly transitions: HealthTransition[];
  readonly inconclusive: InconclusiveProbe[];
  /** Set when "every master is down" turned on (true) or off (false) in this step. */
  allDownChanged: boolean | undefined;
}

interface InFlightProbe {
  readonly id: number;
  readonly role: ProbeRole;
  readonly startedAt: number;
  /** Moves later by the time the daemon was stalled (see judgeTimeout). */
  deadline: number;
  readonly timeoutMs: number;
  readonly slot: MasterSlot;
}

interface MasterSlot {
  readonly address: Endpoint;
  readonly tracker: HealthTracker;
  readonly inFlight: Map<number, InFlightProbe>;
  roundStartedAt: number;
  /** When to launch the hedge of the running round; undefined when none is due. */
  hedgeAt: number | undefined;
  /** When the next round starts; undefined while a round is running. */
  nextRoundAt: number | undefined;
  lastEarlyRoundAt: number;
}

export class CareController {
  private readonly timing: ControllerTiming;
  private readonly policy: AllDownPolicy;
  private readonly slots: MasterSlot[];
  private readonly probes = new Map<number, InFlightProbe>();
  private readonly stalls: LoopStallLog;
  private nextProbeId = 1;
  private allDown = false;

  /**
   * Every master gets its first round at `now`. `stalls` is where the driver records the event
   * loop's stalls; without it every timeout is evidence.
   */
  constructor(masters: readonly Endpoint[], timing: ControllerTiming, policy: AllDownPolicy, now: number, stalls = new LoopStallLog()) {
    this.timing = timing;
    this.stalls = stalls;
    this.policy = policy;
    this.slots = masters.map((address) => ({
      address,
      tracker: new HealthTracker(timing.fall, timing.rise),
      inFlight: new Map(),
      roundStartedAt: now,
      hedgeAt: undefined,
      nextRoundAt: now,
      lastEarlyRoundAt: Number.NEGATIVE_INFINITY,
    }));
  }

  /** Time has passed: expire deadlines, launch hedges and due rounds. */
  advance(now: number): ControllerOutput {
    const out = emptyOutput();
    for (const slot of this.slots) this.advanceSlot(slot, now, out);
    return out;
  }

  /** A probe answered (or failed on its own). Unknown ids (cancelled probes) are ignored. */
  probeResult(probeId: number, outcome: ProbeOutcome, now: number): ControllerOutput {
    const out = emptyOutput();
    const probe = this.probes.get(probeId);
    if (probe) {
      this.forget(probe);
      if (outcome.ok) this.onSuccess(probe.slot, outcome, now, out);
      else if (outcome.reason === "timeout" && !this.ranThroughout(probe, now, false)) this.onInconclusive(probe, now, false, out);
      else this.onFailure(probe.slot, outcome.detail, now, out);
    }
    for (const slot of this.slots) this.advanceSlot(slot, now, out);
    return out;
  }

  /**
   * The kept-alive probe connection to `master` was closed or reset by the other side while idle:
   * the master may just have died, so look now rather than at the next interval.
   */
  connectionLost(master: Endpoint, now: number): ControllerOutput {
    const out = emptyOutput();
    const slot = this.slotOf(master);
    if (
      slot &&
      slot.inFlight.size === 0 &&
      slot.tracker.health !== "down" &&
      now - slot.lastEarlyRoundAt >= this.timing.intervalMs
    ) {
      slot.lastEarlyRoundAt = now;
      slot.nextRoundAt = now;
    }
    for (const s of this.slots) this.advanceSlot(s, now, out);
    return out;
  }

  /** When `advance` must be called next; undefined when nothing is pending. */
  nextWakeAt(): number | undefined {
    let wake: number | undefined;
    const consider = (t: number | undefined): void => {
      if (t !== undefined && (wake === undefined || t < wake)) wake = t;
    };
    for (const slot of this.slots) {
      for (const probe of slot.inFlight.values()) consider(probe.deadline);
      if (slot.inFlight.size > 0) consider(slot.hedgeAt);
      else consider(slot.nextRoundAt);
    }
    return wake;
  }

  masters(): MasterHealth[] {
    return this.slots.map((slot) => ({ address: slot.address, health: slot.tracker.health }));
  }

  healthOf(master: Endpoint): Health | undefined {
    return this.slotOf(master)?.tracker.health;
  }

  desired(): DesiredDestinations {
    return desiredDestinations(this.masters(), this.policy);
  }

  /** Probes currently awaited, for the driver's bookkeeping and for tests. */
  inFlightCount(): number {
    return this.probes.size;
  }

  private advanceSlot(slot: MasterSlot, now: number, out: ControllerOutput): void {
    for (const probe of [...slot.inFlight.values()]) {
      if (probe.deadline > now) continue;
      const verdict = this.judgeTimeout(probe, now);
      if (verdict === "wait") continue;
      this.forget(probe);
      out.commands.push({ kind: "cancel-probe", probeId: probe.id, master: slot.address, why: verdict });
      if (verdict === "timeout") this.onFailure(slot, `timeout: no answer within ${probe.timeoutMs}ms`, now, out);
      else this.onInconclusive(probe, now, true, out);
    }
    if (slot.hedgeAt !== undefined && now >= slot.hedgeAt) {
      slot.hedgeAt = undefined;
      if (slot.inFlight.size > 0) this.startProbe(slot, "hedge", now, out);
    }
    if (slot.inFlight.size === 0 && slot.nextRoundAt !== undefined && now >= slot.nextRoundAt) {
      this.startRound(slot, now, out);
    }
  }

  private startRound(slot: MasterSlot, now: number, out: ControllerOutput): void {
    slot.roundStartedAt = now;
    slot.nextRoundAt = undefined;
    const hedge = slot.tracker.health === "up" && this.timing.hedgeDelayMs < this.timing.timeoutMs;
    slot.hedgeAt = hedge ? now + this.timing.hedgeDelayMs : undefined;
    this.startProbe(slot, "primary", now, out);
  }

  private startProbe(slot: MasterSlot, role: ProbeRole, now: number, out: ControllerOutput): void {
    const timeoutMs =
      slot.tracker.health === "unknown" ? Math.max(this.timing.timeoutMs, this.timing.firstContactTimeoutMs ?? 0) : this.timing.timeoutMs;
    const probe: InFlightProbe = { id: this.nextProbeId++, role, startedAt: now, deadline: now + timeoutMs, timeoutMs, slot };
    slot.inFlight.set(probe.id, probe);
    this.probes.set(probe.id, probe);
    out.commands.push({ kind: "start-probe", probeId: probe.id, master: slot.address, role, fresh: role === "hedge" });
  }

  /**
   * A probe's deadline passed at `now`. Evidence when the daemon ran for the whole timeout; else
   * the deadline moves by what the daemon still owes the probe (the answer may be unread in the
   * socket), and after MAX_WINDOW_FACTOR x the timeout of wall time it is inconclusive.
   */
  private judgeTimeout(probe: InFlightProbe, now: number): "timeout" | "inconclusive" | "wait" {
    if (this.ranThroughout(probe, now, true)) return "timeout";
    const lastChance = probe.startedAt + probe.timeoutMs * MAX_WINDOW_FACTOR;
    if (now >= lastChance) return "inconclusive";
    probe.deadline = Math.min(lastChance, now + probe.timeoutMs - this.ranFor(probe, now, true));
    return "wait";
  }

  /** Whether the daemon ran for (nearly) the probe's whole timeout between its start and `now`. */
  private ranThroughout(probe: InFlightProbe, now: number, checkIsLate: boolean): boolean {
    return this.ranFor(probe, now, checkIsLate) >= probe.timeoutMs - STALL_NOISE_MS;
  }

  /**
   * Milliseconds since the probe started during which the loop was running. When the check runs
   * on the deadline's timer, the timer's own lateness is a stall no sample may have seen yet.
   */
  private ranFor(probe: InFlightProbe, now: number, checkIsLate: boolean): number {
    const late = checkIsLate && now - probe.deadline >= STALL_NOISE_MS ? [{ from: probe.deadline, to: now }] : [];
    return now - probe.startedAt - this.stalls.stalledWithin(probe.startedAt, now, late);
  }

  private onInconclusive(probe: InFlightProbe, now: number, checkIsLate: boolean, out: ControllerOutput): void {
    const { slot } = probe;
    out.inconclusive.push({
      master: slot.address,
      role: probe.role,
      windowMs: now - probe.startedAt,
      stalledMs: now - probe.startedAt - this.ranFor(probe, now, checkIsLate),
    });
    if (slot.inFlight.size > 0) return; // the round's other probe may still answer
    slot.hedgeAt = undefined;
    slot.nextRoundAt = Math.max(slot.roundStartedAt + this.timing.intervalMs, now);
  }

  private forget(probe: InFlightProbe): void {
    probe.slot.inFlight.delete(probe.id);
    this.probes.delete(probe.id);
  }

  private onSuccess(slot: MasterSlot, outcome: ProbeOutcome, now: number, out: ControllerOutput): void {
    const change = slot.tracker.recordSuccess();
    if (change) {
      const answer = outcome.ok ? `HTTP ${outcome.status}` : "";
      const reason =
        change.from === "unknown"
          ? `first probe answered ${answer}`
          : `${slot.tracker.successStreak} consecutive successes, last: ${answer}`;
      this.transition(slot, change.from, change.to, reason, now, out);
    }
    // The round is settled: whatever the other probe says now is stale.
    for (const other of [...slot.inFlight.values()]) {
      this.forget(other);
      out.commands.push({ kind: "cancel-probe", probeId: other.id, master: slot.address, why: "superseded" });
    }
    slot.hedgeAt = undefined;
    slot.nextRoundAt = Math.max(slot.roundStartedAt + this.timing.intervalMs, now);
  }

  private onFailure(slot: MasterSlot, detail: string, now: number, out: ControllerOutput): void {
    const change = slot.tracker.recordFailure();
    if (change) {
      const reason = `${slot.tracker.failureStreak} consecutive failure${slot.tracker.failureStreak > 1 ? "s" : ""}, last: ${detail}`;
      this.transition(slot, change.from, change.to, reason, now, out);
    }
    if (slot.inFlight.size > 0) return; // the round's other probe still speaks
    slot.hedgeAt = undefined;
    slot.nextRoundAt =
      slot.tracker.health === "down" ? Math.max(slot.roundStartedAt + this.timing.intervalMs, now) : now;
  }

  private transition(slot: MasterSlot, from: Health, to: Health, reason: string, now: number, out: ControllerOutput): void {
    out.transitions.push({ master: slot.address, from, to, reason, at: now });
    const allDown = this.slots.every((s) => s.tracker.health === "down");
    if (allDown !== this.allDown) {
      this.allDown = allDown;
      out.allDownChanged = allDown;
    }
  }

  private slotOf(master: Endpoint): MasterSlot | undefined {
    const key = formatEndpoint(master);
    return this.slots.find((slot) => formatEndpoint(slot.address) === key);
  }
}

function emptyOutput(): ControllerOutput {
  return { commands: [], transitions: [], inconclusive: [], allDownChanged: undefined };
}
