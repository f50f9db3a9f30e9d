/**
 * The dataplane contract suite: one set of scenarios, run against every backend, so that the fake
 * the host tests rely on is held to what the real kernel does, and a new backend proves itself
 * with a few lines. Runs from dataplane-contract.test.ts (the fake, both apply styles, on the
 * host) and test/kernel/lvscare-dataplane.kernel.ts (IPVS in the VM); an nftables backend joins
 * with its own DataplaneBackend.
 *
 * Each scenario opens a dataplane on an empty table, drives it the way the daemon does (the real
 * reconcile() and desiredDestinations()) or with raw ops, then reads the result back through
 * read() and, where the backend has one, through an independent witness (ipvsadm for IPVS).
 * A failed assertion prints the whole table as `ipvsadm -Ln` shows it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { type Endpoint, formatEndpoint, parseEndpoint } from "../src/address.ts";
import { SCHEDULERS } from "../src/config.ts";
import { desiredDestinations, type MasterHealth } from "../src/controller/desired.ts";
import { DataplaneApplyError } from "../src/dataplane/error.ts";
import { describeOp } from "../src/dataplane/ops.ts";
import type { Dataplane, DataplaneOp, ForwardMethod, ObservedVirtualServer, VirtualServerSpec } from "../src/dataplane/types.ts";
import type { DesiredDestination, DesiredState } from "../src/desired-state.ts";
import { formatIpvsTable } from "../src/ipvs-format.ts";
import { plan } from "../src/plan.ts";
import { applyPlan, reconcile } from "../src/reconcile.ts";
import {
  addDestination,
  addVirtualServer,
  deleteDestination,
  deleteVirtualServer,
  destination,
  seed,
  updateDestination,
  updateVirtualServer,
} from "./helpers/ops.ts";

/** A virtual server reduced to what the contract promises, comparable across backends and tools. */
export interface TableView {
  readonly scheduler: string;
  readonly persistenceTimeout: number;
  /** By `IP:port` / `[IPv6]:port`. */
  readonly destinations: Readonly<Record<string, { readonly weight: number; readonly forward: ForwardMethod }>>;
}

export interface DataplaneBackend {
  /** Shown in the suite's name: "fake", "IPVS". */
  readonly name: string;
  /** A dataplane on a table without any virtual server, for one scenario (closed after it). */
  open(): Promise<Dataplane>;
  /** Removes every virtual server behind the dataplane's back, as kube-proxy's IPVS flush does. */
  flushExternally(): Promise<void>;
  /**
   * The virtual server as an independent tool sees it (IPVS: `ipvsadm -Ln`), undefined when it
   * has none; leave out when the backend has no such tool (the fake).
   */
  readonly witness?: (address: Endpoint) => Promise<TableView | undefined>;
  /** The tool's whole listing, which formatIpvsTable(listAll()) must equal byte for byte (IPVS: `ipvsadm -Ln`). */
  readonly listing?: () => Promise<string>;
}

const ep = (text: string): Endpoint => parseEndpoint(text, "contract");

const V4 = {
  vs: ep("10.103.97.2:6443"),
  masters: [ep("10.240.0.11:6443"), ep("10.240.0.12:6443"), ep("10.240.0.13:6443")] as const,
  stranger: ep("10.240.0.99:6443"),
};
const V6 = {
  vs: ep("[fd00:10:103::2]:6443"),
  masters: [ep("[fd00:10:240::11]:6443"), ep("[fd00:10:240::12]:6443"), ep("[fd00:10:240::13]:6443")] as const,
  stranger: ep("[fd00:10:240::99]:6443"),
};
const [M1, M2, M3] = V4.masters;
const SPEC: VirtualServerSpec = { address: V4.vs, scheduler: "rr", persistenceTimeout: 0 };
const OTHER_VS = ep("10.96.0.1:443");

/** A scheduler lvscare offers other than rr, the backend permitting (wlc on IPVS), else rr. */
function otherScheduler(dataplane: Dataplane): string {
  return ["wlc", ...SCHEDULERS].find((name) => name !== "rr" && dataplane.capabilities.schedulers.includes(name)) ?? "rr";
}

