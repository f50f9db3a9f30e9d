/**
 * The running daemon (`lvscare care` without --run-once/-C): drives the pure CareController with
 * real time and real probes, and keeps the kernel in line with it by reconciling on every interval
 * and right after every health change. Everything impure lives here; every decision does not.
 */
import { type Endpoint, formatEndpoint } from "./address.ts";
import { systemClock, type Clock } from "./clock.ts";
import type { CareConfig } from "./config.ts";
import {
  type CancelReason,
  CareController,
  type ControllerOutput,
  type HealthTransition,
  type InconclusiveProbe,
  type ProbeRole,
} from "./controller/controller.ts";
import { LoopStallLog, type ThreadTimeSpent } from "./controller/loop-stall.ts";
import { describeOp } from "./dataplane/ops.ts";
import type { Dataplane, Ruler } from "./dataplane/types.ts";
import { desiredState } from "./desired-state.ts";
import { applySysctls, describeRuler } from "./host-setup.ts";
import type { Logger } from "./log.ts";
import { RepeatLimiter } from "./log-limiter.ts";
import { sampleLoopLag } from "./loop-lag.ts";
import type { CareMetrics } from "./metrics.ts";
import type { Prober } from "./probe/http-prober.ts";
import type { ProbeOutcome } from "./probe/outcome.ts";
import { reconcile } from "./reconcile.ts";
import { openThreadTimes, THREAD_SCHEDSTAT_PATH, type ThreadTimes, type ThreadTimesReader } from "./thread-times.ts";

/** How often the mode's ruler (route / dummy link / masquerade) is re-checked and repaired. */
export const RULER_CHECK_MS = 60_000;
/** Identical errors are logged once per this window. */
export const ERROR_REPEAT_WINDOW_MS = 60_000;

export interface CareDaemonOptions {
  readonly config: CareConfig;
  readonly dataplane: Dataplane;
  /** Builds the prober; the callback reports kept-alive connections the master closed or reset. */
  readonly createProber: (onConnectionLost: (master: Endpoint, error: Error) => void) => Prober;
  readonly ruler: Ruler | undefined;
  readonly logger: Logger;
  readonly metrics?: CareMetrics | undefined;
  readonly clock?: Clock | undefined;
  /**
   * Where the event loop thread's run-queue wait comes from (thread-times.ts): a path to a
   * schedstat file (default /proc/thread-self/schedstat, opened at start), or null to judge
   * stalls from timer lag alone.
   */
  readonly threadTimesPath?: string | null | undefined;
}

interface RunningProbe {
  readonly abort: AbortController;
  readonly master: Endpoint;
  readonly role: ProbeRole;
}

export class CareDaemon {
  private readonly config: CareConfig;
  private readonly dataplane: Dataplane;
  private readonly ruler: Ruler | undefined;
  private readonly logger: Logger;
  private readonly metrics: CareMetrics | undefined;
  private readonly clock: Clock;
  private readonly prober: Prober;
  private readonly errors: RepeatLimiter;
  private readonly running = new Map<number, RunningProbe>();
  private readonly stalls = new LoopStallLog();
  private stopLagSampler: (() => void) | undefined;
  private readonly threadTimesPath: string | null;
  private threadTimes: ThreadTimesReader | undefined;
  private lastThreadTimes: ThreadTimes | undefined;
  private controller: CareController | undefined;
  private cancelWake: (() => void) | undefined;
  private cancelTick: (() => void) | undefined;
  private reconcileRun: Promise<void> | undefined;
  private reconcileAgain: string | undefined;
  private stopped = false;
  private isReady = false;
  private lastTickAt: number;
  private lastRulerCheckAt: number;
  private rulerLogged = false;

