/**
 * Durations as upstream lvscare accepts them (`--interval 5` = 5 s, as its "durationOrSecond"
 * flag type does) plus Go's duration syntax (`500ms`, `1.5s`, `1m30s`). Bare numbers are seconds
 * for every duration flag here, a superset of Go's parser that refuses them for --health-timeout.
 */
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  "μs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Milliseconds, or an error message (not thrown: callers add which flag it was). */
export function parseDurationMs(text: string): number | string {
  const value = text.trim();
  if (value === "") return "empty duration";
  if (value.startsWith("-")) return `negative duration "${text}"`;
  const unsigned = value.startsWith("+") ? value.slice(1) : value;
  if (/^[0-9]+(\.[0-9]+)?$/.test(unsigned)) return Number(unsigned) * 1000;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < unsigned.length) {
    const start = PART.lastIndex;
    const match = PART.exec(unsigned);
    if (!match || match.index !== start) return `"${text}" is not a duration (examples: 5, 5s, 500ms, 1m30s)`;
    const unit = UNIT_MS[match[2] ?? ""];
    if (unit === undefined) return `"${text}" has an unknown unit`;
    total += Number(match[1]) * unit;
  }
  return total;
}

/** `1s`, `250ms`, `1m30s`: short forms for logs and help text. */
export function formatDurationMs(ms: number): string {
  if (ms < 1000 || !Number.isInteger(ms / 1000)) return `${ms}ms`;
  const seconds = ms / 1000;
  if (seconds < 60 || seconds % 60 !== 0) return `${seconds}s`;
  return `${seconds / 60}m`;
}
