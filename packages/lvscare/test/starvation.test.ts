import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LoopStallLog } from "../src/controller/loop-stall.ts";
import { sampleLoopLag } from "../src/loop-lag.ts";
import type { Clock } from "../src/clock.ts";
import { blackhole, DEFAULT_TIMING, healthy, refused, Simulation, type Behaviour, type StallKind, type StallMeasure } from "./helpers/simulation.ts";

const M1 = "10.0.0.1:6443";
const M2 = "10.0.0.2:6443";
const M3 = "10.0.0.3:6443";
const three = (): Record<string, Behaviour> => ({ [M1]: healthy(), [M2]: healthy(), [M3]: healthy() });

/** From `from` to `to`, the daemon is frozen for `stallMs` out of every `periodMs` (a busy node, long GC pauses, a tight quota). */
function starveRepeatedly(sim: Simulation, from: number, to: number, stallMs: number, periodMs: number, kind: StallKind = "waiting"): void {
  for (let t = from; t < to; t += periodMs) sim.starve(t, Math.min(t + stallMs, to), kind);
}

function downs(sim: Simulation): string[] {
  return sim.transitions.filter((t) => t.to === "down").map((t) => `${t.at}ms ${t.reason}`);
}

describe("LoopStallLog", () => {
  it("sums the stalled part of a window, overlaps once, and ignores timer jitter", () => {
    const log = new LoopStallLog();
    log.record(600, 0, 650);
    log.record(1_000, 350, 1_050); // very late: everything since 600 was stalled
    log.record(1_055, 5, 1_105); // jitter: not a stall
    log.record(1_120, 15, 1_170); // a little late: the lag only, [1105, 1120]
    log.record(1_500, 330, 1_550); // [1120, 1500]
    log.record(1_550, 0, 1_600);
    assert.equal(log.stalledWithin(0, 1_600), 400 + 15 + 380);
    assert.equal(log.stalledWithin(800, 1_200), 200 + 15 + 80);
    assert.equal(log.stalledWithin(1_550, 1_600, [{ from: 1_560, to: 1_590 }]), 30);
    // The sampler is overdue at 1700: a stall in progress since its last sample.
    assert.equal(log.stalledWithin(1_550, 1_700), 150);
    assert.equal(log.stalledWithin(1_550, 1_615), 15, "a little overdue: from when it was due");
    assert.equal(log.stalledWithin(1_550, 1_605), 0, "5 ms overdue is jitter");
  });
});

describe("LoopStallLog with the kernel's account of the thread", () => {
  it("counts the run-queue wait, not the whole interval, and the thread's CPU time only when a sample was late", () => {
    const log = new LoopStallLog();
    log.record(600, 0, 650, { waitedMs: 0, ranMs: 1 });
    log.record(680, 30, 730, { waitedMs: 30, ranMs: 0 }); // waited 30 ms of 80: [650, 680]
    log.record(730, 0, 780, { waitedMs: 0, ranMs: 2 }); // on time: nothing
    log.record(800, 20, 850, { waitedMs: 0, ranMs: 45 }); // late from its own work: [755, 800]
    log.record(850, 0, 900, { waitedMs: 20, ranMs: 1 }); // on time, but waited earlier: [830, 850]
    log.record(900, 0, 950, { waitedMs: 5, ranMs: 1 }); // 5 ms is jitter
    assert.equal(log.stalledWithin(600, 950), 30 + 45 + 20);
  });

  it("takes a measurement between samples as a stall that ended then, and never counts beyond the previous measurement", () => {
    const log = new LoopStallLog();
    log.record(1_000, 0, 1_050, { waitedMs: 0, ranMs: 0 });
    log.measure(1_040, { waitedMs: 500, ranMs: 0 }); // more than the 40 ms since: clipped
    assert.equal(log.stalledWithin(0, 1_040), 40);
    log.measure(1_045, { waitedMs: 2, ranMs: 0 });
    assert.equal(log.stalledWithin(1_040, 1_045), 0);
  });

  it("counts only the overdue part of a sample still in progress: the check measured the rest", () => {
    const log = new LoopStallLog();
    log.record(1_000, 0, 1_050, { waitedMs: 0, ranMs: 0 });
    assert.equal(log.stalledWithin(1_000, 1_200), 150);
    assert.equal(log.stalledWithin(1_000, 1_055), 0, "5 ms overdue is jitter");
  });
});

