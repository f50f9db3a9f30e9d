/**
 * Discrete-event simulation around the pure CareController: a fake clock, masters whose answers
 * are scripted per probe, and external events (a master killed, a connection reset) at given
 * simulated times. Time here is simulated milliseconds; nothing sleeps.
 */
import { type Endpoint, formatEndpoint, parseEndpoint } from "../../src/address.ts";
import type { AllDownPolicy } from "../../src/config.ts";
import {
  CareController,
  type ControllerOutput,
  type ControllerTiming,
  type HealthTransition,
  type InconclusiveProbe,
  type ProbeRole,
} from "../../src/controller/controller.ts";
import { LoopStallLog } from "../../src/controller/loop-stall.ts";
import { LOOP_LAG_SAMPLE_MS } from "../../src/loop-lag.ts";
import type { ProbeOutcome } from "../../src/probe/outcome.ts";
import { FIRST_CONTACT_TIMEOUT_MS } from "../../src/config.ts";

export const DEFAULT_TIMING: ControllerTiming = {
  intervalMs: 1000,
  timeoutMs: 1000,
  hedgeDelayMs: 250,
  firstContactTimeoutMs: FIRST_CONTACT_TIMEOUT_MS,
  fall: 2,
  rise: 2,
};

export interface ProbeAttempt {
  readonly at: number;
  readonly master: string;
  readonly role: ProbeRole;
  readonly fresh: boolean;
  /** 0-based count of probes sent to this master so far. */
  readonly seq: number;
}

/** How a master answers one probe: after some time with an outcome, or never (blackhole). */
export type Answer = { readonly afterMs: number; readonly outcome: ProbeOutcome } | "never";
export type Behaviour = (attempt: ProbeAttempt) => Answer;

export const healthy = (latencyMs = 3): Behaviour => () => ({ afterMs: latencyMs, outcome: { ok: true, status: 200, latencyMs } });
export const refused: Behaviour = () => ({
  afterMs: 1,
  outcome: { ok: false, reason: "refused", detail: "connection refused", latencyMs: 1 },
});
export const blackhole: Behaviour = () => "never";
export const httpStatus = (status: number): Behaviour => () => ({
  afterMs: 2,
  outcome: { ok: false, reason: "status", status, detail: `HTTP ${status}`, latencyMs: 2 },
});
/** Answers 200, but only after `ms` (slower than the timeout when ms > timeout). */
export const slow = (ms: number): Behaviour => () => ({ afterMs: ms, outcome: { ok: true, status: 200, latencyMs: ms } });

/**
 * How the simulated daemon learns of its stalls: "kernel", the thread's run-queue wait and CPU
 * time (schedstat, the default on Linux); "lag", timer lag alone (kernels without schedstat);
 * "none", not at all (how the daemon behaved before it measured them).
 */
export type StallMeasure = "kernel" | "lag" | "none";

/**
 * Why the daemon does not run during a stall window: "waiting", it is runnable but has no CPU (a
 * spent quota, a saturated node; the kernel counts the time as run-queue wait only from the moment
 * something was due); "running", it is busy on the CPU with something else (a GC pause).
 */
export type StallKind = "waiting" | "running";

export class Simulation {
  readonly controller: CareController;
  readonly transitions: HealthTransition[] = [];
  readonly attempts: ProbeAttempt[] = [];
  readonly allDownChanges: Array<{ at: number; allDown: boolean }> = [];
  readonly cancelled: number[] = [];
  readonly inconclusive: InconclusiveProbe[] = [];
  now = 0;
  private readonly behaviours = new Map<string, Behaviour>();
  private readonly sent = new Map<string, number>();
  private pending: Array<{ at: number; probeId: number; outcome: ProbeOutcome }> = [];
  private events: Array<{ at: number; run: () => void }> = [];
  /** Windows during which the daemon does not run (sorted, disjoint). */
  private stallWindows: Array<{ from: number; to: number; kind: StallKind; accounted: boolean }> = [];
  private readonly measure: StallMeasure;
  /** The daemon thread's schedstat as the kernel would keep it, and what was last reported of it. */
  private readonly thread = { waitedMs: 0, ranMs: 0 };
  private readonly reported = { waitedMs: 0, ranMs: 0 };
  private readonly stalls: LoopStallLog | undefined;
  /** The daemon's lag sampler (LOOP_LAG_SAMPLE_MS), modelled as one more timer. */
  private nextSampleAt = LOOP_LAG_SAMPLE_MS;

  constructor(
    masters: Record<string, Behaviour>,
    timing: ControllerTiming = DEFAULT_TIMING,
    policy: AllDownPolicy = "keep",
    measure: StallMeasure = "kernel",
  ) {
    const endpoints = Object.keys(masters).map((m) => parseEndpoint(m, "master"));
    for (const [master, behaviour] of Object.entries(masters)) this.behaviours.set(master, behaviour);
    this.measure = measure;
    this.stalls = measure === "none" ? undefined : new LoopStallLog();
    this.controller = new CareController(endpoints, timing, policy, 0, this.stalls);
    this.absorb(this.controller.advance(0));
  }

  /** From simulated time `at` on, `master` answers per `behaviour`. */
  setBehaviour(at: number, master: string, behaviour: Behaviour): void {
    this.schedule(at, () => this.behaviours.set(master, behaviour));
  }

  /** At `at`, the kept-alive connection to `master` is closed by the other side (process died). */
  connectionLost(at: number, master: string): void {
    this.schedule(at, () => this.absorb(this.controller.connectionLost(parseEndpoint(master, "master"), this.now)));
  }

