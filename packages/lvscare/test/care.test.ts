import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FakeDataplane } from "../src/dataplane/fake.ts";
import { HttpProber } from "../src/probe/http-prober.ts";
import { clean, runOnce } from "../src/one-shot.ts";
import { rulerFor } from "../src/host-setup.ts";
import { captureLogger, careConfig, endpoint, type RunningCare, startCare } from "./helpers/care-harness.ts";
import { HealthzServer } from "./helpers/healthz-server.ts";
import { createTestPki, type TestPki } from "./helpers/pki.ts";
import { seed } from "./helpers/ops.ts";
import { waitFor } from "./helpers/wait.ts";

const VIP = "10.103.97.2:6443";
// Faster than the defaults so the suite stays short; the timeout stays at the default 1 s.
const PACE = ["--interval", "500ms"];

let pki: TestPki;
const running: RunningCare[] = [];
const allServers: HealthzServer[] = [];
let nextHost = 30;

/** Three masters on their own loopback addresses (127.0.0.x), each with its own certificate. */
async function masters(count = 3): Promise<HealthzServer[]> {
  const list: HealthzServer[] = [];
  for (let i = 0; i < count; i++) {
    const host = `127.0.0.${nextHost++}`;
    const server = await new HealthzServer(host, pki.issue([host])).start();
    list.push(server);
    allServers.push(server);
  }
  return list;
}

async function care(servers: HealthzServer[], extra: string[] = [], fake?: FakeDataplane): Promise<RunningCare> {
  const args = ["--vs", VIP, ...servers.flatMap((s) => ["--rs", s.endpoint]), ...PACE, ...extra];
  const instance = await startCare(args, fake ? { fake } : {});
  running.push(instance);
  return instance;
}

const weights = (c: RunningCare): Record<string, number> | undefined => c.fake.weights(c.vs);
const allAt = (servers: HealthzServer[], weight: number): Record<string, number> =>
  Object.fromEntries(servers.map((s) => [s.endpoint, weight]));
const touched = (c: RunningCare, server: HealthzServer): string[] =>
  c.fake.operations.filter((o) => o.target.includes(`-> ${server.endpoint}`)).map((o) => `${o.op} ${o.target}`);
const logged = (c: RunningCare, pattern: RegExp): boolean => c.records.some((r) => pattern.test(r.msg));

before(() => {
  pki = createTestPki();
});
after(async () => {
  await Promise.all(running.map((c) => c.stop()));
  await Promise.all(allServers.map((s) => s.kill()));
  pki.cleanup();
});

