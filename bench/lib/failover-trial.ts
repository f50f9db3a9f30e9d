// One failover trial: pick the master the system's client is connected to, fault it (SIGKILL, or
// its switch port down), time until the system takes it out of rotation and until the client is
// served again, restore it, and wait until both systems and both clients are back to normal.
import type { Master } from '../../test/kernel/lib/cluster.ts';
import type { DaemonEvent } from './daemon-log.ts';
import type { Testbed } from './testbed.ts';
import type { RequestRecord, TrackedClient } from './tracked-client.ts';

export const FAULTS = ['kill', 'blackhole'] as const;
export type Fault = (typeof FAULTS)[number];
/** lvscare = the daemon with sealos's arguments (IPVS); nftables = a second daemon with --dataplane nftables on a VIP of its own. */
export const SYSTEMS = ['lvscare', 'nftables', 'haproxy'] as const;
export type System = (typeof SYSTEMS)[number];

export interface TrialLimits {
  /** How long a system may take to remove the master and the client to be served again. */
  failoverMs: Record<System, number>;
  /** How long both systems may take to take the restored master back. */
  recoveryMs: number;
}

export interface TrialResult {
  system: System;
  fault: Fault;
  victim: string;
  /** Epoch ms of the fault. */
  faultAt: number;
  /** Fault -> gone from the IPVS table (lvscare) or DOWN on the stats socket (HAProxy); Infinity if never within the limit. */
  removalMs: number;
  /** lvscare: fault -> weight 0 (the earlier of the table poll and the daemon's log line). */
  weight0Ms?: number;
  weight0Source?: 'table' | 'log';
  /** lvscare: fault -> the daemon's "ipvs: delete" log line (cross-checks the table poll). */
  deleteLoggedMs?: number;
  /** lvscare: the reason the daemon logged; HAProxy: the check status when it went DOWN. */
  reason?: string;
  /** Fault -> end of the client's first successful request that started after the fault; Infinity if none within the limit. */
  clientMs: number;
  /** Requests the client saw fail between the fault and that success (the one in flight at the fault included), and why. */
  clientFailures: number;
  clientErrors: Record<string, number>;
  servedBy?: string;
  /** Restore (master listening again / port up) -> back in this system's rotation. */
  rejoinMs: number;
  /** lvscare: its log lines from 1 s before the fault to the removal, to explain a slow trial. */
  daemonLines?: string[];
}

const IPVS_POLL_MS = 10;
const HAPROXY_POLL_MS = 50;
/**
 * nft's table: the worker's nf_tables generation is polled (netlink, cheap) and the table listed by
 * an nft exec only when it moved; the exec costs about a second of the TCG VM's only host thread,
 * and polling with it every 20 ms starved the daemon under test (before 2026-12-06).
 */
const NFT_POLL_MS = 10;
/** A client record older than this does not tell which master the connection is on now. */
const FRESH_RECORD_MS = 300;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs one trial. Returns undefined when the client's connection moved between choosing the victim
 * and the fault (the trial would not measure what it claims); the caller runs it again.
 */
export async function runTrial(bed: Testbed, system: System, fault: Fault, limits: TrialLimits): Promise<TrialResult | undefined> {
  const client = bed.clientFor(system);
  const anchor = await waitForFreshRecord(client);
  const victim = bed.master(anchor.who as string);

  // Victim choice and fault happen in one synchronous stretch: no client record can arrive between.
  let faultAt: number;
  let killed: Promise<void> | undefined;
  if (fault === 'kill') {
    faultAt = Date.now();
    killed = victim.kill(); // SIGKILL is sent before kill() first yields
  } else {
    bed.setSwitchPort(victim, false);
    faultAt = Date.now();
  }

  const limit = limits.failoverMs[system];
  const [removal, firstOk] = await Promise.all([
    system === 'haproxy' ? watchHaproxyDown(bed, victim, faultAt, limit) : watchTableRemoval(bed, system, victim, faultAt, limit),
    client.waitForRecord(faultAt, (r) => r.ok, limit),
  ]);
  await killed;

  // Requests that ended between the anchor and the fault must all have been served by the victim
  // on the same connection; an error among them means the client had already moved. (The request
  // in flight at the fault may fail: that is the fault.)
  const between = client.since(anchor.t + 1).filter((r) => r.t + r.ms < faultAt);
  const valid = between.every((r) => r.ok && r.who === victim.name);

  const restoreAt = await restore(bed, victim, fault);
  const rejoinMs = await waitRejoin(bed, system, victim, restoreAt, limits.recoveryMs);
  await bed.waitSteady(restoreAt, limits.recoveryMs);
  if (!valid) return undefined;

  // Failed requests that ended after the fault (the one in flight when it hit included), up to the first success.
  const failures = client.since(faultAt - limits.failoverMs[system]).filter((r) => !r.ok && r.t + r.ms >= faultAt && (firstOk === undefined || r.t < firstOk.t));
  const clientErrors: Record<string, number> = {};
  for (const r of failures) clientErrors[r.error ?? '?'] = (clientErrors[r.error ?? '?'] ?? 0) + 1;

  const result: TrialResult = {
    system,
    fault,
    victim: victim.name,
    faultAt,
    removalMs: removal.removedAt === undefined ? Number.POSITIVE_INFINITY : removal.removedAt - faultAt,
    clientMs: firstOk === undefined ? Number.POSITIVE_INFINITY : firstOk.t + firstOk.ms - faultAt,
    clientFailures: failures.length,
    clientErrors,
    rejoinMs,
  };
  if (firstOk?.who !== undefined) result.servedBy = firstOk.who;
  if (removal.reason !== undefined) result.reason = removal.reason;
  if (system !== 'haproxy') await addDaemonAccount(bed, system, victim, faultAt, removal, result);
  return result;
}

