import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Endpoint, parseEndpoint } from "../src/address.ts";
import type { HealthCheckConfig } from "../src/config.ts";
import { HttpProber } from "../src/probe/http-prober.ts";
import { probeOnce } from "../src/probe/probe-once.ts";
import type { ProbeOutcome } from "../src/probe/outcome.ts";
import { HealthzServer } from "./helpers/healthz-server.ts";
import { createTestPki, type TestPki } from "./helpers/pki.ts";
import { waitFor } from "./helpers/wait.ts";

const baseHealth: HealthCheckConfig = {
  scheme: "https",
  path: "/healthz",
  method: "GET",
  body: undefined,
  headers: {},
  extraHealthyStatus: [],
  insecureSkipVerify: true,
  caFile: undefined,
  timeoutMs: 1000,
};

let pki: TestPki;
const servers: HealthzServer[] = [];
const probers: HttpProber[] = [];

async function server(host: string, credentials = pki.issue([host])): Promise<HealthzServer> {
  const s = await new HealthzServer(host, credentials).start();
  servers.push(s);
  return s;
}

function prober(masters: Endpoint[], health: Partial<HealthCheckConfig> = {}, ca?: string, lost?: (m: Endpoint) => void): HttpProber {
  const p = new HttpProber({
    health: { ...baseHealth, ...health },
    ca,
    masters,
    keepAliveMs: 30_000,
    userAgent: "lvscare-test",
    onConnectionLost: (m) => lost?.(m),
  });
  probers.push(p);
  return p;
}

async function probe(p: HttpProber, master: Endpoint, fresh = false, limitMs = 5000): Promise<ProbeOutcome> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), limitMs);
  try {
    return await p.probe({ master, fresh, signal: abort.signal });
  } finally {
    clearTimeout(timer);
  }
}

after(async () => {
  await Promise.all(probers.map((p) => p.close()));
  await Promise.all(servers.map((s) => s.kill()));
  pki.cleanup();
});

const ep = (s: HealthzServer): Endpoint => parseEndpoint(s.endpoint, "test");