export function viewOf(observed: ObservedVirtualServer | undefined): TableView | undefined {
  if (observed === undefined) return undefined;
  return {
    scheduler: observed.scheduler,
    persistenceTimeout: observed.persistenceTimeout,
    destinations: Object.fromEntries(observed.destinations.map((d) => [formatEndpoint(d.address), { weight: d.weight, forward: d.forward }])),
  };
}

/** The view of an rr virtual server without persistence whose destinations are masq at these weights. */
function table(weights: ReadonlyArray<readonly [Endpoint, number]>, scheduler = "rr"): TableView {
  return {
    scheduler,
    persistenceTimeout: 0,
    destinations: Object.fromEntries(weights.map(([address, weight]) => [formatEndpoint(address), { weight, forward: "masq" as const }])),
  };
}

function desired(spec: VirtualServerSpec, destinations: readonly DesiredDestination[], configured: readonly Endpoint[]): DesiredState {
  return { virtualServer: spec, destinations, configured };
}

const up = (address: Endpoint): DesiredDestination => ({ address, weight: 1 });
const adopt = (address: Endpoint): DesiredDestination => ({ address, weight: "adopt" });

function expectRefusal(err: unknown, code: string, failedIndex: number, applied: number): DataplaneApplyError {
  assert.ok(err instanceof DataplaneApplyError, `a DataplaneApplyError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.equal(err.failedIndex, failedIndex, err.message);
  assert.equal(err.applied.length, applied, err.message);
  return err;
}

async function refusal(dataplane: Dataplane, ops: readonly DataplaneOp[]): Promise<unknown> {
  try {
    await dataplane.apply(ops);
  } catch (err) {
    return err;
  }
  return assert.fail(`apply(${ops.map(describeOp).join("; ")}) was not refused`);
}

export function dataplaneContract(backend: DataplaneBackend): void {
  /** Asserts `address` reads as `expected` through read() and the witness; failures show the table. */
  async function expectTable(dataplane: Dataplane, address: Endpoint, expected: TableView | undefined, what: string): Promise<void> {
    const dump = async (): Promise<string> => `\n${formatIpvsTable(await dataplane.listAll())}`;
    const read = viewOf(await dataplane.read(address));
    if (!isDeepStrictEqual(read, expected)) assert.deepEqual(read, expected, `${what}: read() of ${formatEndpoint(address)}${await dump()}`);
    if (backend.witness) {
      const seen = await backend.witness(address);
      if (!isDeepStrictEqual(seen, expected)) assert.deepEqual(seen, expected, `${what}: the witness's view of ${formatEndpoint(address)}${await dump()}`);
    }
  }

  function scenario(name: string, body: (dataplane: Dataplane) => Promise<void>): void {
    it(name, async () => {
      const dataplane = await backend.open();
      try {
        await body(dataplane);
      } finally {
        await dataplane.close();
      }
    });
  }

  const described = (ops: readonly DataplaneOp[]): string[] => ops.map(describeOp);

  describe(`dataplane contract: ${backend.name}`, () => {
    scenario("create: a missing virtual server comes with every healthy master at weight 1, and a second pass changes nothing", async (dp) => {
      assert.equal(await dp.read(V4.vs), undefined, "an empty table has no virtual server");
      const want = desired(SPEC, V4.masters.map(up), V4.masters);
      const first = await reconcile(dp, want);
      assert.deepEqual(described(first.applied), [
        "add virtual server 10.103.97.2:6443 rr",
        "add 10.240.0.11:6443 weight 1",
        "add 10.240.0.12:6443 weight 1",
        "add 10.240.0.13:6443 weight 1",
      ]);
      assert.equal(first.destinations, 3);
      await expectTable(dp, V4.vs, table(V4.masters.map((m) => [m, 1])), "after create");
      const second = await reconcile(dp, want);
      assert.deepEqual(described(second.applied), [], "converged");
      assert.equal(second.destinations, 3);
    });

    scenario("adopt: while health is unknown the table is kept as it is, weights included, and nothing is added", async (dp) => {
      await seed(dp, SPEC, [[M1, 1], [M2, 0], [M3, 5]]);
      const result = await reconcile(dp, desired(SPEC, [...V4.masters.map(adopt), adopt(ep("10.240.0.14:6443"))], V4.masters));
      assert.deepEqual(described(result.applied), []);
      await expectTable(dp, V4.vs, table([[M1, 1], [M2, 0], [M3, 5]]), "after adopting");
    });

    scenario("prune: a destination not in --rs is quiesced, then deleted; the others stay untouched", async (dp) => {
      await seed(dp, SPEC, [[M1, 1], [V4.stranger, 1]]);
      const result = await reconcile(dp, desired(SPEC, [up(M1)], V4.masters));
      assert.deepEqual(described(result.applied), ["set 10.240.0.99:6443 weight 0", "delete 10.240.0.99:6443"]);
      assert.deepEqual(result.applied.map((op) => op.reason), ["quiesce before removal (not in --rs)", "not in --rs"]);
      await expectTable(dp, V4.vs, table([[M1, 1]]), "after pruning");
    });

    scenario("quiesce: weight 0 keeps the destination listed; out of rotation it is deleted without a second quiesce", async (dp) => {
      await seed(dp, SPEC, [[M1, 1], [M2, 1]]);
      await dp.apply([updateDestination(V4.vs, destination(M2, 0))]);
      await expectTable(dp, V4.vs, table([[M1, 1], [M2, 0]]), "after quiescing");
      const result = await reconcile(dp, desired(SPEC, [up(M1)], V4.masters));
      assert.deepEqual(described(result.applied), ["delete 10.240.0.12:6443"]);
      assert.equal(result.applied[0]?.reason, "out of rotation");
      await expectTable(dp, V4.vs, table([[M1, 1]]), "after removal");
    });

    scenario("restore: a table flushed by someone else is back after one pass", async (dp) => {
      const want = desired(SPEC, V4.masters.map(up), V4.masters);
      await reconcile(dp, want);
      await backend.flushExternally();
      await expectTable(dp, V4.vs, undefined, "after the external flush");
      const result = await reconcile(dp, want);
      assert.equal(described(result.applied)[0], "add virtual server 10.103.97.2:6443 rr");
      assert.deepEqual(result.applied.slice(1).map((op) => op.reason), ["virtual server recreated", "virtual server recreated", "virtual server recreated"]);
      await expectTable(dp, V4.vs, table(V4.masters.map((m) => [m, 1])), "after restoring");
    });

    for (const policy of ["keep", "remove"] as const) {
      scenario(`all down (--all-down ${policy}): ${policy === "keep" ? "every master stays in at weight 1" : "the virtual server is emptied"}`, async (dp) => {
        await seed(dp, SPEC, [[M1, 1], [M2, 0]]);
        const masters: MasterHealth[] = V4.masters.map((address) => ({ address, health: "down" }));
        const verdict = desiredDestinations(masters, policy);
        assert.equal(verdict.allDown, true);
        await reconcile(dp, desired(SPEC, verdict.destinations, V4.masters));
        await expectTable(dp, V4.vs, table(policy === "keep" ? V4.masters.map((m) => [m, 1]) : []), `all down, ${policy}`);
      });
    }

    scenario("IPv6: create, prune and read back in canonical form", async (dp) => {
      const spec: VirtualServerSpec = { address: V6.vs, scheduler: "rr", persistenceTimeout: 0 };
      const [m1, m2] = V6.masters;
      await seed(dp, spec, [[V6.stranger, 1]]);
      const result = await reconcile(dp, desired(spec, [up(m1), up(m2)], V6.masters));
      assert.deepEqual(described(result.applied), [
        "add [fd00:10:240::11]:6443 weight 1",
        "add [fd00:10:240::12]:6443 weight 1",
        "set [fd00:10:240::99]:6443 weight 0",
        "delete [fd00:10:240::99]:6443",
      ]);
      await expectTable(dp, V6.vs, table([[m1, 1], [m2, 1]]), "IPv6");
      await expectTable(dp, V4.vs, undefined, "no IPv4 twin");
    });

    scenario("a changed virtual server is corrected: scheduler and persistence back to lvscare's", async (dp) => {
      // What the backend lets differ from lvscare's rr without persistence (IPVS: wlc, 300 s).
      const scheduler = otherScheduler(dp);
      const persistence = Math.min(300, dp.capabilities.maxPersistenceTimeout);
      await seed(dp, { ...SPEC, scheduler, persistenceTimeout: persistence }, [[M1, 1]]);
      await expectTable(dp, V4.vs, { ...table([[M1, 1]], scheduler), persistenceTimeout: persistence }, "the changed virtual server");
      const result = await reconcile(dp, desired(SPEC, [up(M1)], V4.masters));
      const changes = [...(scheduler === "rr" ? [] : [`scheduler ${scheduler} -> rr`]), ...(persistence === 0 ? [] : [`persistence ${persistence}s -> none`])];
      assert.deepEqual(result.applied.map((op) => [describeOp(op), op.reason]), changes.length === 0 ? [] : [["update virtual server 10.103.97.2:6443", changes.join(", ")]]);
      await expectTable(dp, V4.vs, table([[M1, 1]]), "corrected, destinations kept");
    });

    scenario("every scheduler lvscare offers (--scheduler) is accepted and read back", async (dp) => {
      const offered = SCHEDULERS.filter((name) => dp.capabilities.schedulers.includes(name));
      assert.ok(offered.includes("rr"), `the backend supports rr (it declares ${dp.capabilities.schedulers.join(", ")})`);
      await seed(dp, SPEC);
      for (const scheduler of offered) {
        await dp.apply([updateVirtualServer({ ...SPEC, scheduler })]);
        await expectTable(dp, V4.vs, table([], scheduler), `scheduler ${scheduler}`);
      }
    });

    scenario("EEXIST: adding a virtual server or a destination that is there", async (dp) => {
      await seed(dp, SPEC, [[M1, 1]]);
      expectRefusal(await refusal(dp, [addVirtualServer(SPEC)]), "EEXIST", 0, 0);
      expectRefusal(await refusal(dp, [addDestination(V4.vs, destination(M1, 3))]), "EEXIST", 0, 0);
      await expectTable(dp, V4.vs, table([[M1, 1]]), "unchanged by the refusals");
    });

    scenario("ESRCH: any op on a virtual server that is not there", async (dp) => {
      for (const op of [
        updateVirtualServer(SPEC),
        deleteVirtualServer(SPEC.address),
        addDestination(V4.vs, destination(M1, 1)),
        updateDestination(V4.vs, destination(M1, 1)),
        deleteDestination(V4.vs, M1),
      ]) {
        expectRefusal(await refusal(dp, [op]), "ESRCH", 0, 0);
      }
      await expectTable(dp, V4.vs, undefined, "still nothing");
    });

    scenario("ENOENT: updating or deleting a destination that is not there", async (dp) => {
      await seed(dp, SPEC, [[M1, 1]]);
      expectRefusal(await refusal(dp, [updateDestination(V4.vs, destination(M2, 1))]), "ENOENT", 0, 0);
      expectRefusal(await refusal(dp, [deleteDestination(V4.vs, M2)]), "ENOENT", 0, 0);
      await expectTable(dp, V4.vs, table([[M1, 1]]), "unchanged by the refusals");
    });

    scenario("an unknown scheduler is refused with ENOENT, and the ops before it in the list do not happen", async (dp) => {
      const err = expectRefusal(await refusal(dp, [addVirtualServer({ ...SPEC, address: OTHER_VS }), addVirtualServer({ ...SPEC, scheduler: "fastest" })]), "ENOENT", 1, 0);
      assert.match(err.message, /op 2 of 2, nothing applied/);
      await expectTable(dp, OTHER_VS, undefined, "the valid op before it");
      await expectTable(dp, V4.vs, undefined, "the refused one");
    });

    scenario("a weight outside 0..maxWeight is refused with ERANGE before anything changes; maxWeight itself is fine", async (dp) => {
      const max = dp.capabilities.maxWeight;
      for (const weight of [max + 1, -1]) {
        expectRefusal(await refusal(dp, [addVirtualServer(SPEC), addDestination(V4.vs, destination(M1, max)), addDestination(V4.vs, destination(M2, weight))]), "ERANGE", 2, 0);
        await expectTable(dp, V4.vs, undefined, `nothing of a list with weight ${weight}`);
      }
      await seed(dp, SPEC, [[M1, max]]);
      await expectTable(dp, V4.vs, table([[M1, max]]), "the largest weight");
    });

    scenario("partial apply: a refusal mid-list says which op failed and which took effect", async (dp) => {
      await seed(dp, SPEC, [[M2, 1]]);
      const ops = [addDestination(V4.vs, destination(M1, 1)), addDestination(V4.vs, destination(M2, 1)), addDestination(V4.vs, destination(M3, 1))];
      const atomic = dp.capabilities.atomicApply;
      const err = expectRefusal(await refusal(dp, ops), "EEXIST", 1, atomic ? 0 : 1);
      assert.equal(err.failed, ops[1]);
      assert.deepEqual(err.applied, atomic ? [] : [ops[0]]);
      assert.match(err.message, atomic ? /op 2 of 3, nothing applied/ : /op 2 of 3, the 1 before it applied/);
      await expectTable(dp, V4.vs, table(atomic ? [[M2, 1]] : [[M1, 1], [M2, 1]]), atomic ? "all or nothing" : "in order up to the refusal");
    });

    scenario("races between read and apply are settled: added meanwhile -> updated, deleted meanwhile -> done", async (dp) => {
      await seed(dp, SPEC, [[M3, 1]]);
      const want = desired(SPEC, [up(M1)], V4.masters);
      const stale = plan(want, await dp.read(V4.vs));
      assert.deepEqual(described(stale), ["add 10.240.0.11:6443 weight 1", "set 10.240.0.13:6443 weight 0", "delete 10.240.0.13:6443"]);
      // Someone else adds M1 (at another weight) and deletes M3 before the plan is applied.
      await dp.apply([addDestination(V4.vs, destination(M1, 7)), deleteDestination(V4.vs, M3)]);
      const applied: DataplaneOp[] = [];
      await applyPlan(dp, stale, (op) => applied.push(op));
      assert.deepEqual(described(applied), described(stale), "every planned op counts as done");
      await expectTable(dp, V4.vs, table([[M1, 1]]), "after the races");
    });

    scenario("listAll: every virtual server, ours and foreign ones, as ipvsadm -Ln shows them", async (dp) => {
      await seed(dp, SPEC, [[M1, 1], [M2, 0]]);
      await seed(dp, { address: OTHER_VS, scheduler: otherScheduler(dp), persistenceTimeout: Math.min(120, dp.capabilities.maxPersistenceTimeout) }, [[ep("10.240.0.21:443"), 3]]);
      const listed = await dp.listAll();
      const ours = listed.services.find((s) => s.address !== undefined && formatEndpoint(s.address) === "10.103.97.2:6443");
      // Sorted: the contract promises no order (the kernel lists the newest destination first).
      assert.deepEqual(
        ours?.destinations.map((d) => [formatEndpoint(d.address), d.weight, d.forward]).sort(),
        [["10.240.0.11:6443", 1, "masq"], ["10.240.0.12:6443", 0, "masq"]],
        formatIpvsTable(listed),
      );
      assert.equal(listed.services.length, 2, formatIpvsTable(listed));
      if (backend.listing) assert.equal(formatIpvsTable(listed), await backend.listing());
    });

    scenario("deleting a virtual server removes its destinations and nothing else", async (dp) => {
      await seed(dp, SPEC, [[M1, 1]]);
      await seed(dp, { ...SPEC, address: OTHER_VS }, [[M2, 1]]);
      await dp.apply([deleteVirtualServer(V4.vs)]);
      await expectTable(dp, V4.vs, undefined, "deleted");
      await expectTable(dp, OTHER_VS, table([[M2, 1]]), "the other one");
      await seed(dp, SPEC);
      await expectTable(dp, V4.vs, table([]), "re-created without the old destinations");
    });
  });
}
