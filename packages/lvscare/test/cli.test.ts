import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { type CliDeps, type CliIo, main } from "../src/cli.ts";
import { FakeDataplane } from "../src/dataplane/fake.ts";
import { VERSION } from "../src/version.ts";
import { HealthzServer } from "./helpers/healthz-server.ts";
import { createTestPki, type TestPki } from "./helpers/pki.ts";
import { seed } from "./helpers/ops.ts";
import { waitFor } from "./helpers/wait.ts";

const BIN = new URL("../bin/lvscare", import.meta.url).pathname;
const SEALOS = ["care", "--vs", "10.103.97.2:6443", "--health-path", "/healthz", "--health-schem", "https"];

function lvscare(args: readonly string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    encoding: "utf8",
    env: { PATH: process.env["PATH"] ?? "", LVSCARE_HOSTS_FILE: "/nonexistent/hosts", ...env },
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

class Buffered {
  text = "";
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

/** In-process CLI with the fake dataplane; records whether a dataplane was ever created. */
function harness(env: Record<string, string> = {}, fake = new FakeDataplane()) {
  const stdout = new Buffered();
  const stderr = new Buffered();
  const logs = new Buffered();
  let created = 0;
  let stop: (signal: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => {
    stop = resolve;
  });
  const io: CliIo = { stdout, stderr, env };
  const deps: CliDeps = {
    createDataplane: async () => {
      created++;
      return fake;
    },
    waitForStop: () => stopped,
    logDestination: logs,
  };
  return { io, deps, fake, stdout, stderr, logs, created: () => created, stop: (signal = "SIGTERM") => stop(signal) };
}

async function freePort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address !== "object") throw new Error("no port");
  return address.port;
}