describe("sampleLoopLag", () => {
  it("reports how late each period's timer fired", () => {
    let now = 0;
    const timers: Array<{ at: number; fn: () => void }> = [];
    const clock: Clock = {
      now: () => now,
      setTimer(delayMs, fn) {
        const timer = { at: now + delayMs, fn };
        timers.push(timer);
        return () => void timers.splice(timers.indexOf(timer), 1);
      },
    };
    const samples: Array<[number, number]> = [];
    const stop = sampleLoopLag(clock, (at, lag) => samples.push([at, lag]), 50);
    for (const firesAt of [50, 400, 451]) {
      const timer = timers.shift();
      assert.ok(timer, "the sampler keeps one timer armed");
      now = firesAt;
      timer.fn();
    }
    stop();
    assert.equal(timers.length, 0, "stop cancels the armed timer");
    assert.deepEqual(samples, [
      [50, 0],
      [400, 300],
      [451, 1],
    ]);
  });
});

for (const measure of ["kernel", "lag"] as const) {
  describe(`CareController with a starved daemon (simulated time, stalls measured by ${measure === "kernel" ? "the kernel's run-queue wait" : "timer lag alone"})`, () => {
    it("removes no healthy master when the daemon freezes for 1.1 s right after sending its probes", () => {
      const sim = new Simulation(three(), DEFAULT_TIMING, "keep", measure);
      starveRepeatedly(sim, 5_001, 65_000, 1_100, 1_103);
      sim.runUntil(70_000);
      assert.deepEqual(downs(sim), [], "no master may go down for timeouts the daemon caused");
    });

    it("removes no healthy master under a 2% CPU quota (2 ms of every 100 ms)", () => {
      const sim = new Simulation(three(), DEFAULT_TIMING, "keep", measure);
      starveRepeatedly(sim, 5_000, 65_000, 98, 100);
      sim.runUntil(70_000);
      assert.deepEqual(downs(sim), []);
    });

    it("removes no healthy master that answers in 600 ms on a saturated node (the daemon waits 60 ms for the CPU in every 100 ms)", () => {
      const sim = new Simulation({ [M1]: healthy(600), [M2]: healthy(600), [M3]: healthy(600) }, DEFAULT_TIMING, "keep", measure);
      starveRepeatedly(sim, 5_000, 65_000, 60, 100);
      sim.runUntil(70_000);
      assert.deepEqual(downs(sim), []);
    });

    it("still removes a master killed while the daemon is starved: a refused connection stays evidence", () => {
      const sim = new Simulation(three(), DEFAULT_TIMING, "keep", measure);
      starveRepeatedly(sim, 5_001, 65_000, 1_100, 1_103);
      sim.setBehaviour(20_000, M1, refused);
      sim.runUntil(70_000);
      const down = sim.transitionTime(M1, "down", 20_000);
      assert.ok(down !== undefined && down - 20_000 <= 3_000, `killed at 20000 ms, down at ${down}`);
      assert.deepEqual(
        sim.transitions.filter((t) => t.to === "down" && t.master.ip !== "10.0.0.1").map((t) => t.reason),
        [],
        "the healthy masters stay",
      );
    });

    it("still removes a blackholed master within 3 s when the daemon has the CPU, despite short GC pauses", () => {
      for (let at = 10_007; at < 11_000; at += 97) {
        const sim = new Simulation(three(), DEFAULT_TIMING, "keep", measure);
        starveRepeatedly(sim, 5_000, 30_000, 40, 700, "running");
        sim.setBehaviour(at, M1, blackhole);
        sim.runUntil(at + 10_000);
        const down = sim.transitionTime(M1, "down", at);
        assert.ok(down !== undefined && down - at <= 3_000, `blackhole at ${at}: down at ${down}`);
        assert.match(sim.transitionsOf(M1).at(-1)?.reason ?? "", /timeout/);
      }
    });
  });
}