  constructor(options: CareDaemonOptions) {
    this.config = options.config;
    this.dataplane = options.dataplane;
    this.ruler = options.ruler;
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.clock = options.clock ?? systemClock;
    this.threadTimesPath = options.threadTimesPath === undefined ? THREAD_SCHEDSTAT_PATH : options.threadTimesPath;
    this.errors = new RepeatLimiter(ERROR_REPEAT_WINDOW_MS, () => this.clock.now());
    this.lastTickAt = this.clock.now();
    this.lastRulerCheckAt = this.clock.now();
    this.prober = options.createProber((master, error) => this.onConnectionLost(master, error));
  }

  /** Host settings, the ruler, a first reconcile that adopts the kernel's state, then the loops. */
  async start(): Promise<void> {
    const { config } = this;
    this.logger.info(
      {
        vs: formatEndpoint(config.virtualServer),
        rs: config.realServers.map(formatEndpoint),
        mode: config.mode,
        scheduler: config.scheduler,
        interval: `${config.intervalMs}ms`,
        timeout: `${config.health.timeoutMs}ms`,
        fall: config.fall,
        rise: config.rise,
        allDown: config.allDown,
        probe: `${config.health.scheme}://<rs>${config.health.path}`,
      },
      "lvscare care starting",
    );
    await applySysctls(this.dataplane, config, this.logger);
    await this.ensureRuler();
    this.openThreadTimes();
    this.stopLagSampler = sampleLoopLag(this.clock, (at, lagMs, nextDueAt) => {
      this.stalls.record(at, lagMs, nextDueAt, this.threadTimeSpent());
      this.metrics?.loopLag(lagMs / 1000);
    });
    const now = this.clock.now();
    this.controller = new CareController(
      config.realServers,
      {
        intervalMs: config.intervalMs,
        timeoutMs: config.health.timeoutMs,
        hedgeDelayMs: config.hedgeDelayMs,
        firstContactTimeoutMs: config.firstContactTimeoutMs,
        fall: config.fall,
        rise: config.rise,
      },
      config.allDown,
      now,
      this.stalls,
    );
    // Health is unknown for everyone here: this pass only adopts what the kernel has, creates a
    // missing virtual server and prunes strangers; nothing of ours is removed or re-weighted.
    await this.requestReconcile("start-up");
    this.pump(this.controller.advance(this.decisionTime()));
    this.scheduleTick();
  }

  /** Stall measurement from the kernel's account of this thread, or from timer lag (logged once). */
  private openThreadTimes(): void {
    if (this.threadTimesPath === null) return;
    const opened = openThreadTimes(this.threadTimesPath);
    if ("why" in opened) {
      this.logger.warn(
        { why: opened.why },
        "the kernel does not report this thread's run-queue wait (CONFIG_SCHED_INFO): stalls of the daemon are judged from timer lag, which on a saturated node takes the daemon's slowness for its own starvation and can delay the removal of a blackholed master",
      );
      return;
    }
    this.threadTimes = opened.reader;
    this.lastThreadTimes = opened.reader.read();
  }

  /** The event loop thread's wait and CPU time since the previous call; undefined without schedstat. */
  private threadTimeSpent(): ThreadTimeSpent | undefined {
    if (!this.threadTimes || !this.lastThreadTimes) return undefined;
    const now = this.threadTimes.read();
    const spent = { waitedMs: Math.max(0, now.waitedMs - this.lastThreadTimes.waitedMs), ranMs: Math.max(0, now.ranMs - this.lastThreadTimes.ranMs) };
    this.lastThreadTimes = now;
    return spent;
  }

  /**
   * The time for a controller decision, after recording how long the thread just waited for the
   * CPU: a deadline judged right after a stall must count that stall, though the lag sampler has
   * not run yet.
   */
  private decisionTime(): number {
    const at = this.clock.now();
    const spent = this.threadTimeSpent();
    if (spent) this.stalls.measure(at, spent);
    return at;
  }

  /** Stops probing and the loops; the kernel rules stay, so traffic flows through a restart. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.cancelWake?.();
    this.cancelTick?.();
    this.stopLagSampler?.();
    this.threadTimes?.close();
    this.threadTimes = undefined;
    for (const probe of this.running.values()) probe.abort.abort();
    this.running.clear();
    await this.reconcileRun;
    await this.prober.close();
    this.logger.info("lvscare care stopped; IPVS rules left in place");
  }

  /** First reconcile done: the table is what we want it to be. */
  ready(): boolean {
    return this.isReady && !this.stopped;
  }

