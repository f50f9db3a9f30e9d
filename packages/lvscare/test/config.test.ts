import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Command } from "commander";
import { formatEndpoint, parseEndpoint } from "../src/address.ts";
import { addCareOptions, CARE_FLAGS, collectCareOptions, envNameOf } from "../src/cli/care-options.ts";
import { type CareConfig, parseCareConfig, type RawCareOptions } from "../src/config.ts";
import { formatDurationMs, parseDurationMs } from "../src/duration.ts";
import { UsageError } from "../src/errors.ts";
import { findHostsAddress } from "../src/hosts-file.ts";

const SEALOS_ARGS = ["--vs", "10.103.97.2:6443", "--health-path", "/healthz", "--health-schem", "https", "--rs", "192.168.0.2:6443", "--rs", "192.168.0.3:6443", "--rs", "192.168.0.4:6443"];

/** Parses `care` arguments the way the CLI does (commander + CARE_* fallback), without running anything. */
function parseArgs(args: readonly string[], env: Record<string, string> = {}): CareConfig {
  const command = new Command("care").exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  addCareOptions(command);
  command.parse([...args], { from: "user" });
  return parseCareConfig(collectCareOptions(command, env));
}

function usageError(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected UsageError, got ${String(err)}`);
    assert.match(err.message, message);
    assert.doesNotMatch(err.message, /\n/, "one line");
    return true;
  });
}

describe("care configuration", () => {
  it("accepts sealos's manifest arguments unchanged, with our defaults", () => {
    const config = parseArgs(SEALOS_ARGS);
    assert.equal(formatEndpoint(config.virtualServer), "10.103.97.2:6443");
    assert.deepEqual(config.realServers.map(formatEndpoint), ["192.168.0.2:6443", "192.168.0.3:6443", "192.168.0.4:6443"]);
    assert.equal(config.mode, "route");
    assert.equal(config.scheduler, "rr");
    assert.equal(config.iface, "lvscare");
    assert.equal(config.intervalMs, 1000);
    assert.equal(config.health.timeoutMs, 1000);
    assert.equal(config.hedgeDelayMs, 250);
    assert.deepEqual([config.fall, config.rise, config.allDown], [2, 2, "keep"]);
    assert.deepEqual(
      [config.health.scheme, config.health.path, config.health.method, config.health.insecureSkipVerify, config.health.body],
      ["https", "/healthz", "GET", true, undefined],
    );
    assert.deepEqual([config.runOnce, config.clean, config.logLevel, config.logFormat], [false, false, "info", "text"]);
    assert.equal(config.metricsAddr, undefined);
  });

  it("takes --rs repeated, as comma lists, or both", () => {
    const config = parseArgs(["--vs", "10.0.0.10:6443", "--rs", "10.0.0.1:6443,10.0.0.2:6443", "--rs", " 10.0.0.3:6443 "]);
    assert.deepEqual(config.realServers.map(formatEndpoint), ["10.0.0.1:6443", "10.0.0.2:6443", "10.0.0.3:6443"]);
  });

  it("accepts IPv6 virtual and real servers, canonicalised", () => {
    const config = parseArgs(["--vs", "[FD00::10]:6443", "--rs", "[fd00:0::2]:6443", "--ip", "fd00::99"]);
    assert.equal(formatEndpoint(config.virtualServer), "[fd00::10]:6443");
    assert.equal(formatEndpoint(config.realServers[0]!), "[fd00::2]:6443");
    assert.equal(config.nodeIp, "fd00::99");
  });

  it("parses --interval as bare seconds or Go durations", () => {
    const interval = (v: string): number => parseArgs([...SEALOS_ARGS, "--interval", v]).intervalMs;
    assert.equal(interval("5"), 5000);
    assert.equal(interval("5s"), 5000);
    assert.equal(interval("500ms"), 500);
    assert.equal(interval("1m30s"), 90_000);
    assert.equal(interval("1.5s"), 1500);
    assert.equal(parseArgs([...SEALOS_ARGS, "--health-timeout=10s"]).health.timeoutMs, 10_000);
  });

  it("caps the hedge delay at half the timeout", () => {
    assert.equal(parseArgs([...SEALOS_ARGS, "--health-timeout", "200ms"]).hedgeDelayMs, 100);
  });

  it("parses upstream's boolean forms: bare, =false, separate true/false, Go's 1/0/t/f", () => {
    assert.equal(parseArgs([...SEALOS_ARGS, "--run-once"]).runOnce, true);
    assert.equal(parseArgs([...SEALOS_ARGS, "--run-once=false"]).runOnce, false);
    assert.equal(parseArgs([...SEALOS_ARGS, "--health-insecure-skip-verify", "false"]).health.insecureSkipVerify, false);
    assert.equal(parseArgs([...SEALOS_ARGS, "--health-insecure-skip-verify=0"]).health.insecureSkipVerify, false);
    assert.equal(parseArgs([...SEALOS_ARGS, "-C", "t"]).clean, true);
    usageError(() => parseArgs([...SEALOS_ARGS, "--run-once=yes"]), /--run-once: "yes" is not true or false/);
  });

  it("accepts the remaining upstream flags", () => {
    const config = parseArgs([
      ...SEALOS_ARGS,
      "--scheduler", "wlc", "--mode", "link", "-i", "lvs0", "--masqueradebit", "14", "--logger", "DEBG",
      "--health-req-method", "POST", "--health-req-body", "{}", "--health-req-headers", "A=1,B=x=y",
      "--health-req-headers", '"C=has,comma"', "--health-status", "401,403", "--health-status", "418", "--health-path", "livez",
    ]);
    assert.deepEqual([config.scheduler, config.mode, config.iface, config.masqueradeBit, config.logLevel], ["wlc", "link", "lvs0", 14, "debug"]);
    assert.deepEqual([config.health.method, config.health.body, config.health.path], ["POST", "{}", "/livez"]);
    assert.deepEqual(config.health.headers, { A: "1", B: "x=y", C: "has,comma" });
    assert.deepEqual(config.health.extraHealthyStatus, [401, 403, 418]);
  });

  it("maps --mode \"\" to IPVS rules only", () => {
    assert.equal(parseArgs([...SEALOS_ARGS, "--mode", ""]).mode, "none");
  });

  it("accepts our new flags", () => {
    const config = parseArgs([...SEALOS_ARGS, "--fall", "3", "--rise", "1", "--all-down", "remove", "--metrics-addr", "127.0.0.1:9192", "--log-format", "json"]);
    assert.deepEqual([config.fall, config.rise, config.allDown, config.logFormat], [3, 1, "remove", "json"]);
    assert.deepEqual(config.metricsAddr, { ip: "127.0.0.1", port: 9192 });
    assert.deepEqual(parseArgs([...SEALOS_ARGS, "--metrics-addr", ":9192"]).metricsAddr, { ip: undefined, port: 9192 });
  });

  it("verifies certificates by default once a CA file is given", () => {
    const config = parseArgs([...SEALOS_ARGS, "--health-ca-file", "/etc/kubernetes/pki/ca.crt"]);
    assert.deepEqual([config.health.caFile, config.health.insecureSkipVerify], ["/etc/kubernetes/pki/ca.crt", false]);
    usageError(
      () => parseArgs([...SEALOS_ARGS, "--health-ca-file", "/ca.crt", "--health-insecure-skip-verify=true"]),
      /--health-ca-file has no effect with --health-insecure-skip-verify=true/,
    );
  });

  it("-C needs only --vs", () => {
    const config = parseArgs(["-C", "--vs", "10.103.97.2:6443"]);
    assert.equal(config.clean, true);
    assert.deepEqual(config.realServers, []);
  });

  const bad: Array<[string, string[], RegExp]> = [
    ["a missing --vs", ["--rs", "10.0.0.1:6443"], /--vs is required/],
    ["a missing --rs", ["--vs", "10.0.0.10:6443"], /--rs: at least one real server is required/],
    ["an address without port", ["--vs", "10.0.0.10", "--rs", "10.0.0.1:6443"], /--vs: "10.0.0.10" has no port/],
    ["a port out of range", ["--vs", "10.0.0.10:70000", "--rs", "10.0.0.1:6443"], /--vs: port "70000".*1..65535/],
    ["an invalid IP", ["--vs", "10.0.0.10:6443", "--rs", "10.0.0.256:6443"], /--rs: "10.0.0.256".*not a valid IP/],
    ["a hostname", ["--vs", "10.0.0.10:6443", "--rs", "master1:6443"], /--rs: "master1".*not a valid IP/],
    ["bare IPv6", ["--vs", "10.0.0.10:6443", "--rs", "fd00::1:6443"], /without brackets/],
    ["an unknown scheduler", [...SEALOS_ARGS, "--scheduler", "fastest"], /^invalid flag "scheduler=fastest"/],
    ["--vs inside --rs", ["--vs", "10.0.0.10:6443", "--rs", "10.0.0.1:6443,10.0.0.10:6443"], /10.0.0.10:6443 is the virtual server itself/],
    ["a duplicate --rs", ["--vs", "10.0.0.10:6443", "--rs", "10.0.0.1:6443", "--rs", "10.0.0.1:6443"], /10.0.0.1:6443 is listed twice/],
    ["an empty --rs entry", ["--vs", "10.0.0.10:6443", "--rs", "10.0.0.1:6443,,10.0.0.2:6443"], /--rs: empty entry/],
    ["mixed families", ["--vs", "10.0.0.10:6443", "--rs", "[fd00::1]:6443"], /IPv6 but --vs .* is IPv4/],
    ["a negative interval", [...SEALOS_ARGS, "--interval", "-5"], /--interval: negative duration "-5"/],
    ["a zero interval", [...SEALOS_ARGS, "--interval", "0"], /--interval: must be greater than zero/],
    ["a tiny interval", [...SEALOS_ARGS, "--interval", "5ms"], /below the minimum of 100ms/],
    ["a nonsense interval", [...SEALOS_ARGS, "--interval", "soon"], /"soon" is not a duration/],
    ["an unknown mode", [...SEALOS_ARGS, "--mode", "tunnel"], /--mode: "tunnel" is not one of route, link/],
    ["an unknown scheme", [...SEALOS_ARGS, "--health-schem", "ftp"], /--health-schem: "ftp"/],
    ["an unknown logger level", [...SEALOS_ARGS, "--logger", "WARN"], /--logger: "WARN" is not INFO or DEBG/],
    ["a mark bit out of range", [...SEALOS_ARGS, "--masqueradebit", "32"], /--masqueradebit: 32 is outside 0..31/],
    ["fall 0", [...SEALOS_ARGS, "--fall", "0"], /--fall: 0 is outside 1..100/],
    ["a fractional rise", [...SEALOS_ARGS, "--rise", "1.5"], /--rise: "1.5" is not an integer/],
    ["an unknown all-down policy", [...SEALOS_ARGS, "--all-down", "panic"], /--all-down: "panic"/],
    ["a bad status code", [...SEALOS_ARGS, "--health-status", "401,abc"], /--health-status: "abc" is not an integer/],
    ["a header without =", [...SEALOS_ARGS, "--health-req-headers", "Authorization"], /"Authorization" is not key=value/],
    ["a header with a bad name", [...SEALOS_ARGS, "--health-req-headers", "Bad Name=1"], /"Bad Name" is not a valid header name/],
    ["a gateway of the wrong family", [...SEALOS_ARGS, "--ip", "fd00::1"], /--ip: fd00::1 is IPv6 but --vs is IPv4/],
    ["an invalid gateway", [...SEALOS_ARGS, "--ip", "node1"], /--ip: "node1" is not a valid IP/],
    ["a long interface name", [...SEALOS_ARGS, "--iface", "a-very-long-interface"], /--iface: .* not a valid interface name/],
    ["link mode with IPv6", ["--vs", "[fd00::10]:6443", "--rs", "[fd00::1]:6443", "--mode", "link"], /--mode link supports IPv4 only/],
    ["a bad metrics address", [...SEALOS_ARGS, "--metrics-addr", "9192"], /--metrics-addr: "9192" has no port/],
    ["a bad log format", [...SEALOS_ARGS, "--log-format", "xml"], /--log-format: "xml"/],
    ["a method with blanks", [...SEALOS_ARGS, "--health-req-method", "GET /"], /--health-req-method/],
  ];
  for (const [what, args, message] of bad) {
    it(`refuses ${what} with one clear line`, () => usageError(() => parseArgs(args), message));
  }
});

describe("CARE_* environment variables", () => {
  it("names every flag CARE_<FLAG>", () => {
    const names = CARE_FLAGS.map(envNameOf);
    for (const expected of ["CARE_VS", "CARE_RS", "CARE_SCHEDULER", "CARE_IFACE", "CARE_LOGGER", "CARE_MODE", "CARE_RUN_ONCE", "CARE_CLEAN", "CARE_INTERVAL", "CARE_IP", "CARE_MASQUERADEBIT", "CARE_HEALTH_PATH", "CARE_HEALTH_SCHEM", "CARE_HEALTH_REQ_METHOD", "CARE_HEALTH_REQ_BODY", "CARE_HEALTH_REQ_HEADERS", "CARE_HEALTH_STATUS", "CARE_HEALTH_INSECURE_SKIP_VERIFY", "CARE_HEALTH_TIMEOUT", "CARE_FALL", "CARE_RISE", "CARE_ALL_DOWN", "CARE_METRICS_ADDR", "CARE_LOG_FORMAT", "CARE_HEALTH_CA_FILE"]) {
      assert.ok(names.includes(expected), expected);
    }
  });

  it("configures everything from the environment alone", () => {
    const config = parseArgs([], {
      CARE_VS: "10.103.97.2:6443",
      CARE_RS: "192.168.0.2:6443,192.168.0.3:6443",
      CARE_INTERVAL: "2",
      CARE_HEALTH_TIMEOUT: "800ms",
      CARE_HEALTH_STATUS: "401",
      CARE_HEALTH_REQ_HEADERS: "X-A=1",
      CARE_HEALTH_INSECURE_SKIP_VERIFY: "false",
      CARE_RUN_ONCE: "true",
      CARE_MODE: "",
      CARE_FALL: "3",
      CARE_LOGGER: "DEBG",
    });
    assert.deepEqual(config.realServers.map(formatEndpoint), ["192.168.0.2:6443", "192.168.0.3:6443"]);
    assert.deepEqual([config.intervalMs, config.health.timeoutMs, config.fall], [2000, 800, 3]);
    assert.deepEqual(config.health.extraHealthyStatus, [401]);
    assert.deepEqual(config.health.headers, { "X-A": "1" });
    assert.deepEqual([config.health.insecureSkipVerify, config.runOnce, config.mode, config.logLevel], [false, true, "none", "debug"]);
  });

  it("lets a command-line flag win over its variable", () => {
    const config = parseArgs([...SEALOS_ARGS, "--interval", "3s"], { CARE_INTERVAL: "9s", CARE_RS: "10.9.9.9:6443", CARE_SCHEDULER: "wrr" });
    assert.equal(config.intervalMs, 3000);
    assert.equal(config.realServers.length, 3, "--rs on the command line replaces CARE_RS");
    assert.equal(config.scheduler, "wrr", "variables still fill flags not given");
  });

  it("reports a bad variable by its flag name", () => {
    usageError(() => parseArgs(SEALOS_ARGS, { CARE_INTERVAL: "-1s" }), /--interval: negative duration/);
    usageError(() => parseArgs(SEALOS_ARGS, { CARE_RUN_ONCE: "maybe" }), /--run-once: "maybe"/);
  });
});

describe("durations", () => {
  it("parses and formats", () => {
    assert.equal(parseDurationMs("250ms"), 250);
    assert.equal(parseDurationMs("2h"), 7_200_000);
    assert.equal(parseDurationMs("1500us"), 1.5);
    assert.equal(typeof parseDurationMs("5x"), "string");
    assert.equal(typeof parseDurationMs(""), "string");
    assert.deepEqual([formatDurationMs(250), formatDurationMs(1000), formatDurationMs(90_000), formatDurationMs(120_000)], ["250ms", "1s", "90s", "2m"]);
  });
});

describe("hosts file", () => {
  const hosts = [
    "127.0.0.1\tlocalhost",
    "# 10.9.9.9 lvscare.node.ip (commented out)",
    "192.168.0.10   worker1 LVSCARE.NODE.IP   # sealos",
    "fd00::10 lvscare.node.ip",
    "10.103.97.2 apiserver.cluster.local",
    "bogus lvscare.node.ip",
  ].join("\r\n");

  it("finds the lvscare.node.ip address of the wanted family", () => {
    assert.equal(findHostsAddress(hosts, "lvscare.node.ip", 4), "192.168.0.10");
    assert.equal(findHostsAddress(hosts, "lvscare.node.ip", 6), "fd00::10");
  });

  it("returns undefined when there is no entry, also for a last line without newline", () => {
    assert.equal(findHostsAddress("127.0.0.1 localhost", "lvscare.node.ip", 4), undefined);
    assert.equal(findHostsAddress("10.1.1.1 lvscare.node.ip", "lvscare.node.ip", 4), "10.1.1.1");
  });
});

describe("addresses", () => {
  it("round-trips endpoints", () => {
    for (const text of ["10.0.0.1:6443", "[fd00::1]:443"]) assert.equal(formatEndpoint(parseEndpoint(text, "x")), text);
  });

  it("refuses zone ids and leading zeros", () => {
    assert.throws(() => parseEndpoint("[fe80::1%eth0]:6443", "--rs"), UsageError);
    assert.throws(() => parseEndpoint("010.0.0.1:6443", "--rs"), UsageError);
  });
});

// Every RawCareOptions key has a flag: a new option cannot be forgotten in the table.
const everyKey: Record<keyof RawCareOptions, true> = {
  vs: true, rs: true, scheduler: true, iface: true, logger: true, mode: true, runOnce: true, clean: true, interval: true, ip: true,
  masqueradebit: true, healthPath: true, healthSchem: true, healthReqMethod: true, healthReqBody: true, healthReqHeaders: true,
  healthStatus: true, healthInsecureSkipVerify: true, healthTimeout: true, healthCaFile: true, fall: true, rise: true, allDown: true,
  metricsAddr: true, logFormat: true,
};
describe("flag table", () => {
  it("covers every configuration key", () => {
    assert.deepEqual(new Set(CARE_FLAGS.map((f) => f.key)), new Set(Object.keys(everyKey)));
  });
});
