import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  blackhole,
  DEFAULT_TIMING,
  healthy,
  httpStatus,
  refused,
  Simulation,
  slow,
  endpoint,
  type Behaviour,
} from "./helpers/simulation.ts";
import { FIRST_CONTACT_TIMEOUT_MS } from "../src/config.ts";

const M1 = "10.0.0.1:6443";
const M2 = "10.0.0.2:6443";
const M3 = "10.0.0.3:6443";
const three = (m1: Behaviour = healthy()): Record<string, Behaviour> => ({ [M1]: m1, [M2]: healthy(), [M3]: healthy() });

/** Fault times spread over one probe interval, so every phase between fault and probe is covered. */
const PHASES = Array.from({ length: 20 }, (_, i) => 10_000 + i * 50 + 7);

function assertOthersUntouched(sim: Simulation): void {
  for (const other of [M2, M3]) {
    assert.deepEqual(
      sim.transitionsOf(other).map((t) => t.to),
      ["up"],
      `${other} must only have come up once`,
    );
  }
}

describe("CareController (simulated time, default timing)", () => {
  it("brings every master up on its first answer and probes at most once per second per master", () => {
    const sim = new Simulation(three());
    sim.runUntil(60_000);
    for (const master of [M1, M2, M3]) {
      assert.equal(sim.transitionTime(master, "up"), 3, `${master} up at its first answer`);
      assert.ok(sim.attemptsOf(master).length <= 61, `${master}: ${sim.attemptsOf(master).length} probes in 60 s`);
      assert.ok(sim.attemptsOf(master).every((a) => a.role === "primary" && !a.fresh), "no hedges when answers are fast");
    }
    assert.equal(sim.transitions.length, 3);
  });

  it("removes a killed master (refused, connection closed) within milliseconds of the kill", () => {
    for (const at of PHASES) {
      const sim = new Simulation(three());
      sim.setBehaviour(at, M1, refused);
      sim.connectionLost(at, M1);
      sim.runUntil(at + 5_000);
      const down = sim.transitionTime(M1, "down", at);
      assert.ok(down !== undefined && down - at <= 10, `kill at ${at}: down at ${down}`);
      assert.match(sim.transitionsOf(M1).at(-1)?.reason ?? "", /2 consecutive failures, last: connection refused/);
      assertOthersUntouched(sim);
    }
  });

  it("removes a refusing master within one interval even without a connection event", () => {
    for (const at of PHASES) {
      const sim = new Simulation(three());
      sim.setBehaviour(at, M1, refused);
      sim.runUntil(at + 5_000);
      const down = sim.transitionTime(M1, "down", at);
      assert.ok(down !== undefined && down - at <= 1_000, `refusing from ${at}: down at ${down}`);
    }
  });

  it("removes a blackholed master within 3 s, from two timed-out probes on separate connections", () => {
    for (const at of PHASES) {
      const sim = new Simulation(three());
      sim.setBehaviour(at, M1, blackhole);
      sim.runUntil(at + 10_000);
      const down = sim.transitionTime(M1, "down", at);
      assert.ok(down !== undefined && down - at <= 2_250, `blackhole at ${at}: down at ${down}`);
      const during = sim.attemptsOf(M1, at, down);
      assert.deepEqual(
        during.map((a) => a.role),
        ["primary", "hedge"],
        "one probe and its hedge on a fresh connection",
      );
      assert.match(sim.transitionsOf(M1).at(-1)?.reason ?? "", /timeout: no answer within 1000ms/);
      assertOthersUntouched(sim);
    }
  });

  it("treats a /healthz slower than the timeout like a blackhole", () => {
    const sim = new Simulation(three());
    sim.setBehaviour(10_000, M1, slow(1_500));
    sim.runUntil(20_000);
    const down = sim.transitionTime(M1, "down", 10_000);
    assert.ok(down !== undefined && down - 10_000 <= 2_250, `down at ${down}`);
  });

  it("removes a master answering 500 after two answers", () => {
    const sim = new Simulation(three());
    sim.setBehaviour(10_000, M1, httpStatus(500));
    sim.runUntil(20_000);
    const down = sim.transitionTime(M1, "down", 10_000);
    assert.ok(down !== undefined && down - 10_000 <= 1_000);
    assert.match(sim.transitionsOf(M1).at(-1)?.reason ?? "", /last: HTTP 500/);
  });

  it("keeps a master when one packet is lost (a probe that never answers, the hedge does)", () => {
    for (const lost of [5, 17, 40]) {
      const sim = new Simulation(
        three(({ seq }) => (seq === lost ? "never" : { afterMs: 3, outcome: { ok: true, status: 200, latencyMs: 3 } })),
      );
      sim.runUntil(60_000);
      assert.deepEqual(sim.transitionsOf(M1).map((t) => t.to), ["up"], `lost probe #${lost}`);
      assert.ok(sim.attemptsOf(M1).some((a) => a.role === "hedge" && a.fresh), "the hedge covered the lost packet");
    }
  });

  it("keeps a master when a SYN retransmission makes one probe take just over a second", () => {
    const sim = new Simulation(
      three(({ seq }) => ({ afterMs: seq === 8 ? 1_003 : 3, outcome: { ok: true, status: 200, latencyMs: 3 } })),
    );
    sim.runUntil(30_000);
    assert.deepEqual(sim.transitionsOf(M1).map((t) => t.to), ["up"]);
  });

  it("keeps a master when a kept-alive connection is reset once (keep-alive race)", () => {
    const sim = new Simulation(
      three(({ seq }) =>
        seq === 12
          ? { afterMs: 1, outcome: { ok: false, reason: "reset", detail: "connection reset", latencyMs: 1 } }
          : { afterMs: 3, outcome: { ok: true, status: 200, latencyMs: 3 } },
      ),
    );
    sim.runUntil(30_000);
    assert.deepEqual(sim.transitionsOf(M1).map((t) => t.to), ["up"]);
    const retry = sim.attemptsOf(M1).find((a) => a.seq === 13);
    const failed = sim.attemptsOf(M1).find((a) => a.seq === 12);
    assert.ok(retry && failed && retry.at - failed.at <= 1, "re-probed at once after the failure");
  });

  it("brings a recovered master back after `rise` successes", () => {
    const sim = new Simulation(three());
    sim.setBehaviour(10_000, M1, refused);
    sim.setBehaviour(20_000, M1, healthy());
    sim.runUntil(30_000);
    const up = sim.transitionTime(M1, "up", 20_000);
    assert.ok(up !== undefined && up - 20_000 <= 2_000, `back up at ${up}`);
    assert.match(sim.transitionsOf(M1).at(-1)?.reason ?? "", /2 consecutive successes/);
  });

  it("probes a down master once per interval, without hedges", () => {
    const sim = new Simulation(three());
    sim.setBehaviour(10_000, M1, blackhole);
    sim.runUntil(70_000);
    const afterDown = sim.attemptsOf(M1, 15_000, 65_000);
    assert.ok(afterDown.length <= 50, `${afterDown.length} probes in 50 s`);
    assert.ok(afterDown.every((a) => a.role === "primary"));
  });

  it("never disturbs the other masters while one flaps for ten minutes", () => {
    const sim = new Simulation(three());
    for (let t = 5_000; t < 600_000; t += 6_000) {
      sim.setBehaviour(t, M1, refused);
      sim.connectionLost(t, M1);
      sim.setBehaviour(t + 3_000, M1, healthy());
    }
    sim.runUntil(600_000);
    assertOthersUntouched(sim);
    assert.ok(sim.transitionsOf(M1).length > 150, "the flapping master went down and up every cycle");
    for (const other of [M2, M3]) assert.ok(sim.attemptsOf(other).length <= 601);
  });

  it("limits early probes when a server closes the connection after every answer", () => {
    const sim = new Simulation(three());
    for (let t = 5_000; t < 65_000; t += 100) sim.connectionLost(t, M1);
    sim.runUntil(65_000);
    const count = sim.attemptsOf(M1, 5_000, 65_000).length;
    assert.ok(count <= 120, `${count} probes in 60 s (at most one early round per interval)`);
  });

  it("reports all masters down once, and back when one recovers", () => {
    const sim = new Simulation(three());
    for (const m of [M1, M2, M3]) sim.setBehaviour(10_000, m, refused);
    sim.setBehaviour(30_000, M2, healthy());
    sim.runUntil(40_000);
    assert.deepEqual(sim.allDownChanges.map((c) => c.allDown), [true, false]);
    const { destinations, allDown } = sim.controller.desired();
    assert.equal(allDown, false);
    assert.deepEqual(destinations.map((d) => d.weight), [1]);
  });

  it("a master that never answers at start-up stays unknown through the first-contact deadline, then goes down after fall failures", () => {
    const sim = new Simulation(three(blackhole));
    sim.runUntil(FIRST_CONTACT_TIMEOUT_MS - 100);
    assert.equal(sim.controller.healthOf(endpoint(M1)), "unknown");
    sim.runUntil(4 * FIRST_CONTACT_TIMEOUT_MS);
    // fall (2) first-contact deadlines back to back, no hedge while unknown.
    assert.equal(sim.transitionTime(M1, "down"), 2 * FIRST_CONTACT_TIMEOUT_MS);
  });

  it("a cold first handshake slower than --health-timeout is no failure at start-up (restart adopts, removes nothing)", () => {
    const coldThenFast: Behaviour = (attempt) =>
      attempt.seq === 0 ? { afterMs: 3_000, outcome: { ok: true, status: 200, latencyMs: 3_000 } } : { afterMs: 3, outcome: { ok: true, status: 200, latencyMs: 3 } };
    const sim = new Simulation({ [M1]: coldThenFast, [M2]: coldThenFast, [M3]: healthy() });
    sim.runUntil(20_000);
    for (const master of [M1, M2]) {
      assert.deepEqual(sim.transitionsOf(master).map((t) => t.to), ["up"], `${master} went up once and stayed`);
    }
    // Once up, the ordinary timeout applies again: a hang now takes it out within timeout + hedge.
    sim.setBehaviour(30_000, M1, blackhole);
    sim.runUntil(40_000);
    const down = sim.transitionTime(M1, "down", 30_000);
    assert.ok(down !== undefined && down - 30_000 <= 2 * DEFAULT_TIMING.intervalMs + DEFAULT_TIMING.hedgeDelayMs + DEFAULT_TIMING.timeoutMs);
  });

  it("honours --fall and --rise", () => {
    const sim = new Simulation(three(), { ...DEFAULT_TIMING, fall: 4, rise: 3 });
    sim.setBehaviour(10_000, M1, httpStatus(503));
    sim.setBehaviour(20_000, M1, healthy());
    sim.runUntil(30_000);
    const down = sim.transitionsOf(M1).find((t) => t.to === "down");
    assert.match(down?.reason ?? "", /^4 consecutive failures/);
    assert.match(sim.transitionsOf(M1).at(-1)?.reason ?? "", /^3 consecutive successes/);
  });

  it("cancels the slower probe of a round once one answered", () => {
    const sim = new Simulation(three(({ seq }) => ({ afterMs: seq === 3 ? 600 : 3, outcome: { ok: true, status: 200, latencyMs: 3 } })));
    sim.runUntil(10_000);
    assert.equal(sim.cancelled.length, 1, "the slow primary was cancelled when its hedge answered");
    assert.equal(sim.controller.inFlightCount() <= 3, true);
  });
});