  /** The loop is ticking (for the liveness probe). */
  healthy(): boolean {
    const limit = Math.max(10_000, this.config.intervalMs * 5);
    return !this.stopped && this.clock.now() - this.lastTickAt < limit;
  }

  /** Waits for any reconcile in progress (tests use it to observe a settled table). */
  async settled(): Promise<void> {
    while (this.reconcileRun) await this.reconcileRun;
  }

  private scheduleTick(): void {
    if (this.stopped) return;
    this.cancelTick = this.clock.setTimer(this.config.intervalMs, () => {
      this.lastTickAt = this.clock.now();
      void this.requestReconcile("interval");
      if (this.clock.now() - this.lastRulerCheckAt >= RULER_CHECK_MS) {
        this.lastRulerCheckAt = this.clock.now();
        void this.ensureRuler();
      }
      this.scheduleTick();
    });
  }

  /** Carries out the controller's commands, logs its transitions, and re-arms the wake-up timer. */
  private pump(out: ControllerOutput): void {
    if (this.stopped || !this.controller) return;
    for (const command of out.commands) {
      if (command.kind === "start-probe") this.startProbe(command.probeId, command.master, command.role, command.fresh);
      else this.cancelProbe(command.probeId, command.why);
    }
    for (const probe of out.inconclusive) this.onInconclusive(probe);
    for (const transition of out.transitions) this.onTransition(transition);
    if (out.allDownChanged !== undefined) this.onAllDownChanged(out.allDownChanged);
    if (out.transitions.length > 0) void this.requestReconcile("health change");
    this.cancelWake?.();
    this.cancelWake = undefined;
    const wake = this.controller.nextWakeAt();
    if (wake !== undefined) {
      this.cancelWake = this.clock.setTimer(wake - this.clock.now(), () => {
        this.cancelWake = undefined;
        if (this.controller) this.pump(this.controller.advance(this.decisionTime()));
      });
    }
  }

  private startProbe(probeId: number, master: Endpoint, role: ProbeRole, fresh: boolean): void {
    const abort = new AbortController();
    this.running.set(probeId, { abort, master, role });
    const probe = this.prober
      .probe({ master, fresh, signal: abort.signal })
      .catch((err: unknown): ProbeOutcome => ({ ok: false, reason: "error", detail: String(err), latencyMs: 0 }));
    void probe.then((outcome) => {
      if (!this.running.delete(probeId) || this.stopped || !this.controller) return;
      this.recordProbe(master, role, outcome);
      this.pump(this.controller.probeResult(probeId, outcome, this.decisionTime()));
    });
  }

  private cancelProbe(probeId: number, why: CancelReason): void {
    const probe = this.running.get(probeId);
    if (!probe) return;
    this.running.delete(probeId);
    probe.abort.abort();
    if (why === "timeout") {
      this.metrics?.probe(probe.master, probe.role, "timeout", this.config.health.timeoutMs / 1000);
      this.logger.debug({ master: formatEndpoint(probe.master), role: probe.role }, "probe timed out");
    }
  }

  private recordProbe(master: Endpoint, role: ProbeRole, outcome: ProbeOutcome): void {
    this.metrics?.probe(master, role, outcome.ok ? "ok" : outcome.reason, outcome.latencyMs / 1000);
    if (!this.logger.isLevelEnabled("debug")) return;
    const fields = { master: formatEndpoint(master), role, ms: Math.round(outcome.latencyMs * 10) / 10 };
    if (outcome.ok) this.logger.debug({ ...fields, status: outcome.status }, "probe ok");
    else this.logger.debug({ ...fields, reason: outcome.reason, detail: outcome.detail }, "probe failed");
  }

