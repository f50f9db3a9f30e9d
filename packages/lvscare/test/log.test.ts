import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseEndpoint } from "../src/address.ts";
import type { ListedVirtualServer } from "../src/dataplane/types.ts";
import { formatIpvsTable } from "../src/ipvs-format.ts";
import { createLogger, formatTextLine } from "../src/log.ts";
import { RepeatLimiter } from "../src/log-limiter.ts";

function collect(format: "json" | "text", level: "info" | "debug" = "info") {
  const lines: string[] = [];
  return { lines, logger: createLogger({ format, level, destination: { write: (line) => lines.push(line) } }) };
}

describe("logs", () => {
  it("writes one readable line per event in text format", () => {
    const { lines, logger } = collect("text");
    logger.warn({ master: "10.0.0.1:6443", reason: "2 consecutive failures, last: connection refused" }, "master 10.0.0.1:6443 down: out of rotation");
    assert.equal(lines.length, 1);
    assert.match(
      lines[0] ?? "",
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN  master 10\.0\.0\.1:6443 down: out of rotation master=10\.0\.0\.1:6443 reason="2 consecutive failures, last: connection refused"\n$/,
    );
  });

  it("writes JSON lines in json format, debug only with DEBG", () => {
    const info = collect("json");
    info.logger.debug("hidden");
    info.logger.info({ vs: "10.103.97.2:6443" }, "visible");
    assert.equal(info.lines.length, 1);
    assert.deepEqual({ ...JSON.parse(info.lines[0] ?? "{}"), time: undefined }, { level: 30, msg: "visible", vs: "10.103.97.2:6443", time: undefined });
    const debug = collect("json", "debug");
    debug.logger.debug("shown");
    assert.equal(debug.lines.length, 1);
  });

  it("redacts header values wherever they are logged", () => {
    const { lines, logger } = collect("json");
    logger.info({ headers: { Authorization: "Bearer abc" }, health: { headers: { "X-Token": "xyz" } } }, "config");
    assert.doesNotMatch(lines.join(""), /abc|xyz/);
  });

  it("passes through a line that is not JSON", () => {
    assert.equal(formatTextLine("plain"), "plain");
  });
});

describe("RepeatLimiter", () => {
  it("logs the first occurrence, counts repeats within the window, reports them after it", () => {
    let now = 0;
    const limiter = new RepeatLimiter(60_000, () => now);
    assert.deepEqual(limiter.admit("reconcile:EPERM"), { suppressed: 0 });
    for (let i = 0; i < 59; i++) {
      now += 1000;
      assert.equal(limiter.admit("reconcile:EPERM"), undefined);
    }
    assert.deepEqual(limiter.admit("reconcile:ESRCH"), { suppressed: 0 }, "a different error is news");
    now += 1000;
    assert.deepEqual(limiter.admit("reconcile:EPERM"), { suppressed: 59 });
    assert.equal(limiter.clear("reconcile:"), 0);
    assert.deepEqual(limiter.active(), []);
    assert.equal(limiter.clear("reconcile:"), undefined, "nothing to clear");
  });
});

describe("ipvs list format", () => {
  const service = (overrides: Partial<ListedVirtualServer>): ListedVirtualServer => ({
    family: 4,
    protocol: "TCP",
    address: parseEndpoint("10.96.0.10:53", "t"),
    fwmark: undefined,
    scheduler: "rr",
    flags: 0,
    timeout: 0,
    netmask: "255.255.255.255",
    destinations: [],
    ...overrides,
  });

  it("prints persistence, fwmark, IPv6 and forwarding methods like ipvsadm", () => {
    const text = formatIpvsTable({
      version: "1.2.1",
      connectionTableSize: 4096,
      services: [
        service({ protocol: "UDP", flags: 0x1, timeout: 10800, netmask: "255.255.255.0" }),
        service({ protocol: "FWM", address: undefined, fwmark: 7, family: 6, scheduler: "wlc", netmask: "128" }),
        service({
          address: parseEndpoint("[fd00::10]:6443", "t"),
          family: 6,
          netmask: "128",
          destinations: [{ address: parseEndpoint("[fd00::2]:6443", "t"), weight: 0, forward: "route", activeConnections: 12, inactiveConnections: 3 }],
        }),
      ],
    });
    // ipvsadm's default order (ipvs_cmp_services): fwmark, family, protocol, address, port.
    assert.deepEqual(text.split("\n").slice(3), [
      "UDP  10.96.0.10:53 rr persistent 10800 mask 255.255.255.0",
      "TCP  [fd00::10]:6443 rr",
      // ipvsadm: "  -> %-28s %-7s %-6d %-10u %-10u"
      `  -> ${"[fd00::2]:6443".padEnd(28)} Route   0      12         3         `,
      "FWM  7 IPv6 wlc",
      "",
    ]);
  });
});
