/** Go's time.ParseDuration, which kubeadm's metav1.Duration fields and flags use. */
const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;

/** Milliseconds, or undefined when Go would refuse the text. */
export function parseGoDuration(text: string): number | undefined {
  if (text === "0") return 0;
  let rest = text;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    sign = rest.startsWith("-") ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === "") return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < rest.length) {
    const match = PART.exec(rest);
    if (match === null) return undefined;
    total += Number(match[1]) * (UNITS[match[2] ?? ""] ?? Number.NaN);
  }
  return Number.isFinite(total) ? sign * total : undefined;
}

/** Go's Duration.String() for whole seconds and above, e.g. `24h0m0s`, `5m0s`. */
export function formatGoDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
