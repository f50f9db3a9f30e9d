// The demo's summary: every failed request through the VIP belongs to exactly one row. A fault's
// window runs from the moment its injection begins to the moment the next fault's begins (so it
// includes the restore), and a request belongs where it ended, since that is when its failure was
// seen (a request in flight when a master is killed started before the fault).

export interface RequestRecord {
  /** Start, epoch ms. */
  readonly t: number;
  /** Duration, ms. */
  readonly ms: number;
  readonly ok: boolean;
}

export interface FaultStart {
  readonly fault: string;
  /** Epoch ms at which the injection began. */
  readonly at: number;
}

export interface FaultRow {
  readonly fault: string;
  readonly failed: number;
  readonly requests: number;
}

export interface RequestSummary {
  readonly rows: FaultRow[];
  /** Requests that ended before the first fault. */
  readonly before: FaultRow;
  readonly failed: number;
  readonly requests: number;
}

export function summarizeRequests(records: readonly RequestRecord[], faults: readonly FaultStart[]): RequestSummary {
  const ordered = [...faults].sort((a, b) => a.at - b.at);
  const counts = ordered.map(() => ({ failed: 0, requests: 0 }));
  const before = { failed: 0, requests: 0 };
  for (const record of records) {
    const end = record.t + record.ms;
    let index = -1;
    for (let i = 0; i < ordered.length && (ordered[i]?.at ?? Number.POSITIVE_INFINITY) <= end; i++) index = i;
    const bucket = index < 0 ? before : counts[index];
    if (!bucket) continue;
    bucket.requests++;
    if (!record.ok) bucket.failed++;
  }
  return {
    rows: ordered.map((f, i) => ({ fault: f.fault, ...(counts[i] ?? { failed: 0, requests: 0 }) })),
    before: { fault: "before the first fault", ...before },
    failed: records.filter((r) => !r.ok).length,
    requests: records.length,
  };
}