  /**
   * The daemon gets no CPU during [from, to): its timers and socket reads wait until `to`, where
   * (as in Node) expired timers run before I/O, and the controller's deadline timer before the
   * lag sampler's (the worse order: the stall is not reported yet when the deadline is judged).
   */
  starve(from: number, to: number, kind: StallKind = "waiting"): void {
    this.stallWindows.push({ from, to, kind, accounted: false });
    this.stallWindows.sort((a, b) => a.from - b.from);
  }

  schedule(at: number, run: () => void): void {
    this.events.push({ at, run });
    this.events.sort((a, b) => a.at - b.at);
  }

  runUntil(end: number): void {
    for (;;) {
      const wake = this.controller.nextWakeAt();
      const nextAnswer = this.pending.reduce((min, p) => Math.min(min, p.at), Number.POSITIVE_INFINITY);
      const nextEvent = this.events[0]?.at ?? Number.POSITIVE_INFINITY;
      const wakeAt = this.resumeAt(wake ?? Number.POSITIVE_INFINITY);
      const answerAt = this.resumeAt(nextAnswer);
      const reportAt = this.stalls ? this.resumeAt(this.nextSampleAt) : Number.POSITIVE_INFINITY;
      const next = Math.min(wakeAt, answerAt, nextEvent, reportAt);
      if (next > end) break;
      this.now = Math.max(this.now, next);
      if (nextEvent === next) {
        this.events.shift()?.run();
        continue;
      }
      // The daemon runs now: the kernel has counted the stall it comes out of.
      this.accountStall(Math.min(wake ?? Number.POSITIVE_INFINITY, nextAnswer, this.stalls ? this.nextSampleAt : Number.POSITIVE_INFINITY));
      if (wakeAt === next) {
        this.measureThread();
        this.absorb(this.controller.advance(this.now));
      } else if (reportAt === next) {
        this.stalls?.record(this.now, this.now - this.nextSampleAt, this.now + LOOP_LAG_SAMPLE_MS, this.threadSpent());
        this.nextSampleAt = this.now + LOOP_LAG_SAMPLE_MS;
      } else {
        const index = this.pending.findIndex((p) => p.at === nextAnswer);
        const [answer] = this.pending.splice(index, 1);
        this.measureThread();
        if (answer) this.absorb(this.controller.probeResult(answer.probeId, answer.outcome, this.now));
      }
    }
    this.now = end;
  }

  /** When `master` last went to `health` at or after `since`; undefined if it did not. */
  transitionTime(master: string, to: string, since = 0): number | undefined {
    return this.transitions.find((t) => formatEndpoint(t.master) === master && t.to === to && t.at >= since)?.at;
  }

  transitionsOf(master: string): HealthTransition[] {
    return this.transitions.filter((t) => formatEndpoint(t.master) === master);
  }

  attemptsOf(master: string, from = 0, to = Number.POSITIVE_INFINITY): ProbeAttempt[] {
    return this.attempts.filter((a) => a.master === master && a.at >= from && a.at < to);
  }

  /**
   * The stall window the daemon resumes from, into the thread's times: a busy one all on the CPU;
   * a waiting one as run-queue wait from when the first thing was due (`firstDue`), as a sleeping
   * thread is not queued.
   */
  private accountStall(firstDue: number): void {
    const window = this.stallWindows.find((w) => !w.accounted && w.to === this.now && w.from <= firstDue);
    if (!window) return;
    window.accounted = true;
    if (window.kind === "running") this.thread.ranMs += window.to - window.from;
    else this.thread.waitedMs += window.to - Math.max(window.from, firstDue);
  }

  /** The thread's times since the previous report, for the "kernel" measure. */
  private threadSpent(): { waitedMs: number; ranMs: number } | undefined {
    if (this.measure !== "kernel") return undefined;
    const spent = { waitedMs: this.thread.waitedMs - this.reported.waitedMs, ranMs: this.thread.ranMs - this.reported.ranMs };
    Object.assign(this.reported, this.thread);
    return spent;
  }

  /** As the daemon does before each decision (care.ts decisionTime). */
  private measureThread(): void {
    const spent = this.threadSpent();
    if (spent) this.stalls?.measure(this.now, spent);
  }

  /** When the daemon, wanting to run at `t`, actually runs. */
  private resumeAt(t: number): number {
    for (const window of this.stallWindows) {
      if (window.from > t) break;
      if (t < window.to) return window.to;
    }
    return t;
  }

  private absorb(out: ControllerOutput): void {
    this.transitions.push(...out.transitions);
    this.inconclusive.push(...out.inconclusive);
    if (out.allDownChanged !== undefined) this.allDownChanges.push({ at: this.now, allDown: out.allDownChanged });
    for (const command of out.commands) {
      if (command.kind === "cancel-probe") {
        this.cancelled.push(command.probeId);
        this.pending = this.pending.filter((p) => p.probeId !== command.probeId);
        continue;
      }
      const master = formatEndpoint(command.master);
      const seq = this.sent.get(master) ?? 0;
      this.sent.set(master, seq + 1);
      const attempt: ProbeAttempt = { at: this.now, master, role: command.role, fresh: command.fresh, seq };
      this.attempts.push(attempt);
      const behaviour = this.behaviours.get(master);
      if (!behaviour) throw new Error(`no behaviour for ${master}`);
      const answer = behaviour(attempt);
      if (answer !== "never") this.pending.push({ at: this.now + answer.afterMs, probeId: command.probeId, outcome: answer.outcome });
    }
  }
}

export function endpoint(text: string): Endpoint {
  return parseEndpoint(text, "test");
}
