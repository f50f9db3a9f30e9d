// Turns trial results into the figures: p50/p95/max per system and fault, HAProxy/lvscare ratios,
// the targets' verdicts, and text tables for the console.
import type { Fault, System, TrialResult } from './failover-trial.ts';
import { formatMs, formatRatio, median, summarize, type Summary } from './stats.ts';

export const TARGET_REMOVAL_P95_MS: Record<Fault, number> = { kill: 1000, blackhole: 3000 };
export const FAULT_TITLES: Record<Fault, string> = {
  kill: 'killed master (SIGKILL: the kernel closes its connections and refuses new ones)',
  blackhole: 'blackholed master (its switch port down: no RST, packets vanish)',
};
const SYSTEM_TITLES: Record<System, string> = { lvscare: 'lvscare (IPVS)', nftables: 'lvscare (nftables)', haproxy: 'HAProxy (kubespray)' };

export interface SystemFigures {
  trials: number;
  removalMs: Summary;
  /** lvscare only. */
  weight0Ms?: Summary;
  /** lvscare only: fault -> the daemon's own "ipvs: delete" log line. */
  deleteLoggedMs?: Summary;
  clientMs: Summary;
  clientFailuresMedian: number;
  clientFailuresMax: number;
  rejoinMs: Summary;
}

export interface FaultFigures {
  systems: Partial<Record<System, SystemFigures>>;
  /** HAProxy / lvscare, when both ran. */
  ratios?: { removalP50: number; removalP95: number; clientP50: number; clientP95: number };
  /** lvscare's removal p95 against the target. */
  target?: { p95LimitMs: number; p95Ms: number; met: boolean };
  /** The same for lvscare with --dataplane nftables. */
  nftablesTarget?: { p95LimitMs: number; p95Ms: number; met: boolean };
}

export function figuresFor(results: readonly TrialResult[], fault: Fault): FaultFigures {
  const figures: FaultFigures = { systems: {} };
  for (const system of ['lvscare', 'nftables', 'haproxy'] as const) {
    const trials = results.filter((r) => r.fault === fault && r.system === system);
    if (trials.length === 0) continue;
    const weight0 = trials.map((r) => r.weight0Ms).filter((v): v is number => v !== undefined);
    const deleted = trials.map((r) => r.deleteLoggedMs).filter((v): v is number => v !== undefined);
    const failures = trials.map((r) => r.clientFailures);
    figures.systems[system] = {
      trials: trials.length,
      removalMs: summarize(trials.map((r) => r.removalMs)),
      ...(system !== 'haproxy' ? { weight0Ms: summarize(weight0), deleteLoggedMs: summarize(deleted) } : {}),
      clientMs: summarize(trials.map((r) => r.clientMs)),
      clientFailuresMedian: median(failures),
      clientFailuresMax: Math.max(...failures),
      rejoinMs: summarize(trials.map((r) => r.rejoinMs)),
    };
  }
  const lv = figures.systems.lvscare;
  const ha = figures.systems.haproxy;
  if (lv && ha) {
    figures.ratios = {
      removalP50: ha.removalMs.p50 / lv.removalMs.p50,
      removalP95: ha.removalMs.p95 / lv.removalMs.p95,
      clientP50: ha.clientMs.p50 / lv.clientMs.p50,
      clientP95: ha.clientMs.p95 / lv.clientMs.p95,
    };
  }
  const limit = TARGET_REMOVAL_P95_MS[fault];
  if (lv) figures.target = { p95LimitMs: limit, p95Ms: lv.removalMs.p95, met: lv.removalMs.p95 <= limit };
  const nft = figures.systems.nftables;
  if (nft) figures.nftablesTarget = { p95LimitMs: limit, p95Ms: nft.removalMs.p95, met: nft.removalMs.p95 <= limit };
  return figures;
}

function triple(summary: Summary | undefined): string[] {
  if (!summary || summary.n === 0) return ['-', '-', '-'];
  return [formatMs(summary.p50), formatMs(summary.p95), formatMs(summary.max)];
}

