// The lvscare daemon's own account of what it did and when (its default text log format):
//   2026-05-01T10:00:03.512Z WARN  master 10.240.0.11:6443 down: out of rotation master=... reason="2 consecutive failures, last: connection refused"
//   2026-05-01T10:00:03.514Z INFO  ipvs: set 10.240.0.11:6443 weight 0 reason=... trigger=...
//   2026-05-01T10:00:03.514Z INFO  ipvs: delete 10.240.0.11:6443 reason=... trigger=...
// ("nftables:" instead of "ipvs:" under --dataplane nftables.) The table lines are written right after the operation returned, so their timestamps place
// a quiesce that the table poller may miss (weight 0 and delete are back to back).
import type { BackgroundProcess } from '../../test/harness/netns.ts';
import { onLines } from './line-tap.ts';

export type DaemonEventKind = 'down' | 'up' | 'weight0' | 'delete' | 'add';

export interface DaemonEvent {
  /** Epoch ms from the line's timestamp. */
  t: number;
  kind: DaemonEventKind;
  endpoint: string;
  /** For "down": why (the last failure). */
  reason?: string;
}

const LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z) +(\w+) +(.*)$/;
const PATTERNS: Array<[DaemonEventKind, RegExp]> = [
  ['down', /^master (\S+) down: .*?reason="((?:[^"\\]|\\.)*)"/],
  ['up', /^master (\S+) up: in rotation/],
  ['weight0', /^(?:ipvs|nftables): set (\S+) weight 0\b/],
  ['delete', /^(?:ipvs|nftables): delete (\S+)/],
  ['add', /^(?:ipvs|nftables): add (\S+) weight/],
];

export function parseDaemonLine(line: string): DaemonEvent | undefined {
  const match = LINE.exec(line);
  if (!match) return undefined;
  const t = Date.parse(match[1] as string);
  const message = match[3] as string;
  for (const [kind, pattern] of PATTERNS) {
    const found = pattern.exec(message);
    if (!found) continue;
    const event: DaemonEvent = { t, kind, endpoint: found[1] as string };
    if (kind === 'down' && found[2] !== undefined) event.reason = JSON.parse(`"${found[2]}"`) as string;
    return event;
  }
  return undefined;
}

export class DaemonLog {
  readonly events: DaemonEvent[] = [];
  /** Lines at WARN or ERROR that are not state changes, kept for the report (a crash, a netlink error). */
  readonly problems: string[] = [];
  /** Every timestamped line, for the account of a trial. */
  private readonly lines: Array<{ t: number; line: string }> = [];

  constructor(daemon: BackgroundProcess) {
    onLines(daemon.child, (line) => {
      const stamp = LINE.exec(line);
      if (stamp) this.lines.push({ t: Date.parse(stamp[1] as string), line });
      const event = parseDaemonLine(line);
      if (event) this.events.push(event);
      else if (/^\S+Z (ERROR|FATAL)/.test(line) || /^lvscare: /.test(line)) this.problems.push(line);
    });
  }

  /** The lines stamped from `from` to `to` (epoch ms), each cut to `width` characters. */
  linesBetween(from: number, to: number, width = 240): string[] {
    return this.lines.filter((l) => l.t >= from && l.t <= to).map((l) => l.line.slice(0, width));
  }

  /** The first event of `kind` for `endpoint` at or after `t`. */
  first(kind: DaemonEventKind, endpoint: string, t: number): DaemonEvent | undefined {
    return this.events.find((e) => e.kind === kind && e.endpoint === endpoint && e.t >= t);
  }

  count(kind: DaemonEventKind, endpoint: string, from: number, to: number): number {
    return this.events.filter((e) => e.kind === kind && e.endpoint === endpoint && e.t >= from && e.t <= to).length;
  }
}
