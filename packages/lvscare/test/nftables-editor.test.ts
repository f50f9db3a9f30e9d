// The dataplane contract's operations on the nftables model (pure), with IPVS's errno names.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Endpoint, parseEndpoint } from "../src/address.ts";
import { applyOps, type NftDesiredState, type NftOp, NftOpRefused } from "../src/dataplane/nftables/index.ts";

const ep = (text: string): Endpoint => parseEndpoint(text, "test");
const VIP = ep("10.103.97.2:6443");
const M1 = ep("10.0.0.1:6443");
const M2 = ep("10.0.0.2:6443");
const empty: NftDesiredState = { virtualServers: [], masquerade: [VIP] };
const addVs = (scheduler = "rr", persistenceTimeout = 0): NftOp => ({ kind: "add-virtual-server", spec: { address: VIP, scheduler, persistenceTimeout } });
const dest = (kind: "add-destination" | "update-destination", address: Endpoint, weight: number, forward = "masq"): NftOp => ({
  kind,
  virtualServer: VIP,
  destination: { address, weight, forward },
});

function refusal(model: NftDesiredState, ops: NftOp[]): { code: string; index: number; message: string } {
  try {
    applyOps(model, ops);
  } catch (err) {
    assert.ok(err instanceof NftOpRefused);
    return { code: err.code, index: err.index, message: err.message };
  }
  assert.fail("expected a refusal");
}

describe("nftables editor: contract ops on the model", () => {
  it("builds, reweights, quiesces and removes, keeping the masquerade list", () => {
    const built = applyOps(empty, [addVs("wrr"), dest("add-destination", M1, 1), dest("add-destination", M2, 1)]);
    const changed = applyOps(built, [
      dest("update-destination", M1, 0),
      { kind: "delete-destination", virtualServer: VIP, address: M1 },
      { kind: "update-virtual-server", spec: { address: VIP, scheduler: "sh", persistenceTimeout: 0 } },
    ]);
    assert.deepEqual(changed, { virtualServers: [{ address: VIP, scheduler: "sh", destinations: [{ address: M2, weight: 1 }] }], masquerade: [VIP] });
    assert.deepEqual(applyOps(changed, [{ kind: "delete-virtual-server", address: VIP }]).virtualServers, []);
  });

  it("refuses with IPVS's errno names and the index of the op", () => {
    const built = applyOps(empty, [addVs(), dest("add-destination", M1, 1)]);
    assert.deepEqual(refusal(built, [dest("update-destination", M1, 2), addVs()]), { code: "EEXIST", index: 1, message: "add-virtual-server: 10.103.97.2:6443: Service already exists (EEXIST)" });
    assert.equal(refusal(empty, [{ kind: "update-virtual-server", spec: { address: VIP, scheduler: "rr", persistenceTimeout: 0 } }]).code, "ESRCH");
    assert.equal(refusal(empty, [{ kind: "delete-virtual-server", address: VIP }]).code, "ESRCH");
    assert.equal(refusal(empty, [dest("add-destination", M1, 1)]).code, "ESRCH");
    assert.equal(refusal(built, [dest("add-destination", M1, 1)]).code, "EEXIST");
    assert.equal(refusal(built, [dest("update-destination", M2, 1)]).code, "ENOENT");
    assert.equal(refusal(built, [{ kind: "delete-destination", virtualServer: VIP, address: M2 }]).code, "ENOENT");
    assert.equal(refusal(empty, [addVs("mh")]).code, "ENOENT");
    assert.equal(refusal(empty, [addVs("rr", 300)]).code, "EOPNOTSUPP");
    assert.equal(refusal(built, [dest("add-destination", M2, 65536)]).code, "ERANGE");
    assert.equal(refusal(built, [dest("add-destination", M2, 1, "route")]).code, "EOPNOTSUPP");
  });

  it("a refusal leaves the model as it was (the caller gets nothing to write)", () => {
    const built = applyOps(empty, [addVs(), dest("add-destination", M1, 1)]);
    const snapshot = JSON.stringify(built);
    refusal(built, [{ kind: "delete-destination", virtualServer: VIP, address: M1 }, dest("update-destination", M2, 1)]);
    assert.equal(JSON.stringify(built), snapshot);
  });
});
