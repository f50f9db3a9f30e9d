/** Certificate validity periods: parsed from the user's `99y`, written as Go durations. */

const HOURS_PER_UNIT: Record<string, number> = { h: 1, d: 24, y: 365 * 24 };

/** The longest validity we accept: X.509 GeneralizedTime stops at year 9999. */
const MAX_HOURS = 5000 * 365 * 24;

/** Parses `99y`, `3650d` or `876000h` into whole hours (a year is 365 days, as in kubeadm's 876000h). */
export function parseValidity(text: string): number | { error: string } {
  const match = /^([1-9][0-9]*)([hdy])$/.exec(text);
  if (match === null) return { error: `"${text}" is not a duration like 99y, 3650d or 876000h` };
  const hours = Number(match[1]) * (HOURS_PER_UNIT[match[2] ?? "h"] ?? 1);
  if (!Number.isSafeInteger(hours) || hours > MAX_HOURS) return { error: `"${text}" is too long` };
  return hours;
}

/** Hours as Go's time.Duration.String() prints them (`867240h0m0s`), the form kubeadm echoes back. */
export function goDurationFromHours(hours: number): string {
  return `${hours}h0m0s`;
}