  private onInconclusive(probe: InconclusiveProbe): void {
    this.metrics?.probeInconclusive(probe.master, probe.role);
    this.logger.debug(
      { master: formatEndpoint(probe.master), role: probe.role, windowMs: Math.round(probe.windowMs), stalledMs: Math.round(probe.stalledMs) },
      "probe inconclusive: the daemon was stalled during its deadline",
    );
  }

  private onConnectionLost(master: Endpoint, error: Error): void {
    if (this.stopped || !this.controller) return;
    this.logger.debug({ master: formatEndpoint(master), err: error.message }, "probe connection closed by the master");
    this.pump(this.controller.connectionLost(master, this.decisionTime()));
  }

  private onTransition(transition: HealthTransition): void {
    this.metrics?.transition(transition.master, transition.to);
    const fields = { master: formatEndpoint(transition.master), from: transition.from, reason: transition.reason };
    if (transition.to === "down") this.logger.warn(fields, `master ${fields.master} down: out of rotation`);
    else this.logger.info(fields, `master ${fields.master} ${transition.to === "up" ? "up: in rotation" : transition.to}`);
  }

  private onAllDownChanged(allDown: boolean): void {
    this.metrics?.setAllDown(allDown);
    if (!allDown) {
      this.logger.info("a master is healthy again: leaving all-masters-down mode");
    } else if (this.config.allDown === "keep") {
      this.logger.error("ALL masters fail their health checks: keeping all of them in rotation (--all-down keep, fail open)");
    } else {
      this.logger.error("ALL masters fail their health checks: removing all of them (--all-down remove)");
    }
  }

  /** Runs a reconcile now, or once more right after the one in progress (coalescing triggers). */
  private requestReconcile(why: string): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.reconcileRun) {
      this.reconcileAgain = why;
      return this.reconcileRun;
    }
    this.reconcileRun = (async () => {
      let reason: string | undefined = why;
      while (reason !== undefined && !this.stopped) {
        this.reconcileAgain = undefined;
        await this.reconcileOnce(reason);
        reason = this.reconcileAgain;
      }
    })().finally(() => {
      this.reconcileRun = undefined;
    });
    return this.reconcileRun;
  }

  private async reconcileOnce(why: string): Promise<void> {
    if (!this.controller) return;
    try {
      const desired = desiredState(this.config, this.controller.desired().destinations);
      const { destinations } = await reconcile(this.dataplane, desired, (op) => {
        this.logger.info({ reason: op.reason, trigger: why }, `${this.dataplane.kind}: ${describeOp(op)}`);
      });
      this.metrics?.reconciled(destinations);
      const suppressed = this.errors.clear("reconcile:");
      if (suppressed !== undefined) this.logger.info({ suppressed }, "reconcile works again");
      if (!this.isReady) {
        this.isReady = true;
        this.logger.info({ destinations }, "first reconcile done: ready");
      }
    } catch (err) {
      this.metrics?.reconcileFailed();
      this.logError("reconcile", "reconcile failed; retrying every interval", err);
    }
  }

  private async ensureRuler(): Promise<void> {
    if (!this.ruler) return;
    try {
      await this.dataplane.ensureRuler(this.ruler);
      const suppressed = this.errors.clear("ruler:");
      if (suppressed !== undefined) this.logger.info({ suppressed }, `${describeRuler(this.ruler)}: works again`);
      else if (!this.rulerLogged) this.logger.info(`${describeRuler(this.ruler)}: in place`);
      this.rulerLogged = true;
    } catch (err) {
      this.logError("ruler", `cannot set up the ${this.ruler.mode}-mode ruler; retrying`, err);
    }
  }

  private logError(key: string, message: string, err: unknown): void {
    const code = (err as { code?: unknown }).code;
    const text = err instanceof Error ? err.message : String(err);
    const admitted = this.errors.admit(`${key}:${String(code)}:${text}`);
    if (!admitted) return;
    this.logger.error({ err: text, code, suppressedRepeats: admitted.suppressed || undefined }, message);
  }
}
