import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatIp, joinHostPort, parseIp, sameIp, specialUseReason } from "@lvscare/contracts/ip";
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

describe("IP addresses", () => {
  it("parses IPv4 and refuses what Go's net.ParseIP refuses", () => {
    assert.equal(ip("10.0.0.1").value, 0x0a000001n);
    for (const bad of ["10.0.0.01", "10.0.0", "10.0.0.256", "a.b.c.d", " 10.0.0.1", "10.0.0.1/32", "fe80::1%eth0", "[::1]"]) {
      assert.equal(parseIp(bad), undefined, bad);
    }
  });

  it("formats IPv6 canonically (RFC 5952) so spellings of one address compare equal", () => {
    const cases: [string, string][] = [
      ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
      ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
      ["::", "::"],
      ["::ffff:10.0.0.1", "::ffff:10.0.0.1"],
      ["fd00::", "fd00::"],
    ];
    for (const [input, canonical] of cases) assert.equal(formatIp(ip(input)), canonical, input);
    assert.ok(sameIp(ip("2001:db8::1"), ip("2001:0db8:0000::0001")));
  });

  it("brackets IPv6 in host:port", () => {
    assert.equal(joinHostPort(ip("10.0.0.1"), 6443), "10.0.0.1:6443");
    assert.equal(joinHostPort(ip("fd00::2"), 6443), "[fd00::2]:6443");
  });

  it("names the addresses no host can have", () => {
    assert.equal(specialUseReason(ip("127.0.0.2")), "a loopback address");
    assert.equal(specialUseReason(ip("0.0.0.0")), "the unspecified address");
    assert.equal(specialUseReason(ip("224.0.0.1")), "a multicast address");
    assert.equal(specialUseReason(ip("::1")), "a loopback address");
    assert.equal(specialUseReason(ip("10.0.0.1")), undefined);
  });
});

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
