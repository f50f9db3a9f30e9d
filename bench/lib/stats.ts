// Order statistics for benchmark figures. Percentiles are nearest-rank: always a value that was
// actually observed, never an interpolation between two trials (with 20 trials, p95 is the 19th).
// A trial that never completed counts as +Infinity so it lands in the tail instead of vanishing.

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p95: number;
  max: number;
  /** Trials that did not complete within their limit (counted as +Infinity above). */
  incomplete: number;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile ${p} is not in (0, 100]`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, rank) - 1] as number;
}

export function summarize(values: readonly number[]): Summary {
  return {
    n: values.length,
    min: values.length === 0 ? Number.NaN : Math.min(...values),
    p50: percentile(values, 50),
    p95: percentile(values, 95),
    max: values.length === 0 ? Number.NaN : Math.max(...values),
    incomplete: values.filter((v) => v === Number.POSITIVE_INFINITY).length,
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** "412 ms", "1.53 s", "47.2 s", "never"; for tables. */
export function formatMs(ms: number): string {
  if (Number.isNaN(ms)) return '-';
  if (ms === Number.POSITIVE_INFINITY) return 'never';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** "36.4x"; a ratio of two medians or two p95s. */
export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return '-';
  return ratio >= 10 ? `${ratio.toFixed(0)}x` : `${ratio.toFixed(1)}x`;
}

/** JSON cannot hold Infinity: incomplete trials are written as null. */
export function jsonNumber(value: number): number | null {
  return Number.isFinite(value) ? Math.round(value * 10) / 10 : null;
}
