/** The worker preflight's dataplane rule: IPVS only for --dataplane ipvs, the nft tool for nftables. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { dataplaneProblem } from "../src/lifecycle/preflight.ts";

const answers = (ipvs: "yes" | "loadable" | "no", nft: "yes" | "no") => new Map([["ipvs", ipvs], ["nft", nft]]);

describe("worker preflight by dataplane", () => {
  it("ipvs needs ip_vs in the kernel or loadable, not nft", () => {
    assert.equal(dataplaneProblem(answers("yes", "no"), "ipvs"), undefined);
    assert.equal(dataplaneProblem(answers("loadable", "no"), "ipvs"), undefined);
    assert.match(dataplaneProblem(answers("no", "yes"), "ipvs") ?? "", /^no IPVS: ip_vs is neither in the kernel nor loadable/);
  });
  it("nftables needs the nft tool, not ip_vs", () => {
    assert.equal(dataplaneProblem(answers("no", "yes"), "nftables"), undefined);
    assert.match(dataplaneProblem(answers("yes", "no"), "nftables") ?? "", /^no nft: lvscare --dataplane nftables needs the nft tool \(Debian: nftables\)$/);
  });
  it("auto needs one of them", () => {
    assert.equal(dataplaneProblem(answers("no", "yes"), "auto"), undefined);
    assert.equal(dataplaneProblem(answers("yes", "no"), "auto"), undefined);
    assert.match(dataplaneProblem(answers("no", "no"), "auto") ?? "", /neither IPVS/);
  });
});
