/**
 * When the daemon itself was not running. A probe deadline that fires late cannot tell a slow
 * master from a daemon that did not get the CPU (a CFS quota on the pod, a node busy starting
 * pods, a GC pause): the answer may be sitting unread in the socket. The driver samples the event
 * loop's lag (a timer's drift) and records each stall here; the controller asks how much of a
 * probe's window the daemon spent stalled before it counts a timeout as evidence.
 *
 * Two ways to know how long the loop stalled:
 * - The kernel's account of the thread (thread-times.ts), when the driver passes it: time spent
 *   runnable but waiting for a CPU (another process had it, or the cgroup's quota was spent) is a
 *   stall, exactly; so is the thread's own CPU time when the sampler fired late (a long
 *   synchronous stretch or a GC pause kept it from its sockets). An idle loop in epoll is not.
 *   The driver also measures right before each decision, so a stall still in progress when a
 *   deadline is judged is counted too.
 * - Timer lag alone, where the kernel does not tell: a sample's lag is a lower bound of the stall,
 *   as the loop may have stopped any time after the previous sample. A small lag counts as itself;
 *   a lag of half the sampling period or more counts the whole interval since the previous sample.
 *   Under a CPU quota the loop runs a few ms per CFS period and the timer is due in the middle of
 *   the throttled part: counting only the lag would credit the daemon with half its stalls. The
 *   price: on a saturated machine where the daemon gets, say, 60% of what it asks, every sample is
 *   late by more than half a period and the daemon counts itself as never running, so a blackholed
 *   master's timeouts stay inconclusive (seen in the failover benchmark's busy VM).
 *
 * Pure: times are the controller's monotonic milliseconds, and nothing here reads a clock.
 */

/** Lag below this is timer jitter, not a stall. */
export const STALL_NOISE_MS = 10;
/** Stalls older than this are forgotten (longer than any probe window). */
const HORIZON_MS = 120_000;

interface Stall {
  readonly from: number;
  readonly to: number;
}

/** The event loop thread's time since the previous measurement, as the kernel accounts it. */
export interface ThreadTimeSpent {
  /** Runnable but waiting for a CPU (throttling included). */
  readonly waitedMs: number;
  /** On a CPU. */
  readonly ranMs: number;
}

export class LoopStallLog {
  private stalls: Stall[] = [];
  private lastSampleAt: number | undefined;
  /** When the sampler's next timer is due: a check made later than this sees a stall in progress. */
  private nextSampleDue: number | undefined;
  /** When the kernel's account of the thread was last taken; undefined until it first is. */
  private lastMeasuredAt: number | undefined;

  /**
   * At `at`, the sampler's timer fired `lagMs` late; its next timer is due at `nextDueAt`.
   * `spent`: the thread's time since the previous measurement, when the kernel reports it.
   * Without it, a late sample marks everything since the previous sample as stalled.
   */
  record(at: number, lagMs: number, nextDueAt: number, spent?: ThreadTimeSpent): void {
    const previous = this.lastSampleAt;
    this.lastSampleAt = at;
    this.nextSampleDue = nextDueAt;
    if (spent) {
      const late = lagMs >= STALL_NOISE_MS;
      // Late: the loop was blocked when the timer was due, by waiting or by its own work, and
      // any of the thread's time since the last measurement may belong to that block.
      this.measured(late ? at : at - lagMs, late ? Math.max(lagMs, spent.waitedMs + spent.ranMs) : spent.waitedMs, at);
      return;
    }
    if (!(lagMs >= STALL_NOISE_MS)) return;
    this.add({ from: stallStart(at - lagMs, at, previous), to: at });
  }

  /**
   * The kernel's account taken at `at` between samples (the driver does so before each decision):
   * the wait since the previous measurement is a stall that ended just now.
   */
  measure(at: number, spent: ThreadTimeSpent): void {
    this.measured(at, spent.waitedMs, at);
  }

  private measured(endsAt: number, stalledMs: number, at: number): void {
    const since = this.lastMeasuredAt ?? Number.NEGATIVE_INFINITY;
    this.lastMeasuredAt = at;
    const from = Math.max(since, endsAt - stalledMs);
    if (endsAt - from >= STALL_NOISE_MS) this.add({ from, to: endsAt });
  }

  private add(stall: Stall): void {
    this.stalls.push(stall);
    const horizon = stall.to - HORIZON_MS;
    if (this.stalls.length > 64 && (this.stalls[0]?.to ?? stall.to) < horizon) this.stalls = this.stalls.filter((s) => s.to >= horizon);
  }

  /**
   * Milliseconds of [from, to] during which the loop was stalled, counting `extra` stalls too
   * (the lateness of the check being made now), and the stall still in progress when the
   * sampler's timer is overdue: a timer that expired during the same stall may run before the
   * sampler's (measured by the kernel, the overdue part; guessed from lag, see the header).
   * Overlaps count once.
   */
  stalledWithin(from: number, to: number, extra: readonly Stall[] = []): number {
    const due = this.nextSampleDue;
    const overdue = due !== undefined && to - due >= STALL_NOISE_MS;
    const inProgress = overdue ? [{ from: this.lastMeasuredAt === undefined ? stallStart(due, to, this.lastSampleAt) : due, to }] : [];
    const clipped = [...this.stalls, ...extra, ...inProgress]
      .map((s) => ({ from: Math.max(s.from, from), to: Math.min(s.to, to) }))
      .filter((s) => s.to > s.from)
      .sort((a, b) => a.from - b.from);
    let total = 0;
    let coveredTo = Number.NEGATIVE_INFINITY;
    for (const s of clipped) {
      const start = Math.max(s.from, coveredTo);
      if (s.to > start) total += s.to - start;
      coveredTo = Math.max(coveredTo, s.to);
    }
    return total;
  }
}

/** A timer due at `due` ran at `at`: where the stall began (see the header). */
function stallStart(due: number, at: number, previousSample: number | undefined): number {
  if (previousSample === undefined) return due;
  return at - due >= (due - previousSample) / 2 ? Math.min(previousSample, due) : due;
}
