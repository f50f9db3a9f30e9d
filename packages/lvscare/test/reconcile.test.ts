import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Endpoint, parseEndpoint } from "../src/address.ts";
import { FakeDataplane } from "../src/dataplane/fake.ts";
import { describeOp } from "../src/dataplane/ops.ts";
import type { DataplaneOp as Op, DestinationState, ObservedVirtualServer, VirtualServerSpec } from "../src/dataplane/types.ts";
import type { DesiredDestination } from "../src/desired-state.ts";
import { plan } from "../src/plan.ts";
import { applyPlan } from "../src/reconcile.ts";
import { seed } from "./helpers/ops.ts";

const ep = (text: string): Endpoint => parseEndpoint(text, "test");
const VS = ep("10.103.97.2:6443");
const M1 = ep("10.0.0.1:6443");
const M2 = ep("10.0.0.2:6443");
const M3 = ep("10.0.0.3:6443");
const spec: VirtualServerSpec = { address: VS, scheduler: "rr", persistenceTimeout: 0 };
const observedAs = (destinations: DestinationState[], overrides: Partial<ObservedVirtualServer> = {}): ObservedVirtualServer => ({
  ...spec,
  extraSettings: [],
  destinations,
  ...overrides,
});
const readObserved = (fake: FakeDataplane, address: Endpoint) => fake.read(address);
const dest = (address: Endpoint, weight: number, forward: DestinationState["forward"] = "masq"): DestinationState => ({
  address,
  weight,
  forward,
  activeConnections: 0,
  inactiveConnections: 0,
});
const desired = (destinations: DesiredDestination[]) => ({ virtualServer: spec, destinations, configured: [M1, M2, M3] });
const ops = (list: Op[]): string[] => list.map(describeOp);

describe("plan", () => {
  it("creates a missing virtual server with every wanted destination", () => {
    const result = plan(desired([{ address: M1, weight: 1 }, { address: M2, weight: 1 }, { address: M3, weight: "adopt" }]), undefined);
    assert.deepEqual(ops(result), ["add virtual server 10.103.97.2:6443 rr", "add 10.0.0.1:6443 weight 1", "add 10.0.0.2:6443 weight 1"]);
  });

  it("does nothing when the kernel already matches", () => {
    const observed = observedAs([dest(M1, 1), dest(M2, 1), dest(M3, 1)]);
    assert.deepEqual(plan(desired([{ address: M1, weight: 1 }, { address: M2, weight: 1 }, { address: M3, weight: 1 }]), observed), []);
  });

  it("adopts whatever an unknown master has, without adding it", () => {
    const observed = observedAs([dest(M1, 1), dest(M2, 0)]);
    const wanted = [M1, M2, M3].map((address) => ({ address, weight: "adopt" as const }));
    assert.deepEqual(plan(desired(wanted), observed), []);
  });

  it("corrects a changed virtual server", () => {
    const observed = observedAs([], { scheduler: "wlc", persistenceTimeout: 300, extraSettings: ["one-packet scheduling"] });
    const [op] = plan(desired([]), observed);
    assert.equal(op?.kind, "update-virtual-server");
    assert.equal(op?.reason, "scheduler wlc -> rr, persistence 300s -> none, one-packet scheduling -> off");
  });

  it("quiesces then deletes a master out of rotation, and prunes one not in --rs", () => {
    const stranger = ep("10.0.0.9:6443");
    const observed = observedAs([dest(M1, 1), dest(M2, 1), dest(stranger, 1), dest(M3, 0)]);
    const result = plan(desired([{ address: M1, weight: 1 }]), observed);
    assert.deepEqual(ops(result), [
      "set 10.0.0.2:6443 weight 0",
      "delete 10.0.0.2:6443",
      "set 10.0.0.9:6443 weight 0",
      "delete 10.0.0.9:6443",
      "delete 10.0.0.3:6443",
    ]);
    assert.equal(result[1]?.reason, "out of rotation");
    assert.equal(result[3]?.reason, "not in --rs");
  });

  it("restores weights and forwarding someone changed", () => {
    const observed = observedAs([dest(M1, 5), dest(M2, 1, "route")]);
    const result = plan(desired([{ address: M1, weight: 1 }, { address: M2, weight: 1 }]), observed);
    assert.deepEqual(ops(result), ["set 10.0.0.1:6443 weight 1", "set 10.0.0.2:6443 weight 1"]);
    assert.equal(result[1]?.reason, "forwarding route -> masq");
  });

  it("orders adds before removals so a failover never empties the table", () => {
    const observed = observedAs([dest(M1, 1)]);
    assert.deepEqual(ops(plan(desired([{ address: M2, weight: 1 }]), observed)), [
      "add 10.0.0.2:6443 weight 1",
      "set 10.0.0.1:6443 weight 0",
      "delete 10.0.0.1:6443",
    ]);
  });
});

describe("applyPlan against the validating fake", () => {
  it("carries out a plan and reads back what it planned", async () => {
    const fake = new FakeDataplane();
    const wanted = desired([{ address: M1, weight: 1 }, { address: M2, weight: 1 }]);
    await applyPlan(fake, plan(wanted, await readObserved(fake, VS)), () => undefined);
    assert.deepEqual(fake.weights(VS), { "10.0.0.1:6443": 1, "10.0.0.2:6443": 1 });
    assert.deepEqual(plan(wanted, await readObserved(fake, VS)), [], "converged");
  });

  it("treats a destination added meanwhile as an update, and one deleted meanwhile as done", async () => {
    const fake = new FakeDataplane();
    await seed(fake, spec, [[M1, 7]]);
    const applied: string[] = [];
    await applyPlan(
      fake,
      [
        { kind: "add-destination", virtualServer: VS, destination: { address: M1, weight: 1, forward: "masq" }, reason: "test" },
        { kind: "update-destination", virtualServer: VS, destination: { address: M2, weight: 0, forward: "masq" }, reason: "test" },
        { kind: "delete-destination", virtualServer: VS, address: M2, reason: "test" },
      ],
      (op) => applied.push(describeOp(op)),
    );
    assert.deepEqual(fake.weights(VS), { "10.0.0.1:6443": 1 });
    assert.equal(applied.length, 3);
  });

  it("stops at the first real failure", async () => {
    const fake = new FakeDataplane();
    fake.failNext("addDestination", "ENOMEM");
    const applied: Op[] = [];
    const wanted = desired([{ address: M1, weight: 1 }, { address: M2, weight: 1 }]);
    await assert.rejects(
      applyPlan(fake, plan(wanted, await readObserved(fake, VS)), (op) => applied.push(op)),
      (err: Error & { code?: string }) => err.code === "ENOMEM",
    );
    assert.deepEqual(ops(applied), ["add virtual server 10.103.97.2:6443 rr"]);
    assert.deepEqual(fake.weights(VS), {});
  });
});
