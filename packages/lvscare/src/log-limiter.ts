/**
 * Rate limit for repeated identical errors: upstream logged the same failure every interval and
 * filled disks (sealos#67, #723). The first occurrence is logged, repeats within the window are
 * counted, and the next one after the window is logged with that count.
 */
export class RepeatLimiter {
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly seen = new Map<string, { loggedAt: number; suppressed: number }>();

  constructor(windowMs: number, now: () => number) {
    this.windowMs = windowMs;
    this.now = now;
  }

  /** undefined: stay quiet; otherwise log, mentioning `suppressed` repeats since the last line. */
  admit(key: string): { suppressed: number } | undefined {
    const now = this.now();
    const entry = this.seen.get(key);
    if (entry && now - entry.loggedAt < this.windowMs) {
      entry.suppressed++;
      return undefined;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.seen.set(key, { loggedAt: now, suppressed: 0 });
    return { suppressed };
  }

  /**
   * The condition(s) under `prefix` ended; returns how many repeats went unlogged (undefined when
   * nothing was being limited), so the recovery line can say.
   */
  clear(prefix: string): number | undefined {
    let total: number | undefined;
    for (const [key, entry] of this.seen) {
      if (!key.startsWith(prefix)) continue;
      total = (total ?? 0) + entry.suppressed;
      this.seen.delete(key);
    }
    return total;
  }

  /** Keys currently being limited (conditions not cleared yet). */
  active(): string[] {
    return [...this.seen.keys()];
  }
}
