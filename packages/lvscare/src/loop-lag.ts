/**
 * Samples the event loop's lag: a timer re-armed every `periodMs` reports how late it fired. A
 * late timer means the daemon was not running (CPU quota, busy node, GC pause) for that long;
 * the controller uses these samples to tell its own stalls from a slow master.
 */
import type { Clock } from "./clock.ts";

/** Often enough that a stall is placed within a probe window to a few tens of ms; ~20 cheap wake-ups a second. */
export const LOOP_LAG_SAMPLE_MS = 50;

/** Calls `onSample(at, lagMs, nextDueAt)` after every period; returns a stop function. */
export function sampleLoopLag(
  clock: Clock,
  onSample: (at: number, lagMs: number, nextDueAt: number) => void,
  periodMs = LOOP_LAG_SAMPLE_MS,
): () => void {
  let cancel: (() => void) | undefined;
  let stopped = false;
  const arm = (expectedAt: number): void => {
    cancel = clock.setTimer(expectedAt - clock.now(), () => {
      if (stopped) return;
      const at = clock.now();
      onSample(at, Math.max(0, at - expectedAt), at + periodMs);
      arm(at + periodMs);
    });
  };
  arm(clock.now() + periodMs);
  return () => {
    stopped = true;
    cancel?.();
  };
}
