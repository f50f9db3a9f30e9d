import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_WEIGHT } from "@lvscare/ipvs-native";
import { type Endpoint, formatEndpoint, parseEndpoint } from "../src/address.ts";
import { DataplaneApplyError } from "../src/dataplane/error.ts";
import { FakeDataplane } from "../src/dataplane/fake.ts";
import type { DestinationSpec, VirtualServerSpec } from "../src/dataplane/types.ts";
import { addDestination, addVirtualServer, deleteDestination, deleteVirtualServer, destination, seed, updateDestination, updateVirtualServer } from "./helpers/ops.ts";

// The fake's own tests; the behaviour it shares with the kernel is the contract suite's
// (dataplane-contract.test.ts here, test/kernel/lvscare-dataplane.kernel.ts in the VM).
const ep = (text: string): Endpoint => parseEndpoint(text, "test");
const VS = ep("10.103.97.2:6443");
const M1 = ep("10.0.0.1:6443");
const M2 = ep("10.0.0.2:6443");
const spec: VirtualServerSpec = { address: VS, scheduler: "rr", persistenceTimeout: 0 };

describe("FakeDataplane answers like the kernel", () => {
  const code = (c: string) => (err: Error & { code?: string }) => err.code === c;
  // One op per apply, as the kernel sees one request each.
  const calls = (fake: FakeDataplane) => ({
    addVirtualServer: (s: VirtualServerSpec) => fake.apply([addVirtualServer(s)]),
    updateVirtualServer: (s: VirtualServerSpec) => fake.apply([updateVirtualServer(s)]),
    deleteVirtualServer: (a: Endpoint) => fake.apply([deleteVirtualServer(a)]),
    addDestination: (v: Endpoint, d: DestinationSpec) => fake.apply([addDestination(v, d)]),
    updateDestination: (v: Endpoint, d: DestinationSpec) => fake.apply([updateDestination(v, d)]),
    deleteDestination: (v: Endpoint, a: Endpoint) => fake.apply([deleteDestination(v, a)]),
  });

  it("refuses duplicates and missing objects with the kernel's errno", async () => {
    const fake = new FakeDataplane();
    const kernel = calls(fake);
    await assert.rejects(kernel.updateVirtualServer(spec), code("ESRCH"));
    await assert.rejects(kernel.deleteVirtualServer(VS), code("ESRCH"));
    await assert.rejects(kernel.addDestination(VS, { address: M1, weight: 1, forward: "masq" }), code("ESRCH"));
    await kernel.addVirtualServer(spec);
    await assert.rejects(kernel.addVirtualServer(spec), code("EEXIST"));
    await kernel.addDestination(VS, { address: M1, weight: 1, forward: "masq" });
    await assert.rejects(kernel.addDestination(VS, { address: M1, weight: 1, forward: "masq" }), code("EEXIST"));
    await assert.rejects(kernel.updateDestination(VS, { address: M2, weight: 1, forward: "masq" }), code("ENOENT"));
    await assert.rejects(kernel.deleteDestination(VS, M2), code("ENOENT"));
    assert.equal(await fake.read(ep("10.9.9.9:1")), undefined, "a missing service reads as absent, destinations and all");
  });

  it("validates like the kernel: scheduler module, weight range, family, unicast", async () => {
    const fake = new FakeDataplane();
    const kernel = calls(fake);
    await assert.rejects(kernel.addVirtualServer({ ...spec, scheduler: "fastest" }), code("ENOENT"));
    await kernel.addVirtualServer(spec);
    await assert.rejects(kernel.addDestination(VS, { address: M1, weight: -1, forward: "masq" }), code("ERANGE"));
    await assert.rejects(kernel.addDestination(VS, { address: M1, weight: 2 ** 31, forward: "masq" }), code("ERANGE"));
    await assert.rejects(kernel.addDestination(VS, { address: ep("[fd00::1]:6443"), weight: 1, forward: "masq" }), code("EINVAL"));
    await assert.rejects(kernel.addDestination(VS, { address: ep("0.0.0.0:6443"), weight: 1, forward: "masq" }), code("EINVAL"));
    await assert.rejects(fake.setSysctl("net.ipv4.vs.no_such_knob", "1"), code("ENOENT"));
  });

  it("deleting a virtual server removes its destinations; a flush removes everything", async () => {
    const fake = new FakeDataplane();
    const kernel = calls(fake);
    await kernel.addVirtualServer(spec);
    await kernel.addDestination(VS, { address: M1, weight: 1, forward: "masq" });
    await kernel.deleteVirtualServer(VS);
    await kernel.addVirtualServer(spec);
    assert.deepEqual(fake.weights(VS), {});
    fake.flushAll();
    assert.equal(await fake.read(VS), undefined);
    assert.equal(formatEndpoint(VS), "10.103.97.2:6443");
  });
});