describe("CareController with a starved daemon: what the kernel's account changes", () => {
  it("without stall measurement a starved daemon takes healthy masters down (the bug stall measurement fixes)", () => {
    const sim = new Simulation(three(), DEFAULT_TIMING, "keep", "none");
    starveRepeatedly(sim, 5_001, 65_000, 1_100, 1_103);
    sim.runUntil(70_000);
    assert.ok(downs(sim).length > 0, "the scenario must reproduce the false removal");
    assert.match(downs(sim)[0] ?? "", /timeout/);
  });

  /** A blackhole at 20 s on a node where the daemon waits `stallMs` for the CPU in every `periodMs`. */
  function blackholeWhileStarved(measure: StallMeasure, stallMs: number, periodMs: number): Simulation {
    const sim = new Simulation(three(), DEFAULT_TIMING, "keep", measure);
    starveRepeatedly(sim, 5_000, 65_000, stallMs, periodMs);
    sim.setBehaviour(20_000, M1, blackhole);
    sim.runUntil(60_000);
    return sim;
  }

  it("timer lag alone cannot tell a saturated node (the daemon gets 40% of the CPU) from a frozen daemon: a blackholed master stays in", () => {
    const sim = blackholeWhileStarved("lag", 60, 100);
    assert.equal(sim.transitionTime(M1, "down", 20_000), undefined, "the limitation the kernel's account removes");
    assert.ok(sim.inconclusive.filter((p) => p.master.ip === "10.0.0.1").length >= 10);
  });

  it("with the kernel's run-queue wait, a blackholed master on a saturated node leaves within 3 s and the healthy ones stay", () => {
    const sim = blackholeWhileStarved("kernel", 60, 100);
    const down = sim.transitionTime(M1, "down", 20_000);
    assert.ok(down !== undefined && down - 20_000 <= 3_000, `blackholed at 20000 ms, down at ${down}`);
    assert.match(sim.transitionsOf(M1).at(-1)?.reason ?? "", /timeout/);
    assert.deepEqual(sim.transitions.filter((t) => t.master.ip !== "10.0.0.1" && t.at > 5_000), [], "the healthy masters stay");
  });

  it("timer lag alone does not call a blackholed master down while the daemon barely runs (2% quota): inconclusive", () => {
    const sim = blackholeWhileStarved("lag", 98, 100);
    assert.deepEqual(downs(sim), [], "2% of the CPU and only timer lag cannot tell a blackhole from its own starvation");
    const m1 = sim.inconclusive.filter((p) => p.master.ip === "10.0.0.1");
    assert.ok(m1.length >= 10, `inconclusive probes of the blackholed master: ${m1.length}`);
    assert.ok(m1.every((p) => p.windowMs >= DEFAULT_TIMING.timeoutMs && p.stalledMs > p.windowMs / 2));
  });

  it("with the kernel's run-queue wait, even a 2% quota tells a blackhole: nothing arrived while the daemon could have read it", () => {
    const sim = blackholeWhileStarved("kernel", 98, 100);
    const down = sim.transitionTime(M1, "down", 20_000);
    assert.ok(down !== undefined && down - 20_000 <= 6_000, `blackholed at 20000 ms, down at ${down}`);
    assert.deepEqual(sim.transitions.filter((t) => t.master.ip !== "10.0.0.1" && t.at > 5_000), [], "the healthy masters stay");
  });
});