describe("care loop: real HTTPS masters, fake dataplane", () => {
  it("creates the virtual server, route and sysctl, and puts every healthy master in at weight 1", async () => {
    const servers = await masters();
    const c = await care(servers);
    await waitFor(() => JSON.stringify(weights(c)) === JSON.stringify(allAt(servers, 1)), "all masters at weight 1");
    assert.deepEqual(c.fake.routeList(), [{ destination: "10.103.97.2/32", gateway: "192.168.0.10", metric: 50 }]);
    assert.equal(c.fake.sysctls.get("net.ipv4.vs.expire_nodest_conn"), "1");
    assert.ok(c.records.some((r) => r.msg === "sysctl set" && r["sysctl"] === "net.ipv4.vs.expire_nodest_conn"));
    assert.equal(c.daemon.ready(), true);
  });

  it("removes a killed master (weight 0, then delete) without touching the others, and adds it back", async () => {
    const servers = await masters();
    const [m1, m2, m3] = servers as [HealthzServer, HealthzServer, HealthzServer];
    const c = await care(servers);
    await waitFor(() => Object.keys(weights(c) ?? {}).length === 3, "all in");
    const before = [touched(c, m2), touched(c, m3)];
    await m1.kill();
    await waitFor(() => weights(c)?.[m1.endpoint] === undefined, "killed master removed");
    assert.deepEqual(touched(c, m1).slice(-2), [`updateDestination 10.103.97.2:6443 -> ${m1.endpoint} w=0`, `deleteDestination 10.103.97.2:6443 -> ${m1.endpoint}`]);
    const down = c.records.find((r) => r.msg === `master ${m1.endpoint} down: out of rotation`);
    assert.match(String(down?.["reason"]), /consecutive failures, last: (connection refused|connection reset|connection closed)/);
    await m1.start();
    await waitFor(() => weights(c)?.[m1.endpoint] === 1, "recovered master back at weight 1");
    assert.deepEqual([touched(c, m2), touched(c, m3)], before, "the other masters were never touched");
  });

  it("removes a master whose /healthz answers 500, with the failed check in the log", async () => {
    const servers = await masters();
    const [m1] = servers as [HealthzServer];
    const c = await care(servers);
    await waitFor(() => weights(c)?.[m1.endpoint] === 1, "in");
    m1.mode = { kind: "status", status: 500, body: "[+]ping ok\n[-]etcd failed: reason withheld\n" };
    await waitFor(() => weights(c)?.[m1.endpoint] === undefined, "500 master removed");
    const down = c.records.find((r) => r.msg === `master ${m1.endpoint} down: out of rotation`);
    assert.match(String(down?.["reason"]), /last: HTTP 500: \[-\]etcd failed: reason withheld/);
    m1.mode = { kind: "ok" };
    await waitFor(() => weights(c)?.[m1.endpoint] === 1, "back");
  });

  it("removes a master that hangs (no answer within the timeout) and brings it back", async () => {
    const servers = await masters();
    const [m1] = servers as [HealthzServer];
    const c = await care(servers);
    await waitFor(() => weights(c)?.[m1.endpoint] === 1, "in");
    m1.mode = { kind: "hang" };
    await waitFor(() => weights(c)?.[m1.endpoint] === undefined, "hanging master removed");
    const down = c.records.find((r) => r.msg === `master ${m1.endpoint} down: out of rotation`);
    assert.match(String(down?.["reason"]), /timeout: no answer within 1000ms/);
    m1.mode = { kind: "ok" };
    m1.releaseHanging();
    await waitFor(() => weights(c)?.[m1.endpoint] === 1, "back");
  });

  it("restores a flushed table (kube-proxy's cleanup) by the next interval", async () => {
    const servers = await masters();
    const c = await care(servers);
    await waitFor(() => Object.keys(weights(c) ?? {}).length === 3, "all in");
    c.fake.flushAll();
    assert.equal(weights(c), undefined);
    await waitFor(() => JSON.stringify(weights(c)) === JSON.stringify(allAt(servers, 1)), "table restored");
    assert.ok(logged(c, /^ipvs: add virtual server/));
  });

  it("adopts the kernel's table after a restart: nothing removed, re-added or re-weighted", async () => {
    const servers = await masters();
    const fake = new FakeDataplane();
    await seed(fake, { address: endpoint(VIP), scheduler: "rr", persistenceTimeout: 0 }, servers.map((s) => [endpoint(s.endpoint), 1] as const));
    fake.operations.length = 0;
    const c = await care(servers, [], fake);
    await waitFor(() => c.records.filter((r) => /^master .* up: in rotation$/.test(r.msg)).length === 3, "all three known up");
    await waitFor(() => c.daemon.ready(), "ready");
    await new Promise((resolve) => setTimeout(resolve, 1200)); // two more reconcile intervals
    assert.deepEqual(
      c.fake.operations.filter((o) => o.op.includes("Destination") || o.op.includes("VirtualServer")),
      [],
      "no IPVS write at all",
    );
  });

  it("prunes a destination that is not in --rs, quiescing it first", async () => {
    const servers = await masters(2);
    const fake = new FakeDataplane();
    await seed(fake, { address: endpoint(VIP), scheduler: "wlc", persistenceTimeout: 0 }, [[endpoint("10.0.0.99:6443"), 1]]);
    const c = await care(servers, [], fake);
    await waitFor(() => JSON.stringify(weights(c)) === JSON.stringify(allAt(servers, 1)), "only --rs left");
    const stranger = c.fake.operations.filter((o) => o.target.includes("10.0.0.99"));
    assert.deepEqual(stranger.map((o) => o.op).slice(-2), ["updateDestination", "deleteDestination"]);
    assert.ok(c.fake.operations.some((o) => o.op === "updateVirtualServer"), "scheduler corrected to rr");
    assert.ok(c.records.some((r) => r.msg === "ipvs: delete 10.0.0.99:6443" && r["reason"] === "not in --rs"));
  });

  it("keeps every master in rotation when all are down (--all-down keep), loudly", async () => {
    const servers = await masters();
    const c = await care(servers);
    await waitFor(() => Object.keys(weights(c) ?? {}).length === 3, "all in");
    await Promise.all(servers.map((s) => s.kill()));
    await waitFor(() => logged(c, /^ALL masters fail their health checks: keeping all/), "all-down error logged");
    // Key order aside: masters that fail a moment before the last one are removed, then re-added
    // when it fails too (fail open), so the table's order may change.
    const sortedWeights = (w: Record<string, number> | undefined): string => JSON.stringify(Object.entries(w ?? {}).sort(([a], [b]) => a.localeCompare(b)));
    await waitFor(() => sortedWeights(weights(c)) === sortedWeights(allAt(servers, 1)), "all kept at weight 1");
    const allDownLine = c.records.find((r) => /^ALL masters/.test(r.msg));
    assert.equal(allDownLine?.level, 50, "logged at error level");
    const [m2] = servers.slice(1) as [HealthzServer];
    await m2.start();
    await waitFor(() => JSON.stringify(Object.keys(weights(c) ?? {})) === JSON.stringify([m2.endpoint]), "only the live master left");
  });

  it("removes them all with --all-down remove", async () => {
    const servers = await masters(2);
    const c = await care(servers, ["--all-down", "remove"]);
    await waitFor(() => Object.keys(weights(c) ?? {}).length === 2, "all in");
    await Promise.all(servers.map((s) => s.kill()));
    await waitFor(() => JSON.stringify(weights(c)) === "{}", "table emptied");
    assert.ok(logged(c, /removing all of them \(--all-down remove\)/));
  });

  it("stops probing on stop and leaves the rules in place", async () => {
    const servers = await masters();
    const c = await care(servers);
    await waitFor(() => Object.keys(weights(c) ?? {}).length === 3, "all in");
    await c.stop();
    const state = JSON.stringify(weights(c));
    const operations = c.fake.operations.length;
    const requests = servers.map((s) => s.requestCount());
    await new Promise((resolve) => setTimeout(resolve, 1200));
    assert.equal(JSON.stringify(weights(c)), state);
    assert.equal(c.fake.operations.length, operations);
    assert.deepEqual(servers.map((s) => s.requestCount()), requests, "no probe after stop");
    assert.deepEqual(c.fake.routeList().length, 1, "route left");
  });

  it("rate-limits a reconcile error that repeats every interval", async () => {
    const servers = await masters(1);
    const fake = new FakeDataplane();
    for (let i = 0; i < 6; i++) fake.failNext("read", "EPERM");
    const c = await care(servers, [], fake);
    await waitFor(() => c.fake.operations.some((o) => o.op === "addDestination"), "works after the faults are used up", 30_000);
    const errors = c.records.filter((r) => r.msg.startsWith("reconcile failed"));
    assert.equal(errors.length, 1, `one error line for 6 identical failures, got ${errors.length}`);
    assert.ok(c.records.some((r) => r.msg === "reconcile works again" && Number(r["suppressed"]) > 0));
  });
});