/** A fixed-width table for the console. */
export function faultTable(fault: Fault, figures: FaultFigures): string {
  const lv = figures.systems.lvscare;
  const nft = figures.systems.nftables;
  const ha = figures.systems.haproxy;
  const rows: string[][] = [
    [
      '',
      ...(lv ? [`${SYSTEM_TITLES.lvscare} p50`, 'p95', 'max'] : []),
      ...(nft ? [`${SYSTEM_TITLES.nftables} p50`, 'p95', 'max'] : []),
      ...(ha ? [`${SYSTEM_TITLES.haproxy} p50`, 'p95', 'max'] : []),
      ...(figures.ratios ? ['HAProxy/lvscare p50', 'p95'] : []),
    ],
  ];
  const row = (label: string, pick: (f: SystemFigures) => Summary | undefined, ratios?: [number, number]): void => {
    rows.push([
      label,
      ...(lv ? triple(pick(lv)) : []),
      ...(nft ? triple(pick(nft)) : []),
      ...(ha ? triple(pick(ha)) : []),
      ...(figures.ratios ? (ratios ? ratios.map(formatRatio) : ['', '']) : []),
    ]);
  };
  row('out of rotation (table: gone / HAProxy: DOWN)', (f) => f.removalMs, figures.ratios ? [figures.ratios.removalP50, figures.ratios.removalP95] : undefined);
  if (lv || nft) row('lvscare: weight 0 (quiesced)', (f) => f.weight0Ms);
  if (lv || nft) row('lvscare: deleted, per its own log line', (f) => f.deleteLoggedMs);
  row("client's first success after the fault", (f) => f.clientMs, figures.ratios ? [figures.ratios.clientP50, figures.ratios.clientP95] : undefined);
  row('back in rotation after the restore', (f) => f.rejoinMs);
  rows.push([
    'client requests failed (median / max)',
    ...(lv ? [`${lv.clientFailuresMedian} / ${lv.clientFailuresMax}`, '', ''] : []),
    ...(nft ? [`${nft.clientFailuresMedian} / ${nft.clientFailuresMax}`, '', ''] : []),
    ...(ha ? [`${ha.clientFailuresMedian} / ${ha.clientFailuresMax}`, '', ''] : []),
    ...(figures.ratios ? ['', ''] : []),
  ]);
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length)));
  const trials = [lv ? `lvscare ${lv.trials}` : '', nft ? `nftables ${nft.trials}` : '', ha ? `HAProxy ${ha.trials}` : ''].filter(Boolean).join(', ');
  const lines = rows.map((r) => r.map((cell, col) => (col === 0 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0))).join('  '));
  const verdict = figures.target
    ? `target (lvscare removal p95 <= ${formatMs(figures.target.p95LimitMs)}): ${figures.target.met ? 'met' : 'MISSED'} (${formatMs(figures.target.p95Ms)})`
    : '';
  const nftVerdict = figures.nftablesTarget
    ? `target (lvscare --dataplane nftables removal p95 <= ${formatMs(figures.nftablesTarget.p95LimitMs)}): ${figures.nftablesTarget.met ? 'met' : 'MISSED'} (${formatMs(figures.nftablesTarget.p95Ms)})`
    : '';
  return [`Failover, ${FAULT_TITLES[fault]}; trials: ${trials}`, ...lines, verdict, nftVerdict].filter(Boolean).join('\n');
}

/** One line per trial for the progress log. */
export function trialLine(index: number, total: number, r: TrialResult): string {
  const parts = [
    `trial ${index}/${total} ${r.fault} ${r.system}: victim ${r.victim}`,
    `out ${formatMs(r.removalMs)}`,
    ...(r.weight0Ms !== undefined ? [`weight 0 ${formatMs(r.weight0Ms)} (${r.weight0Source})`] : []),
    ...(r.deleteLoggedMs !== undefined ? [`delete logged ${formatMs(r.deleteLoggedMs)}`] : []),
    `client ok ${formatMs(r.clientMs)} via ${r.servedBy ?? '-'} after ${r.clientFailures} failed (${Object.entries(r.clientErrors).map(([k, v]) => `${k}x${v}`).join(',') || '-'})`,
    `back ${formatMs(r.rejoinMs)}`,
    ...(r.reason !== undefined ? [`reason: ${r.reason}`] : []),
  ];
  return parts.join('; ');
}