let pki: TestPki;
let tmp: string;
const servers: HealthzServer[] = [];
before(() => {
  pki = createTestPki();
  tmp = mkdtempSync(join(tmpdir(), "lvscare-cli-"));
});
after(async () => {
  await Promise.all(servers.map((s) => s.kill()));
  pki.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

describe("lvscare executable: bad input", () => {
  const cases: Array<[string, string[], RegExp, Record<string, string>?]> = [
    ["an address without port", ["care", "--vs", "10.103.97.2", "--rs", "10.0.0.1:6443"], /^lvscare: --vs: "10.103.97.2" has no port/],
    ["an invalid IP", ["care", "--vs", "10.103.97.2:6443", "--rs", "10.0.0.300:6443"], /^lvscare: --rs: "10.0.0.300".*not a valid IP/],
    ["an unknown scheduler", [...SEALOS, "--rs", "10.0.0.1:6443", "--scheduler", "fastest"], /^lvscare: invalid flag "scheduler=fastest"/],
    ["--vs inside --rs", [...SEALOS, "--rs", "10.103.97.2:6443"], /^lvscare: --rs: 10.103.97.2:6443 is the virtual server itself/],
    ["a duplicate --rs", [...SEALOS, "--rs", "10.0.0.1:6443", "--rs", "10.0.0.1:6443"], /^lvscare: --rs: 10.0.0.1:6443 is listed twice/],
    ["a negative interval", [...SEALOS, "--rs", "10.0.0.1:6443", "--interval", "-5"], /^lvscare: --interval: negative duration/],
    ["mixed families", [...SEALOS, "--rs", "[fd00::1]:6443"], /^lvscare: --rs: \[fd00::1\]:6443 is IPv6/],
    ["an unknown flag", [...SEALOS, "--rs", "10.0.0.1:6443", "--helth-path", "/x"], /^lvscare: unknown option '--helth-path'/],
    ["an unknown command", ["frobnicate"], /^lvscare: unknown command 'frobnicate'/],
    ["route mode without a node IP", [...SEALOS, "--rs", "10.0.0.1:6443"], /^lvscare: route mode needs this node's IP: pass --ip or add "<node IP> lvscare.node.ip" to \/nonexistent\/hosts/],
    ["a bad CARE_ variable", ["care"], /^lvscare: --interval: "often" is not a duration/, { CARE_VS: "10.103.97.2:6443", CARE_RS: "10.0.0.1:6443", CARE_INTERVAL: "often" }],
    ["an unreadable CA file", [...SEALOS, "--rs", "10.0.0.1:6443", "--ip", "10.0.0.9", "--health-ca-file", "/nonexistent/ca.crt"], /^lvscare: --health-ca-file: cannot read \/nonexistent\/ca.crt/],
    ["a bad LVSCARE_MASQUERADE", [...SEALOS, "--rs", "10.0.0.1:6443", "--mode", "link"], /^lvscare: LVSCARE_MASQUERADE: "ipfw" is not one of auto, nft, iptables/, { LVSCARE_MASQUERADE: "ipfw" }],
    ["static-pod without masters", ["static-pod", "--image", "img:1", "--print"], /^lvscare: --masters is required/],
    ["static-pod with a bad master", ["static-pod", "--image", "img:1", "--masters", "m1:6443", "--print"], /^lvscare: --rs: "m1"/],
  ];
  for (const [what, args, message, env] of cases) {
    it(`${what}: one line on stderr, exit code 2`, () => {
      const result = lvscare(args, env);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trimEnd().split("\n").length, 1, `one line: ${JSON.stringify(result.stderr)}`);
      assert.equal(result.stdout, "");
    });
  }

  it("never creates a dataplane for bad input", async () => {
    for (const [, args, , env] of cases) {
      const h = harness(env ?? {});
      assert.equal(await main(args, h.io, h.deps), 2);
      assert.equal(h.created(), 0, args.join(" "));
      assert.deepEqual(h.fake.operations, []);
    }
  });
});

describe("lvscare executable: help and version", () => {
  it("documents every flag with its default and variable in `care --help`", () => {
    const result = lvscare(["care", "--help"]);
    assert.equal(result.code, 0);
    for (const flag of ["--vs", "--rs", "--scheduler", "--iface", "--logger", "--mode", "--run-once", "--clean", "--interval", "--ip", "--masqueradebit", "--health-path", "--health-schem", "--health-req-method", "--health-req-body", "--health-req-headers", "--health-status", "--health-insecure-skip-verify", "--health-timeout", "--fall", "--rise", "--health-ca-file", "--all-down", "--metrics-addr", "--log-format"]) {
      assert.ok(result.stdout.includes(flag), flag);
    }
    const flat = result.stdout.replace(/\s+/g, " ");
    assert.match(flat, /--interval <duration> .*Upstream: 5s \(default: 1s, env: CARE_INTERVAL\)/);
    assert.match(flat, /per-probe timeout. Upstream: 10s \(default: 1s, env: CARE_HEALTH_TIMEOUT\)/);
    assert.match(flat, /\(default: 2, env: CARE_FALL\)/);
    assert.match(flat, /\(default: keep, env: CARE_ALL_DOWN\)/);
  });

  it("prints the usage on stderr with exit code 2 when no command is given", () => {
    const result = lvscare([]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^Usage: lvscare \[options\] \[command\]/);
    assert.match(result.stderr, /care \[options\]/);
  });

  it("prints the version", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    assert.equal(VERSION, pkg.version);
    assert.equal(lvscare(["version", "--short"]).stdout, `v${pkg.version}\n`);
    const full = JSON.parse(lvscare(["version"]).stdout) as { gitVersion: string; platform: string };
    assert.equal(full.gitVersion, `v${pkg.version}`);
    assert.equal(full.platform, `${process.platform}/${process.arch}`);
  });
});

describe("lvscare static-pod", () => {
  it("prints the manifest, with LVSCARE_NODE_IP from the hosts file", () => {
    const hosts = join(tmp, "hosts-static");
    writeFileSync(hosts, "127.0.0.1 localhost\n192.168.0.10 lvscare.node.ip\n");
    const result = lvscare(["static-pod", "--masters", "192.168.0.2:6443,192.168.0.3:6443", "--image", "lvscare:v1", "--print"], { LVSCARE_HOSTS_FILE: hosts });
    assert.equal(result.code, 0, result.stderr);
    const pod = parse(result.stdout) as { metadata: { name: string }; spec: { containers: Array<{ args: string[]; env: unknown }> } };
    assert.equal(pod.metadata.name, "kube-sealos-lvscare");
    assert.deepEqual(pod.spec.containers[0]?.args, ["care", "--vs", "10.103.97.2:6443", "--health-path", "/healthz", "--health-schem", "https", "--rs", "192.168.0.2:6443", "--rs", "192.168.0.3:6443"]);
    assert.deepEqual(pod.spec.containers[0]?.env, [
      { name: "LVSCARE_NODE_IP", value: "192.168.0.10" },
      { name: "NODE_OPTIONS", value: "--max-old-space-size=64 --max-semi-space-size=1 --jitless" },
      { name: "LVSCARE_TMPDIR", value: "/tmp" },
    ]);
  });

  it("writes it atomically into --path, liveness probe included with metrics", () => {
    const dir = join(tmp, "manifests");
    const result = lvscare(["static-pod", "--masters", "192.168.0.2:6443", "--image", "lvscare:v1", "--path", dir, "--options=--metrics-addr", "--options=127.0.0.1:9192"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `wrote ${join(dir, "kube-sealos-lvscare.yaml")}\n`);
    assert.deepEqual(readdirSync(dir), ["kube-sealos-lvscare.yaml"], "no temporary file left");
    const pod = parse(readFileSync(join(dir, "kube-sealos-lvscare.yaml"), "utf8")) as { spec: { containers: Array<{ livenessProbe?: { httpGet: unknown } }> } };
    assert.deepEqual(pod.spec.containers[0]?.livenessProbe?.httpGet, { host: "127.0.0.1", path: "/healthz", port: 9192, scheme: "HTTP" });
  });

  it("writes nothing on bad input", () => {
    const dir = join(tmp, "untouched");
    const result = lvscare(["static-pod", "--masters", "192.168.0.2", "--image", "lvscare:v1", "--path", dir]);
    assert.equal(result.code, 2);
    assert.throws(() => readdirSync(dir), /ENOENT/);
  });
});

describe("lvscare ipvs list", () => {
  it("prints the table like ipvsadm -Ln, or JSON", async () => {
    const h = harness();
    await seed(h.fake, { address: { ip: "10.103.97.2", port: 6443, family: 4 }, scheduler: "rr", persistenceTimeout: 0 }, [[{ ip: "192.168.0.2", port: 6443, family: 4 }, 1]]);
    assert.equal(await main(["ipvs", "list"], h.io, h.deps), 0);
    assert.equal(
      h.stdout.text,
      [
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
        "TCP  10.103.97.2:6443 rr",
        "  -> 192.168.0.2:6443             Masq    1      0          0         ",
        "",
      ].join("\n"),
    );
    const j = harness();
    await seed(j.fake, { address: { ip: "fd00::10", port: 6443, family: 6 }, scheduler: "rr", persistenceTimeout: 0 });
    assert.equal(await main(["ipvs", "list", "--json"], j.io, j.deps), 0);
    const table = JSON.parse(j.stdout.text) as { services: Array<{ address: string }> };
    assert.equal(table.services[0]?.address, "[fd00::10]:6443");
  });
});

describe("lvscare care with sealos's exact manifest arguments", () => {
  it("runs unchanged: route via lvscare.node.ip, masters in, metrics served, SIGTERM leaves the rules", async (t) => {
    const hosts = ["127.0.1.51", "127.0.1.52", "127.0.1.53"];
    for (const host of hosts) servers.push(await new HealthzServer(host, pki.issue([host])).start(6443));
    const hostsFile = join(tmp, "hosts-care");
    writeFileSync(hostsFile, "127.0.0.1 localhost\n192.168.0.10 lvscare.node.ip\n10.103.97.2 apiserver.cluster.local\n");
    const metricsPort = await freePort("127.0.0.1");
    const h = harness({ LVSCARE_HOSTS_FILE: hostsFile, CARE_METRICS_ADDR: `127.0.0.1:${metricsPort}` });
    const args = [...SEALOS, ...hosts.flatMap((host) => ["--rs", `${host}:6443`])];
    const exit = main(args, h.io, h.deps);
    // Stop the daemon even when an assertion fails, or the test process would never end.
    t.after(async () => {
      h.stop("SIGTERM");
      await exit;
    });

    const vs = { ip: "10.103.97.2", port: 6443, family: 4 as const };
    const want = JSON.stringify(Object.fromEntries(hosts.map((host) => [`${host}:6443`, 1])));
    await waitFor(() => JSON.stringify(h.fake.weights(vs)) === want, "three masters at weight 1");
    assert.deepEqual(h.fake.routeList(), [{ destination: "10.103.97.2/32", gateway: "192.168.0.10", metric: 50 }]);

    const base = `http://127.0.0.1:${metricsPort}`;
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, "/readyz ready");
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    await waitFor(async () => (await (await fetch(`${base}/metrics`)).text()).includes('lvscare_master_up{master="127.0.1.53:6443"} 1'), "health gauge");
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const expected of [
      'lvscare_master_up{master="127.0.1.51:6443"} 1',
      'lvscare_master_transitions_total{master="127.0.1.51:6443",to="up"} 1',
      'lvscare_probes_total{master="127.0.1.51:6443",role="primary",result="ok"}',
      'lvscare_probe_duration_seconds_bucket{le="0.5",master="127.0.1.51:6443",result="ok"}',
      "lvscare_reconciles_total",
      "lvscare_reconcile_errors_total 0",
      'lvscare_dataplane_operation_duration_seconds_count{operation="addDestination",result="ok"} 3',
      "lvscare_all_masters_down 0",
      "lvscare_destinations 3",
      "lvscare_process_resident_memory_bytes",
    ]) {
      assert.ok(metrics.includes(expected), `metrics contain ${expected}`);
    }

    const lines = h.logs.text.trimEnd().split("\n");
    assert.ok(lines.some((l) => /^\S+ INFO  master 127\.0\.1\.51:6443 up: in rotation /.test(l)), "text log line per state change");
    assert.ok(lines.every((l) => !l.startsWith("{")), "text format by default");

    h.stop("SIGTERM");
    assert.equal(await exit, 0);
    assert.equal(JSON.stringify(h.fake.weights(vs)), want, "rules left in place");
    assert.match(h.logs.text, /stopping signal=SIGTERM/);
    await assert.rejects(fetch(`${base}/metrics`), "metrics server closed");
  });

  it("refuses a scheduler the dataplane does not have, as bad input, before changing anything", async () => {
    const h = harness({}, new FakeDataplane({ capabilities: { schedulers: ["rr"] } }));
    const code = await main(["care", "--vs", "10.103.97.2:6443", "--rs", "10.0.0.1:6443", "--ip", "192.168.0.10", "--scheduler", "wrr"], h.io, h.deps);
    assert.equal(code, 2);
    assert.equal(h.stderr.text, "lvscare: --scheduler: the ipvs dataplane has no scheduler wrr (it has rr)\n");
    assert.deepEqual(h.fake.operations, []);
    assert.deepEqual(h.fake.routeList(), []);
  });

  it("-C with --run-once cleans and exits (upstream cleaned nothing there)", async () => {
    const h = harness();
    const vs = { ip: "10.103.97.2", port: 6443, family: 4 as const };
    await seed(h.fake, { address: vs, scheduler: "rr", persistenceTimeout: 0 });
    assert.equal(await main(["care", "--vs", "10.103.97.2:6443", "--run-once", "-C"], h.io, h.deps), 0);
    assert.equal(h.fake.weights(vs), undefined, "virtual server removed");
    assert.ok(h.fake.operations.some((o) => o.op === "deleteVirtualServer"));
  });

  it("--health-ca-file verifies each master's certificate: a rogue one stays out", async () => {
    const good = await new HealthzServer("127.0.1.55", pki.issue(["127.0.1.55"])).start();
    const rogue = await new HealthzServer("127.0.1.56", pki.selfSigned(["127.0.1.56"])).start();
    servers.push(good, rogue);
    const h = harness();
    const code = await main(
      ["care", "--vs", "10.103.97.2:6443", "--rs", good.endpoint, "--rs", rogue.endpoint, "--ip", "192.168.0.10", "--run-once", "--health-ca-file", pki.caFile],
      h.io,
      h.deps,
    );
    assert.equal(code, 0, h.stderr.text);
    assert.deepEqual(h.fake.weights({ ip: "10.103.97.2", port: 6443, family: 4 }), { [good.endpoint]: 1 });
    assert.match(h.logs.text, new RegExp(`master ${rogue.endpoint.replaceAll(".", "\\.")} down .*result="tls `));
  });

  it("runs with an IPv6 virtual server and masters in route mode", async () => {
    const a = await new HealthzServer("::1", pki.issue(["::1"])).start();
    const b = await new HealthzServer("::1", pki.issue(["::1"])).start();
    servers.push(a, b);
    const hostsFile = join(tmp, "hosts-v6");
    writeFileSync(hostsFile, "192.168.0.10 lvscare.node.ip\nfd00::99 lvscare.node.ip\n");
    const h = harness({ LVSCARE_HOSTS_FILE: hostsFile });
    const rs = [a, b].map((s) => `[::1]:${s.port}`);
    const code = await main(["care", "--vs", "[fd00::10]:6443", ...rs.flatMap((r) => ["--rs", r]), "--run-once"], h.io, h.deps);
    assert.equal(code, 0, h.stderr.text);
    assert.deepEqual(h.fake.weights({ ip: "fd00::10", port: 6443, family: 6 }), Object.fromEntries(rs.map((r) => [r, 1])));
    assert.deepEqual(h.fake.routeList(), [{ destination: "fd00::10/128", gateway: "fd00::99", metric: 50 }]);
  });

  it("never logs request header values", async () => {
    const host = "127.0.1.54";
    const server = await new HealthzServer(host, pki.issue([host])).start();
    servers.push(server);
    const h = harness();
    const secret = "s3cr3t-token-value";
    const code = await main(
      ["care", "--vs", "10.103.97.2:6443", "--rs", server.endpoint, "--ip", "192.168.0.10", "--run-once", "--logger", "DEBG", "--log-format", "json", "--health-req-headers", `Authorization=Bearer ${secret}`],
      h.io,
      h.deps,
    );
    assert.equal(code, 0);
    assert.equal(server.requests[0]?.headers["authorization"], `Bearer ${secret}`, "the header was sent");
    assert.ok(h.logs.text.length > 0);
    assert.ok(!h.logs.text.includes(secret), "but never logged");
  });
});
