import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatIp, parseIp } from "@lvscare/contracts/ip";
import { cidrContains, cidrsOverlap, formatCidr, hostCidr, nthAddress, parseCidr, type Cidr } from "../src/net/cidr.ts";

function ip(text: string) {
  const parsed = parseIp(text);
  assert.ok(parsed, `${text} should parse`);
  return parsed;
}

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  assert.ok(!("error" in parsed), `${text} should parse`);
  return parsed;
}

describe("CIDR blocks", () => {
  it("refuses host bits, bad prefixes and non-addresses, saying why", () => {
    assert.deepEqual(parseCidr("10.96.0.5/22"), { error: "host bits set; the network is 10.96.0.0/22" });
    assert.deepEqual(parseCidr("10.96.0.0/33"), { error: "prefix must be 0-32" });
    assert.deepEqual(parseCidr("10.96.0.0"), { error: "missing /PREFIX" });
    assert.deepEqual(parseCidr("x/8"), { error: "not an IP address before the /" });
    assert.deepEqual(parseCidr("10.0.0.0/08"), { error: "prefix must be 0-32" });
  });

  it("answers containment, overlap and the n-th address", () => {
    const services = cidr("10.96.0.0/22");
    assert.ok(cidrContains(services, ip("10.96.3.255")));
    assert.ok(!cidrContains(services, ip("10.96.4.0")));
    assert.ok(!cidrContains(services, ip("::1")));
    assert.ok(cidrsOverlap(cidr("100.64.0.0/10"), cidr("100.100.0.0/16")));
    assert.ok(!cidrsOverlap(cidr("100.64.0.0/10"), services));
    assert.equal(formatIp(nthAddress(services, 1) ?? ip("0.0.0.0")), "10.96.0.1");
    assert.equal(nthAddress(cidr("10.0.0.0/30"), 4), undefined);
    assert.equal(formatCidr(hostCidr(ip("10.103.97.2"))), "10.103.97.2/32");
    assert.equal(formatCidr(hostCidr(ip("fd00::10"))), "fd00::10/128");
  });
});
