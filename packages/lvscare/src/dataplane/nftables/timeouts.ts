/**
 * How long an nft command may take, apart from the runners so the daemon's CLI can size it
 * without loading the nftables engine (it is loaded lazily, only with --dataplane nftables).
 */

/** A command that does not answer within this is abandoned (the process killed). */
export const DEFAULT_TIMEOUT_MS = 5_000;

/**
 * The daemon's nft command timeout: two intervals (at least 2 s, at most the default), so a wedged
 * nft holds a pending change back by about two intervals, not five. Not one interval: in the
 * failover benchmark's VM under heavy load (TCG, 2026-12-05) plain commands took over 1 s, and each
 * needless kill costs a new process. The retry on a new process gets the full default, so a
 * machine that is merely slow is not caught in a loop of kills.
 */
export function nftCommandTimeoutFor(intervalMs: number): number {
  return Math.min(DEFAULT_TIMEOUT_MS, Math.max(2_000, 2 * intervalMs));
}
