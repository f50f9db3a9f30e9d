import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { openThreadTimes, parseSchedstat, THREAD_SCHEDSTAT_PATH } from "../src/thread-times.ts";

describe("thread-times", () => {
  it("parses the kernel's schedstat line into milliseconds", () => {
    assert.deepEqual(parseSchedstat("1692307 6824000 2\n"), { ranMs: 1.692307, waitedMs: 6.824 });
    assert.equal(parseSchedstat(""), undefined);
    assert.equal(parseSchedstat("1 2\n"), undefined);
    assert.equal(parseSchedstat("a b c\n"), undefined);
  });

  it("says why when the file is missing or not schedstat, so the daemon can warn and fall back", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "thread-times-"));
    try {
      const missing = openThreadTimes(path.join(dir, "nope"));
      assert.ok("why" in missing && /ENOENT/.test(missing.why), JSON.stringify(missing));
      writeFileSync(path.join(dir, "junk"), "not schedstat\n");
      const junk = openThreadTimes(path.join(dir, "junk"));
      assert.ok("why" in junk && /form/.test(junk.why), JSON.stringify(junk));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads this thread's CPU time from the real kernel: 100 ms of work shows as ~100 ms on a CPU", (t) => {
    const opened = openThreadTimes();
    assert.ok("reader" in opened, `this kernel must have ${THREAD_SCHEDSTAT_PATH} (CONFIG_SCHED_INFO): ${"why" in opened ? opened.why : ""}`);
    const { reader } = opened;
    t.after(() => reader.close());
    const before = reader.read();
    const started = process.hrtime.bigint();
    while (process.hrtime.bigint() - started < 100_000_000n) {
      /* on the CPU (or waiting for it) for 100 ms of wall time */
    }
    const after = reader.read();
    const ran = after.ranMs - before.ranMs;
    const waited = after.waitedMs - before.waitedMs;
    // On a busy machine part of the 100 ms is spent waiting for a CPU; together they cover it.
    assert.ok(ran + waited >= 95 && ran + waited <= 150, `ran ${ran} ms, waited ${waited} ms over 100 ms of busy wall time`);
    assert.ok(ran > 0 && waited >= 0);
  });
});
