/**
 * When the daemon itself was not running. A probe deadline that fires late cannot tell a slow
 * master from a daemon that did not get the CPU (a CFS quota on the pod, a node busy starting
 * pods, a GC pause): the answer may be sitting unread in the socket. The driver samples the event
 * loop's lag (a timer's drift) and records each stall here; the controller asks how much of a
 * probe's window the daemon spent stalled before it counts a timeout as evidence.
 *
 * A sample's lag is a lower bound of the stall: the loop may have stopped any time after the
 * previous sample. A small lag (a busy or slow machine) counts as itself; a lag of half the
 * sampling period or more counts the whole interval since the previous sample. Under a CPU quota
 * the loop runs a few ms per CFS period and the timer is due in the middle of the throttled part:
 * counting only the lag would credit the daemon with half its stalls, and a starved daemon's
 * timeouts would pass as evidence.
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

export class LoopStallLog {
  private stalls: Stall[] = [];
  private lastSampleAt: number | undefined;
  /** When the sampler's next timer is due: a check made later than this sees a stall in progress. */
  private nextSampleDue: number | undefined;

  /**
   * At `at`, the sampler's timer fired `lagMs` late; its next timer is due at `nextDueAt`.
   * A late one marks everything since the previous sample as stalled.
   */
  record(at: number, lagMs: number, nextDueAt: number): void {
    const previous = this.lastSampleAt;
    this.lastSampleAt = at;
    this.nextSampleDue = nextDueAt;
    if (!(lagMs >= STALL_NOISE_MS)) return;
    this.stalls.push({ from: stallStart(at - lagMs, at, previous), to: at });
    const horizon = at - HORIZON_MS;
    if (this.stalls.length > 64 && (this.stalls[0]?.to ?? at) < horizon) this.stalls = this.stalls.filter((s) => s.to >= horizon);
  }

  /**
   * Milliseconds of [from, to] during which the loop was stalled, counting `extra` stalls too
   * (the lateness of the check being made now), and the stall still in progress when the
   * sampler's timer is overdue: a timer that expired during the same stall may run before the
   * sampler's. Overlaps count once.
   */
  stalledWithin(from: number, to: number, extra: readonly Stall[] = []): number {
    const due = this.nextSampleDue;
    const inProgress = due !== undefined && to - due >= STALL_NOISE_MS ? [{ from: stallStart(due, to, this.lastSampleAt), to }] : [];
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