describe("run-once and clean", () => {
  it("--run-once programs only the masters that answered, once, and returns", async () => {
    const servers = await masters();
    const [m1] = servers as [HealthzServer];
    await m1.kill();
    const config = careConfig(["--vs", VIP, ...servers.flatMap((s) => ["--rs", s.endpoint]), "--run-once"]);
    const fake = new FakeDataplane();
    const { logger } = captureLogger();
    const prober = new HttpProber({ health: config.health, ca: undefined, masters: config.realServers, keepAliveMs: 1000, userAgent: "t", onConnectionLost: () => undefined });
    const summary = await runOnce(config, { dataplane: fake, prober, ruler: rulerFor(config, "192.168.0.10"), logger });
    await prober.close();
    assert.deepEqual(summary, { healthy: 2, total: 3, allDown: false });
    assert.deepEqual(fake.weights(endpoint(VIP)), allAt(servers.slice(1), 1));
    assert.equal(fake.routeList().length, 1);
  });

  it("--run-once with no master answering programs all of them (keep) or none (remove)", async () => {
    const servers = await masters(2);
    await Promise.all(servers.map((s) => s.kill()));
    for (const [policy, expected] of [["keep", allAt(servers, 1)], ["remove", {}]] as const) {
      const config = careConfig(["--vs", VIP, ...servers.flatMap((s) => ["--rs", s.endpoint]), "--run-once", "--all-down", policy]);
      const fake = new FakeDataplane();
      const prober = new HttpProber({ health: config.health, ca: undefined, masters: config.realServers, keepAliveMs: 1000, userAgent: "t", onConnectionLost: () => undefined });
      const summary = await runOnce(config, { dataplane: fake, prober, ruler: undefined, logger: captureLogger().logger });
      await prober.close();
      assert.equal(summary.allDown, true);
      assert.deepEqual(fake.weights(endpoint(VIP)), expected, policy);
    }
  });

  it("-C removes our virtual server and route, nothing else, and can run twice", async () => {
    const fake = new FakeDataplane();
    const other = endpoint("10.96.0.1:443");
    await seed(fake, { address: other, scheduler: "rr", persistenceTimeout: 0 });
    await seed(fake, { address: endpoint(VIP), scheduler: "rr", persistenceTimeout: 0 });
    const config = careConfig(["--vs", VIP, "-C"]);
    await fake.ensureRuler({ mode: "route", vip: "10.103.97.2", family: 4, metric: 50, gateway: "192.168.0.10" });
    await fake.ensureRuler({ mode: "route", vip: "10.96.0.1", family: 4, metric: 50, gateway: "192.168.0.10" });
    const { logger } = captureLogger();
    await clean(config, { dataplane: fake, logger });
    await clean(config, { dataplane: fake, logger });
    assert.equal(await fake.read(endpoint(VIP)), undefined);
    assert.notEqual(await fake.read(other), undefined);
    assert.deepEqual(fake.routeList().map((r) => r.destination), ["10.96.0.1/32"]);
  });

  it("-C in link mode removes the dummy interface", async () => {
    const fake = new FakeDataplane();
    const config = careConfig(["--vs", VIP, "-C", "--mode", "link", "-i", "lvs9"]);
    await fake.ensureRuler({ mode: "link", vip: "10.103.97.2", family: 4, iface: "lvs9", masqueradeBit: 0, virtualServer: endpoint(VIP) });
    await clean(config, { dataplane: fake, logger: captureLogger().logger });
    assert.deepEqual(fake.linkList(), []);
  });
});