describe("FakeDataplane for tests", () => {
  it("has the kernel's weight limit, from @lvscare/ipvs-native", async () => {
    const fake = new FakeDataplane();
    assert.equal(fake.capabilities.maxWeight, MAX_WEIGHT);
    assert.equal(MAX_WEIGHT, 65535);
    await seed(fake, spec, [[M1, 65535]]);
    await assert.rejects(fake.apply([updateDestination(VS, destination(M1, 65536))]), (err: Error & { code?: string }) => err.code === "ERANGE");
    assert.deepEqual(fake.weights(VS), { "10.0.0.1:6443": 65535 });
  });

  it("dumps its table as ipvsadm -Ln prints it", async () => {
    const fake = new FakeDataplane();
    await seed(fake, spec, [[M2, 0], [M1, 1]]);
    await seed(fake, { address: ep("[fd00::10]:443"), scheduler: "wrr", persistenceTimeout: 300 }, [[ep("[fd00::1]:443"), 2]]);
    assert.equal(
      fake.dump(),
      [
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
        "TCP  10.103.97.2:6443 rr",
        "  -> 10.0.0.1:6443                Masq    1      0          0         ",
        "  -> 10.0.0.2:6443                Masq    0      0          0         ",
        "TCP  [fd00::10]:443 wrr persistent 300",
        "  -> [fd00::1]:443                Masq    2      0          0         ",
        "",
      ].join("\n"),
    );
  });

  it("records every change in `operations`, in the IPVS calls' names", async () => {
    const fake = new FakeDataplane();
    await seed(fake, spec, [[M1, 1]]);
    await fake.apply([updateDestination(VS, destination(M1, 0)), deleteDestination(VS, M1), deleteVirtualServer(VS)]);
    assert.deepEqual(
      fake.operations.map((o) => `${o.op} ${o.target}`),
      [
        "addVirtualServer 10.103.97.2:6443 rr",
        "addDestination 10.103.97.2:6443 -> 10.0.0.1:6443 w=1",
        "updateDestination 10.103.97.2:6443 -> 10.0.0.1:6443 w=0",
        "deleteDestination 10.103.97.2:6443 -> 10.0.0.1:6443",
        "deleteVirtualServer 10.103.97.2:6443",
      ],
    );
  });

  it("failNext: the next matching call is refused once; in order, what came before it stays", async () => {
    const fake = new FakeDataplane();
    fake.failNext("addDestination", "ENOMEM");
    await assert.rejects(fake.apply([addVirtualServer(spec), addDestination(VS, destination(M1, 1))]), (err: unknown) => {
      assert.ok(err instanceof DataplaneApplyError);
      assert.equal(err.code, "ENOMEM");
      assert.equal(err.failedIndex, 1);
      assert.deepEqual(err.applied, [addVirtualServer(spec)]);
      assert.match(err.message, /^apply: add 10\.0\.0\.1:6443 weight 1 \(op 2 of 2, the 1 before it applied\): injected fault \(ENOMEM\)$/);
      return true;
    });
    assert.deepEqual(fake.weights(VS), {});
    await fake.apply([addDestination(VS, destination(M1, 1))]);
    assert.deepEqual(fake.weights(VS), { "10.0.0.1:6443": 1 }, "refused once only");
    fake.failNext("read", "EPERM");
    await assert.rejects(fake.read(VS), (err: Error & { code?: string }) => err.code === "EPERM");
    assert.notEqual(await fake.read(VS), undefined);
  });

  it("atomicApply: a refusal anywhere leaves the table and the operation log as they were", async () => {
    const fake = new FakeDataplane({ capabilities: { atomicApply: true } });
    assert.equal(fake.capabilities.atomicApply, true);
    await seed(fake, spec, [[M1, 1]]);
    const before = { dump: fake.dump(), operations: fake.operations.length };
    fake.failNext("deleteDestination", "EIO");
    await assert.rejects(fake.apply([updateDestination(VS, destination(M1, 0)), addDestination(VS, destination(M2, 1)), deleteDestination(VS, M1)]), (err: unknown) => {
      assert.ok(err instanceof DataplaneApplyError);
      assert.deepEqual([err.code, err.failedIndex, err.applied.length], ["EIO", 2, 0]);
      return true;
    });
    assert.equal(fake.dump(), before.dump);
    assert.equal(fake.operations.length, before.operations);
  });

  it("a closed fake refuses every call with EBADF", async () => {
    const fake = new FakeDataplane();
    await fake.close();
    const ebadf = (err: Error & { code?: string }) => err.code === "EBADF";
    await assert.rejects(fake.read(VS), ebadf);
    await assert.rejects(fake.apply([addVirtualServer(spec)]), ebadf);
    await assert.rejects(fake.listAll(), ebadf);
    await assert.rejects(fake.setSysctl("net.ipv4.vs.conntrack", "1"), ebadf);
    await assert.rejects(fake.ensureRuler({ mode: "route", vip: "10.103.97.2", family: 4, metric: 50, gateway: "192.168.0.10" }), ebadf);
  });

  it("keeps routes, links and sysctls like the host does: idempotent, removal of what is absent is fine", async () => {
    const fake = new FakeDataplane();
    const route = { mode: "route", vip: "10.103.97.2", family: 4, metric: 50, gateway: "192.168.0.10" } as const;
    await fake.ensureRuler(route);
    await fake.ensureRuler(route);
    assert.deepEqual(fake.routeList(), [{ destination: "10.103.97.2/32", gateway: "192.168.0.10", metric: 50 }]);
    await fake.removeRuler(route);
    await fake.removeRuler(route);
    assert.deepEqual(fake.routeList(), []);
    await fake.ensureRuler({ mode: "link", vip: "10.103.97.2", family: 4, iface: "lvscare", masqueradeBit: 0, virtualServer: VS });
    assert.deepEqual(fake.linkList(), [{ name: "lvscare", addresses: ["10.103.97.2"], masqueradeBit: 0 }]);
    assert.equal(await fake.setSysctl("net.ipv4.vs.expire_nodest_conn", "1"), "0");
    assert.equal(await fake.setSysctl("net.ipv4.vs.expire_nodest_conn", "1"), "1");
    assert.equal(fake.operations.filter((o) => o.op === "setSysctl").length, 1, "an unchanged value is no change");
  });
});