describe("HttpProber against real HTTPS servers", () => {
  before(() => {
    pki = createTestPki();
  });

  it("probes /healthz over HTTPS and reuses one kept-alive connection", async () => {
    const s = await server("127.0.0.2");
    const p = prober([ep(s)]);
    for (let i = 0; i < 3; i++) {
      const outcome = await probe(p, ep(s));
      assert.deepEqual({ ok: outcome.ok, status: outcome.ok ? outcome.status : 0 }, { ok: true, status: 200 });
    }
    assert.equal(s.connections, 1);
    assert.equal(s.requests[0]?.url, "/healthz");
    assert.equal(s.requests[0]?.headers["user-agent"], "lvscare-test");
    const hedge = await probe(p, ep(s), true);
    assert.equal(hedge.ok, true);
    assert.equal(s.connections, 2, "a fresh probe opens its own connection");
  });

  it("sends the configured method, headers and body", async () => {
    const s = await server("127.0.0.3");
    const p = prober([ep(s)], { method: "POST", path: "/readyz?verbose", headers: { "X-Probe": "yes", Authorization: "Bearer t" }, body: "{}" });
    assert.equal((await probe(p, ep(s))).ok, true);
    const request = s.requests[0];
    assert.equal(request?.method, "POST");
    assert.equal(request?.url, "/readyz?verbose");
    assert.equal(request?.headers["x-probe"], "yes");
    assert.equal(request?.headers["authorization"], "Bearer t");
    assert.equal(request?.body, "{}");
  });

  it("reports an unhealthy status with apiserver's failed checks", async () => {
    const s = await server("127.0.0.4");
    s.mode = { kind: "status", status: 500, body: "[+]ping ok\n[-]etcd failed: reason withheld\nhealthz check failed\n" };
    const outcome = await probe(prober([ep(s)]), ep(s));
    assert.equal(outcome.ok, false);
    assert.equal(outcome.ok ? "" : outcome.reason, "status");
    assert.equal(outcome.ok ? "" : outcome.detail, "HTTP 500: [-]etcd failed: reason withheld");
  });

  it("counts a listed status (k3s 401) as healthy, an unlisted one not", async () => {
    const s = await server("127.0.0.5");
    s.mode = { kind: "status", status: 401 };
    assert.equal((await probe(prober([ep(s)], { extraHealthyStatus: [401] }), ep(s))).ok, true);
    assert.equal((await probe(prober([ep(s)]), ep(s))).ok, false);
  });

  it("follows redirects", async () => {
    const target = await server("127.0.0.6");
    const s = await server("127.0.0.7");
    s.mode = { kind: "redirect", location: `https://${target.endpoint}/livez` };
    const outcome = await probe(prober([ep(s)]), ep(s));
    assert.equal(outcome.ok, true);
    assert.equal(target.requests[0]?.url, "/livez");
  });

  it("classifies a closed port as refused", async () => {
    const s = await server("127.0.0.8");
    await s.kill();
    const outcome = await probe(prober([ep(s)]), ep(s));
    assert.deepEqual(outcome.ok ? "" : [outcome.reason, outcome.detail], ["refused", "connection refused"]);
  });

  it("gives up on a hanging server when the probe is cancelled", async () => {
    const s = await server("127.0.0.9");
    s.mode = { kind: "hang" };
    const outcome = await probe(prober([ep(s)]), ep(s), false, 300);
    assert.equal(outcome.ok ? "" : outcome.reason, "timeout");
    s.releaseHanging();
  });

  it("verifies the certificate against --health-ca-file, with the master's IP as identity", async () => {
    const s = await server("127.0.0.10");
    assert.equal((await probe(prober([ep(s)], { insecureSkipVerify: false }, pki.caCert), ep(s))).ok, true);
  });

  it("reports TLS errors with their code", async () => {
    const rogue = await server("127.0.0.11", pki.selfSigned(["127.0.0.11"]));
    const selfSigned = await probe(prober([ep(rogue)], { insecureSkipVerify: false }, pki.caCert), ep(rogue));
    assert.equal(selfSigned.ok ? "" : selfSigned.reason, "tls");
    assert.match(selfSigned.ok ? "" : selfSigned.detail, /^tls (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)/);

    const wrongIp = await server("127.0.0.12", pki.issue(["10.9.9.9"]));
    const mismatch = await probe(prober([ep(wrongIp)], { insecureSkipVerify: false }, pki.caCert), ep(wrongIp));
    assert.match(mismatch.ok ? "" : mismatch.detail, /^tls ERR_TLS_CERT_ALTNAME_INVALID/);

    const skipped = await probe(prober([ep(wrongIp)]), ep(wrongIp));
    assert.equal(skipped.ok, true, "--health-insecure-skip-verify accepts it");
  });

  it("speaks plain HTTP with --health-schem http, and https to an HTTP port is a TLS error", async () => {
    const plain = await new HealthzServer("127.0.0.13", undefined).start();
    servers.push(plain);
    assert.equal((await probe(prober([ep(plain)], { scheme: "http" }), ep(plain))).ok, true);
    const wrong = await probe(prober([ep(plain)]), ep(plain));
    assert.equal(wrong.ok ? "" : wrong.reason, "tls");
  });

  it("reports a kept-alive connection reset by the master", async () => {
    const s = await server("127.0.0.14");
    const lost: string[] = [];
    const p = prober([ep(s)], {}, undefined, (m) => lost.push(`${m.ip}:${m.port}`));
    assert.equal((await probe(p, ep(s))).ok, true);
    assert.deepEqual(lost, []);
    await s.kill();
    await waitFor(() => lost.length > 0, "connection lost event");
    assert.deepEqual(lost, [s.endpoint]);
  });

  it("does not report its own cancelled probes as a lost connection", async () => {
    const s = await server("127.0.0.15");
    const lost: string[] = [];
    const p = prober([ep(s)], {}, undefined, (m) => lost.push(m.ip));
    assert.equal((await probe(p, ep(s))).ok, true);
    s.mode = { kind: "hang" };
    await probe(p, ep(s), false, 200);
    s.mode = { kind: "ok" };
    assert.equal((await probe(p, ep(s))).ok, true);
    assert.deepEqual(lost, []);
    s.releaseHanging();
  });
});

