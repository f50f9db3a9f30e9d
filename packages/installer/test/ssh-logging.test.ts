/**
 * What the user sees: prefixed plain lines or JSON lines, secrets masked in both, and per-host
 * progress (plain lines, or listr2's live view on a terminal) driven by HostPool.forEach.
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { loadCredentials } from "../src/ssh/credentials.ts";
import { HostPool, valuesOrThrow } from "../src/ssh/host-pool.ts";
import { createLogger } from "../src/ssh/logger.ts";
import { LiveProgressReporter, LogProgressReporter } from "../src/ssh/progress.ts";
import { Redactor } from "../src/ssh/redact.ts";

function capture() {
  let text = "";
  return { destination: { write: (line: string) => (text += line) }, text: () => text };
}

describe("logger", () => {
  it("plain: one line per event, prefixed with the host; secrets masked", () => {
    const out = capture();
    const logger = createLogger({ destination: out.destination, redactor: new Redactor(["hunter2"]) });
    logger.log("info", "kubeadm join --token abcdef.0123456789abcdef", { host: "192.168.0.2" });
    logger.log("warn", "password hunter2\nsecond line", { host: "[fd00::2]:2222" });
    logger.log("debug", "not shown at info");
    logger.log("error", "no host");
    assert.equal(out.text(), "[192.168.0.2] kubeadm join --token [REDACTED]\n[[fd00::2]:2222] warning: password [REDACTED]\n[[fd00::2]:2222] warning: second line\nerror: no host\n");
  });

  it("json: pino lines with level, time, host, step and msg; secrets masked", () => {
    const out = capture();
    const logger = createLogger({ format: "json", level: "debug", destination: out.destination, redactor: new Redactor(["hunter2"]) });
    logger.log("debug", "pw hunter2", { host: "10.0.0.1", step: "preflight" });
    logger.log("error", "boom");
    const lines = out.text().trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(lines.length, 2);
    assert.deepEqual({ ...lines[0], time: undefined }, { level: "debug", time: undefined, host: "10.0.0.1", step: "preflight", msg: "pw [REDACTED]" });
    assert.match(String(lines[0]?.["time"]), /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual({ ...lines[1], time: undefined }, { level: "error", time: undefined, msg: "boom" });
  });
});

describe("progress", () => {
  it("HostPool.forEach reports a phase per host in plain lines and returns every host's result", async () => {
    const out = capture();
    const logger = createLogger({ destination: out.destination });
    const pool = new HostPool({ credentials: await loadCredentials({ password: "pw" }), hostKeys: { knownHostsPath: "/nonexistent/known_hosts" }, logger });
    const results = await pool.forEach(
      ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
      async (host, progress) => {
        progress.step("writing files");
        if (host.address === "10.0.0.2") throw new Error("disk full (pw)");
        if (host.address === "10.0.0.3") progress.skip("already joined");
        return host.address.length;
      },
      { title: "join workers", concurrency: 2 },
    );
    assert.deepEqual(results.map((result) => result.ok), [true, false, true]);
    const [header, ...lines] = out.text().trimEnd().split("\n");
    assert.equal(header, "join workers (3 hosts)");
    // Hosts run concurrently: each host's lines are in order, hosts interleave.
    const ofHost = (address: string) => lines.filter((line) => line.startsWith(`[${address}] `));
    assert.deepEqual(ofHost("10.0.0.1"), ["[10.0.0.1] writing files", "[10.0.0.1] done"]);
    assert.deepEqual(ofHost("10.0.0.2"), ["[10.0.0.2] writing files", "[10.0.0.2] error: failed: disk full ([REDACTED])"]);
    assert.deepEqual(ofHost("10.0.0.3"), ["[10.0.0.3] writing files", "[10.0.0.3] skipped: already joined"]);
    assert.equal(lines.length, 6);
    assert.throws(() => valuesOrThrow(results, "join"), /^AggregateError: join failed on 1 of 3 hosts:\n {2}disk full \(\[REDACTED\]\)$/m);
    await pool.close();
  });

  it("a host that never finished is reported failed when the phase ends", async () => {
    const out = capture();
    const phase = new LogProgressReporter(createLogger({ destination: out.destination })).phase("preflight", ["10.0.0.1"]);
    phase.host("10.0.0.1").step("checking swap");
    await phase.end();
    assert.match(out.text(), /\[10\.0\.0\.1\] error: failed: did not finish\n$/);
  });

  it("on a terminal: a live list with one line per host, final states kept", async () => {
    const terminal = Object.assign(new PassThrough(), { isTTY: true, columns: 100, rows: 40 }) as unknown as NodeJS.WriteStream;
    let drawn = "";
    (terminal as unknown as PassThrough).on("data", (chunk: Buffer) => (drawn += chunk.toString()));
    const phase = new LiveProgressReporter(terminal).phase("join workers", ["10.0.0.1", "10.0.0.2"]);
    phase.host("10.0.0.1").step("kubeadm join");
    phase.host("10.0.0.2").step("lvscare --run-once");
    await new Promise((resolve) => setTimeout(resolve, 200));
    phase.host("10.0.0.1").succeed("joined");
    phase.host("10.0.0.2").fail("kubeadm join exited 1");
    await phase.end();
    const plain = drawn.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
    assert.match(plain, /join workers/);
    assert.match(plain, /10\.0\.0\.1 {2}joined/);
    assert.match(plain, /10\.0\.0\.2: kubeadm join exited 1/);
  });
});
