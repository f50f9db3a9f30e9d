/**
 * A single health verdict per master, for --run-once: one probe, plus one more on a fresh
 * connection when the first is still unanswered after the hedge delay or fails outright. Each is
 * bounded by the timeout, so the verdict comes within hedge delay + timeout. Healthy when either
 * answers well; otherwise the first failure is the reason.
 */
import type { Endpoint } from "../address.ts";
import type { Prober } from "./http-prober.ts";
import type { ProbeOutcome } from "./outcome.ts";

export async function probeOnce(
  prober: Prober,
  master: Endpoint,
  timing: { readonly timeoutMs: number; readonly hedgeDelayMs: number },
): Promise<ProbeOutcome> {
  const aborts: AbortController[] = [];
  let hedgeTimer: NodeJS.Timeout | undefined;
  const launch = async (fresh: boolean): Promise<ProbeOutcome> => {
    const abort = new AbortController();
    aborts.push(abort);
    const timer = setTimeout(() => abort.abort(), timing.timeoutMs);
    try {
      return await prober.probe({ master, fresh, signal: abort.signal });
    } finally {
      clearTimeout(timer);
    }
  };
  try {
    return await new Promise<ProbeOutcome>((resolve) => {
      let outstanding = 0;
      let hedged = false;
      let settled = false;
      const failures: ProbeOutcome[] = [];
      const run = (fresh: boolean): void => {
        outstanding++;
        void launch(fresh).then((outcome) => {
          outstanding--;
          if (settled) return;
          if (outcome.ok) {
            settled = true;
            resolve(outcome);
            return;
          }
          failures.push(outcome);
          if (!hedged) startHedge();
          else if (outstanding === 0) {
            settled = true;
            resolve(failures[0] ?? outcome);
          }
        });
      };
      const startHedge = (): void => {
        if (hedged) return;
        hedged = true;
        clearTimeout(hedgeTimer);
        run(true);
      };
      hedgeTimer = setTimeout(startHedge, timing.hedgeDelayMs);
      run(false);
    });
  } finally {
    clearTimeout(hedgeTimer);
    for (const abort of aborts) abort.abort();
  }
}