describe("HttpProber: connections it closes itself are not news", () => {
  it("a Connection: close answer, a long body and the idle timeout close the connection without a loss report", async () => {
    const s = await server("127.0.0.19");
    const lost: string[] = [];
    const p = new HttpProber({
      health: baseHealth,
      ca: undefined,
      masters: [ep(s)],
      keepAliveMs: 300,
      userAgent: "lvscare-test",
      onConnectionLost: (m) => lost.push(m.ip),
    });
    probers.push(p);
    s.mode = { kind: "status", status: 200, body: "ok", connectionClose: true };
    assert.equal((await probe(p, ep(s))).ok, true);
    await waitFor(() => s.openConnections === 0, "the server to close after Connection: close");
    s.mode = { kind: "status", status: 200, body: "x".repeat(200 * 1024) };
    assert.equal((await probe(p, ep(s))).ok, true, "a long healthy body");
    await waitFor(() => s.openConnections === 0, "the prober to drop a connection with a long body");
    s.mode = { kind: "ok" };
    assert.equal((await probe(p, ep(s))).ok, true);
    await waitFor(() => s.openConnections === 0, "the idle connection to time out");
    assert.equal(s.connections, 3);
    assert.deepEqual(lost, []);
  });

  it("keeps the first KiB of a long failure body for the log", async () => {
    const s = await server("127.0.0.20");
    s.mode = { kind: "status", status: 503, body: `[-]etcd failed: ${"y".repeat(100 * 1024)}` };
    const outcome = await probe(prober([ep(s)]), ep(s));
    assert.equal(outcome.ok ? "" : outcome.reason, "status");
    assert.match(outcome.ok ? "" : outcome.detail, /^HTTP 503: \[-\]etcd failed: y+…$/);
  });
});

describe("HttpProber redirects", () => {
  it("turns a POST into a GET without a body on 303, keeps it on 307", async () => {
    const target = await server("127.0.0.21");
    const s = await server("127.0.0.22");
    const health = { method: "POST", body: "{}", headers: { "content-type": "application/json" } };
    s.mode = { kind: "redirect", status: 303, location: `https://${target.endpoint}/after-303` };
    assert.equal((await probe(prober([ep(s)], health), ep(s))).ok, true);
    s.mode = { kind: "redirect", status: 307, location: `https://${target.endpoint}/after-307` };
    assert.equal((await probe(prober([ep(s)], health), ep(s))).ok, true);
    assert.deepEqual(
      target.requests.map((r) => [r.method, r.url, r.body, r.headers["content-type"] ?? ""]),
      [
        ["GET", "/after-303", "", ""],
        ["POST", "/after-307", "{}", "application/json"],
      ],
    );
  });

  it("does not carry Authorization to another origin", async () => {
    const target = await server("127.0.0.23");
    const s = await server("127.0.0.24");
    s.mode = { kind: "redirect", location: `https://${target.endpoint}/livez` };
    assert.equal((await probe(prober([ep(s)], { headers: { Authorization: "Bearer t" } }), ep(s))).ok, true);
    assert.equal(s.requests[0]?.headers["authorization"], "Bearer t");
    assert.equal(target.requests[0]?.headers["authorization"], undefined);
  });

  it("stops after 5 redirects and takes the last answer as it is", async () => {
    const s = await server("127.0.0.25");
    s.mode = { kind: "redirect", location: "/again" };
    const outcome = await probe(prober([ep(s)]), ep(s));
    assert.deepEqual(outcome.ok ? outcome.status : outcome.detail, 302);
    assert.equal(s.requests.length, 6);
    assert.equal(s.connections, 1, "same-origin redirects reuse the kept-alive connection");
  });
});

describe("probeOnce (--run-once verdicts)", () => {
  it("is healthy when the master answers", async () => {
    const s = await server("127.0.0.16");
    const outcome = await probeOnce(prober([ep(s)]), ep(s), { timeoutMs: 1000, hedgeDelayMs: 250 });
    assert.equal(outcome.ok, true);
  });

  it("fails on a hanging master after trying a second connection", async () => {
    const s = await server("127.0.0.17");
    s.mode = { kind: "hang" };
    const outcome = await probeOnce(prober([ep(s)]), ep(s), { timeoutMs: 300, hedgeDelayMs: 100 });
    assert.equal(outcome.ok ? "" : outcome.reason, "timeout");
    assert.equal(s.connections, 2);
    s.releaseHanging();
  });

  it("reports the first failure of a refusing master", async () => {
    const s = await server("127.0.0.18");
    await s.kill();
    const outcome = await probeOnce(prober([ep(s)]), ep(s), { timeoutMs: 1000, hedgeDelayMs: 250 });
    assert.equal(outcome.ok ? "" : outcome.reason, "refused");
  });
});
