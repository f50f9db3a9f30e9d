/** The membership rules of seal add / delete / apply -f (pure): what is refused and what the cluster becomes. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InputError } from "../src/errors.ts";
import { canonicalHosts, hostnamesFor, membersAfterAdd, membersAfterDelete } from "../src/lifecycle/membership.ts";
import { membershipDiff } from "../src/lifecycle/apply-clusterfile.ts";

const members = { masters: ["10.0.0.1", "10.0.0.2", "10.0.0.3"], nodes: ["10.0.0.10"] };

describe("membership", () => {
  it("delete: master0 may go (the next master becomes master0), the last master never", () => {
    assert.deepEqual(membersAfterDelete(members, { masters: ["10.0.0.1"], nodes: [] }, "c"), { masters: ["10.0.0.2", "10.0.0.3"], nodes: ["10.0.0.10"] });
    assert.throws(() => membersAfterDelete(members, { masters: members.masters, nodes: [] }, "c"), (error: Error) => error instanceof InputError && /refusing to delete every master/.test(error.message));
    assert.throws(() => membersAfterDelete(members, { masters: ["10.0.0.9"], nodes: [] }, "c"), /10\.0\.0\.9 is not a master of cluster "c"/);
    assert.throws(() => membersAfterDelete(members, { masters: ["10.0.0.10"], nodes: [] }, "c"), /it is a worker: --nodes/);
  });

  it("add: new hosts appended, a member in the same role is a resumed add, in the other role refused", () => {
    assert.deepEqual(membersAfterAdd(members, { masters: ["10.0.0.4", "10.0.0.2"], nodes: ["10.0.0.11"] }, "c"), { masters: [...members.masters, "10.0.0.4"], nodes: ["10.0.0.10", "10.0.0.11"] });
    assert.throws(() => membersAfterAdd(members, { masters: ["10.0.0.10"], nodes: [] }, "c"), /already a worker/);
    assert.throws(() => membersAfterAdd(members, { masters: [], nodes: ["10.0.0.1"] }, "c"), /already a master/);
  });

  it("addresses are canonical, checked and never listed twice", () => {
    assert.deepEqual(canonicalHosts({ masters: ["10.0.0.4"], nodes: [] }, 22), { masters: ["10.0.0.4"], nodes: [] });
    assert.throws(() => canonicalHosts({ masters: ["$(reboot)"], nodes: [] }, 22), InputError);
    assert.throws(() => canonicalHosts({ masters: ["10.0.0.4"], nodes: ["10.0.0.4"] }, 22), /listed twice/);
    assert.throws(() => canonicalHosts({ masters: [], nodes: [] }, 22), /no hosts given/);
  });

  it("hostnames follow the members; renaming a member is refused", () => {
    assert.deepEqual(hostnamesFor(["10.0.0.1=a", "10.0.0.9=gone"], ["10.0.0.4=d"], { masters: ["10.0.0.1", "10.0.0.4"], nodes: [] }), ["10.0.0.1=a", "10.0.0.4=d"]);
    assert.throws(() => hostnamesFor(["10.0.0.1=a"], ["10.0.0.1=b"], members), /already named a/);
  });

  it("apply's diff: hosts only in the file are added, hosts only in the store deleted", () => {
    assert.deepEqual(membershipDiff(members, { masters: ["10.0.0.2", "10.0.0.3", "10.0.0.4"], nodes: [] }), {
      add: { masters: ["10.0.0.4"], nodes: [] },
      remove: { masters: ["10.0.0.1"], nodes: ["10.0.0.10"] },
    });
  });
});