async function waitForFreshRecord(client: TrackedClient): Promise<RequestRecord & { who: string }> {
  const started = Date.now();
  for (;;) {
    const last = client.latest();
    if (last?.ok === true && last.who !== undefined && Date.now() - last.t <= FRESH_RECORD_MS) return last as RequestRecord & { who: string };
    if (Date.now() - started > 30_000) throw new Error(`the ${client.label} client has no recent success: ${JSON.stringify(client.records.slice(-3))}`);
    await sleep(5);
  }
}

interface Removal {
  removedAt?: number;
  weight0At?: number;
  reason?: string;
}

async function watchTableRemoval(bed: Testbed, system: 'lvscare' | 'nftables', victim: Master, faultAt: number, limitMs: number): Promise<Removal> {
  const removal: Removal = {};
  for (;;) {
    const weight = bed.weightsOf(system)[victim.endpoint];
    // Stamped after the IPVS dump, or when the nftables listing's generation was first seen: the
    // change happened before this moment (an upper bound).
    const now = system === 'nftables' ? (bed.nftWeightsAt() ?? Date.now()) : Date.now();
    if (weight === undefined) {
      removal.removedAt = now;
      return removal;
    }
    if (weight === 0 && removal.weight0At === undefined) removal.weight0At = now;
    if (now - faultAt > limitMs) return removal;
    await sleep(system === 'lvscare' ? IPVS_POLL_MS : NFT_POLL_MS);
  }
}

async function watchHaproxyDown(bed: Testbed, victim: Master, faultAt: number, limitMs: number): Promise<Removal> {
  for (;;) {
    const state = (await bed.haproxyServers()).get(victim.name);
    const now = Date.now();
    if (state?.status.startsWith('DOWN')) return { removedAt: now, reason: state.checkStatus };
    if (now - faultAt > limitMs) return {};
    await sleep(HAPROXY_POLL_MS);
  }
}

/** The daemon's log lines for the fault: weight 0 may last less than a poll; the reason it gave. */
async function addDaemonAccount(bed: Testbed, system: 'lvscare' | 'nftables', victim: Master, faultAt: number, removal: Removal, result: TrialResult): Promise<void> {
  const log = bed.daemonLogOf(system);
  let deleted: DaemonEvent | undefined;
  // The line is written right after the netlink operation; give the pipe a moment.
  for (let i = 0; i < 100 && removal.removedAt !== undefined && deleted === undefined; i++) {
    deleted = log.first('delete', victim.endpoint, faultAt);
    if (deleted === undefined) await sleep(20);
  }
  const weight0 = log.first('weight0', victim.endpoint, faultAt);
  const down = log.first('down', victim.endpoint, faultAt);
  if (deleted) result.deleteLoggedMs = deleted.t - faultAt;
  result.daemonLines = log.linesBetween(faultAt - 1000, (deleted?.t ?? removal.removedAt ?? Date.now()) + 100);
  if (down?.reason !== undefined) result.reason = down.reason;
  const candidates: Array<[number, 'table' | 'log']> = [];
  if (removal.weight0At !== undefined) candidates.push([removal.weight0At, 'table']);
  if (weight0 !== undefined) candidates.push([weight0.t, 'log']);
  candidates.sort((a, b) => a[0] - b[0]);
  const first = candidates[0];
  if (first) {
    result.weight0Ms = first[0] - faultAt;
    result.weight0Source = first[1];
  }
}

/** Brings the master back; returns when it is reachable again. */
async function restore(bed: Testbed, victim: Master, fault: Fault): Promise<number> {
  if (fault === 'kill') await victim.start();
  else bed.setSwitchPort(victim, true);
  return Date.now();
}

async function waitRejoin(bed: Testbed, system: System, victim: Master, restoreAt: number, limitMs: number): Promise<number> {
  for (;;) {
    const back = system === 'haproxy' ? (await bed.haproxyServers()).get(victim.name)?.status === 'UP' : bed.weightsOf(system)[victim.endpoint] === 1;
    const now = Date.now();
    if (back) return now - restoreAt;
    if (now - restoreAt > limitMs) throw new Error(`${victim.name} not back in ${system}'s rotation ${limitMs} ms after the restore: ${bed.describe()}`);
    await sleep(system === 'haproxy' ? HAPROXY_POLL_MS : IPVS_POLL_MS);
  }
}
