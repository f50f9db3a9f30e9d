import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { summarizeRequests, type RequestRecord } from "../demo/summary.ts";

const ok = (t: number, ms = 3): RequestRecord => ({ t, ms, ok: true });
const failed = (t: number, ms = 3): RequestRecord => ({ t, ms, ok: false });

describe("demo summary", () => {
  it("counts every failed request in exactly one fault's window, by when it ended", () => {
    const records = [
      ok(0),
      failed(50), // before any fault
      ok(100),
      failed(990, 20), // started before the kill, failed after it: the kill's
      ok(1_050),
      failed(1_500), // during the kill's restore: still the kill's window
      ok(2_000),
      failed(2_100, 1_000), // the blackhole's (ended at 3100, before the next fault at 4000)
      failed(2_200),
      ok(4_100),
      failed(9_000), // after the last fault began: the last fault's
    ];
    const summary = summarizeRequests(records, [
      { fault: "blackhole", at: 2_000 },
      { fault: "kill", at: 1_000 },
      { fault: "flush", at: 4_000 },
    ]);
    assert.deepEqual(
      summary.rows.map((r) => [r.fault, r.failed, r.requests]),
      [
        ["kill", 2, 3],
        ["blackhole", 2, 3],
        ["flush", 1, 2],
      ],
    );
    assert.deepEqual([summary.before.failed, summary.before.requests], [1, 3]);
    assert.equal(summary.failed, 6);
    assert.equal(summary.requests, records.length);
    assert.equal(summary.rows.reduce((sum, r) => sum + r.failed, summary.before.failed), summary.failed, "rows add up to the total");
  });

  it("puts everything before the first fault when there are no faults", () => {
    const summary = summarizeRequests([failed(1), ok(2)], []);
    assert.deepEqual(summary.rows, []);
    assert.deepEqual([summary.before.failed, summary.before.requests], [1, 2]);
  });
});
