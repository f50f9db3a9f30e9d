// A kubelet-like client (the kernel tests' vip-client fixture: one kept-alive HTTPS connection, a
// request every interval, reconnect on any error) whose every request is kept as a record, so a
// trial can ask "which master is my connection on" and "when did I first succeed after the fault".
import path from 'node:path';
import type { BackgroundProcess, Netns } from '../../test/harness/netns.ts';
import { repoRoot } from '../../test/harness/paths.ts';
import { onLines } from './line-tap.ts';

const VIP_CLIENT = path.join(repoRoot, 'test', 'kernel', 'fixtures', 'vip-client.ts');

export interface RequestRecord {
  /** Epoch ms when the request started. */
  t: number;
  /** Its duration. */
  ms: number;
  ok: boolean;
  /** The master that answered (its /whoami). */
  who?: string;
  error?: string;
}

export class TrackedClient {
  readonly label: string;
  readonly url: string;
  readonly process: BackgroundProcess;
  readonly records: RequestRecord[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(label: string, url: string, child: BackgroundProcess) {
    this.label = label;
    this.url = url;
    this.process = child;
    onLines(child.child, (line, source) => {
      if (source !== 'stdout' || !line.startsWith('{')) return;
      this.records.push(JSON.parse(line) as RequestRecord);
      for (const waiter of this.waiters) waiter();
    });
  }

  static start(netns: Netns, label: string, url: string, intervalMs: number, timeoutMs: number): TrackedClient {
    // The harness keeps a small tail only (for error messages); the records live here.
    const child = netns.spawn([process.execPath, VIP_CLIENT, url, String(intervalMs), String(timeoutMs)], { maxOutputBytes: 64 * 1024 });
    return new TrackedClient(label, url, child);
  }

  latest(): RequestRecord | undefined {
    return this.records.at(-1);
  }

  /**
   * The master the client's kept-alive connection is talking to: the answer of the latest request,
   * provided it succeeded and started within `freshMs` (a reconnect only follows an error).
   */
  currentMaster(freshMs: number, now = Date.now()): string | undefined {
    const last = this.latest();
    return last?.ok === true && now - last.t <= freshMs ? last.who : undefined;
  }

  /** Records of requests that started at or after `t` (epoch ms). */
  since(t: number): RequestRecord[] {
    let start = this.records.length;
    while (start > 0 && (this.records[start - 1] as RequestRecord).t >= t) start -= 1;
    return this.records.slice(start);
  }

  /** Resolves with the first record (starting at or after `t`) that satisfies `predicate`, or undefined after `timeoutMs`. */
  waitForRecord(t: number, predicate: (record: RequestRecord) => boolean, timeoutMs: number): Promise<RequestRecord | undefined> {
    return new Promise((resolve) => {
      const check = (): void => {
        const found = this.since(t).find(predicate);
        if (found !== undefined) finish(found);
      };
      const finish = (record: RequestRecord | undefined): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(record);
      };
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  stop(): Promise<unknown> {
    return this.process.stop(2000);
  }
}
