import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import {
  canonicalIp,
  formatEndpoint,
  formatIp,
  formatIpv4,
  formatIpv6,
  ipFromBytes,
  ipToBytes,
  isUnspecifiedIp,
  joinHostPort,
  parseEndpoint,
  parseIp,
  parseIpBytes,
  parsePort,
  sameEndpoint,
  sameIp,
  specialUseReason,
  type Endpoint,
  type IpAddress,
} from "../src/ip.ts";

function ip(text: string): IpAddress {
  const parsed = parseIp(text);
  assert.ok(parsed, `${text} should parse`);
  return parsed;
}

function endpoint(text: string): Endpoint {
  const parsed = parseEndpoint(text);
  assert.ok(!("error" in parsed), `${text} should parse`);
  return parsed;
}

describe("parsing addresses", () => {
  it("refuses what Go's net.ParseIP refuses, and zones, brackets, prefixes and blanks", () => {
    const bad = [
      "", "1.2.3", "1.2.3.4.5", "01.2.3.4", "10.0.0.01", "256.1.1.1", "10.1", "0x0a.0.0.1", "1.2.3.4 ", " 1.2.3.4",
      "10.0.0.1/32", "a.b.c.d", "::1::", ":1::", "1::2:", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::", "g::1",
      "fe80::1%eth0", "[::1]", "1.2.3.4::", "1:2:3:4:5:6:7:1.2.3.4", "::ffff:1.2.3", "::ffff:01.2.3.4", "１.2.3.4",
    ];
    for (const text of bad) {
      assert.equal(parseIpBytes(text), undefined, text);
      assert.equal(parseIp(text), undefined, text);
      assert.equal(canonicalIp(text), undefined, text);
    }
    assert.equal(parseIpBytes(undefined as unknown as string), undefined, "untyped callers get undefined, not a TypeError");
  });

  it("reads the three forms of one address alike", () => {
    assert.deepEqual(parseIpBytes("10.0.0.1"), { family: 4, bytes: Uint8Array.of(10, 0, 0, 1) });
    assert.deepEqual(ip("10.0.0.1"), { family: 4, value: 0x0a000001n });
    assert.equal(ip("2001:db8::1").value, 0x20010db8000000000000000000000001n);
    assert.equal(ip("::ffff:10.0.0.1").value, 0xffff0a000001n);
    for (const text of ["0.0.0.0", "255.255.255.255", "::", "::1", "fd00::10", "1:2:3:4:5:6:7:8", "::ffff:10.1.2.3"]) {
      const bytes = parseIpBytes(text);
      assert.ok(bytes);
      assert.deepEqual(ipToBytes(ipFromBytes(bytes)), bytes, text);
      assert.equal(formatIp(ip(text)), text, text);
    }
  });
});

describe("canonical text", () => {
  it("is RFC 5952 for IPv6, with IPv4-mapped addresses dotted as inet_ntop prints them", () => {
    const cases: Array<[string, string]> = [
      ["2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
      ["2001:DB8:0::1", "2001:db8::1"],
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
      ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
      ["0:0:0:0:0:0:0:0", "::"],
      ["::1", "::1"],
      ["1::", "1::"],
      ["fe80::", "fe80::"],
      ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
      ["1:0:0:2:0:0:3:4", "1::2:0:0:3:4"],
      ["::ffff:10.1.2.3", "::ffff:10.1.2.3"],
      ["::ffff:a01:203", "::ffff:10.1.2.3"],
      ["::ffff:0:0", "::ffff:0.0.0.0"],
      ["::1.2.3.4", "::102:304"],
      ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
      ["0:0:0:0:0:fffe:a01:203", "::fffe:a01:203"],
    ];
    for (const [input, canonical] of cases) {
      assert.equal(canonicalIp(input)?.ip, canonical, input);
      assert.equal(formatIp(ip(input)), canonical, input);
    }
    assert.deepEqual(canonicalIp("10.0.0.1"), { ip: "10.0.0.1", family: 4 });
    assert.deepEqual(canonicalIp("FD00::10"), { ip: "fd00::10", family: 6 });
  });

  it("agrees with the WHATWG URL serializer on random addresses, and parses back to the same bytes", () => {
    const mapped = (bytes: Uint8Array): boolean => bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
    for (let n = 0; n < 3000; n++) {
      const bytes = new Uint8Array(randomBytes(16));
      // Zero groups are what the compression rules are about: zero each group with odds 2 in 3.
      const dice = randomBytes(8);
      dice.forEach((die, group) => {
        if (die % 3 !== 0) bytes.fill(0, group * 2, group * 2 + 2);
      });
      const text = formatIpv6(bytes);
      if (!mapped(bytes)) assert.equal(text, new URL(`http://[${text}]/`).hostname.slice(1, -1));
      assert.deepEqual(parseIpBytes(text)?.bytes, bytes, text);
    }
    for (let n = 0; n < 1000; n++) {
      const bytes = new Uint8Array(randomBytes(4));
      assert.equal(formatIpv4(bytes), bytes.join("."));
    }
  });

  it("formats from an offset into a larger buffer, as a kernel dump is read", () => {
    const dump = Uint8Array.of(9, 9, 10, 1, 2, 3, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 9);
    assert.equal(formatIpv4(dump, 2), "10.1.2.3");
    assert.equal(formatIpv6(dump, 6), "fd00::10");
  });

  it("names the unspecified addresses", () => {
    assert.ok(isUnspecifiedIp("0.0.0.0"));
    assert.ok(isUnspecifiedIp("::"));
    assert.ok(!isUnspecifiedIp("::1"));
  });
});

describe("the integer form", () => {
  it("compares spellings of one address as equal", () => {
    assert.ok(sameIp(ip("2001:db8::1"), ip("2001:0db8:0000::0001")));
    assert.ok(!sameIp(ip("0.0.0.1"), ip("::1")), "families differ even when the numbers do not");
  });

  it("names the addresses no host can have", () => {
    assert.equal(specialUseReason(ip("127.0.0.2")), "a loopback address");
    assert.equal(specialUseReason(ip("0.0.0.0")), "the unspecified address");
    assert.equal(specialUseReason(ip("224.0.0.1")), "a multicast address");
    assert.equal(specialUseReason(ip("255.255.255.255")), "the broadcast address");
    assert.equal(specialUseReason(ip("::")), "the unspecified address");
    assert.equal(specialUseReason(ip("::1")), "a loopback address");
    assert.equal(specialUseReason(ip("ff02::1")), "a multicast address");
    assert.equal(specialUseReason(ip("10.0.0.1")), undefined);
    assert.equal(specialUseReason(ip("fd00::1")), undefined);
  });
});

describe("endpoints", () => {
  it("parses IP:port and [IPv6]:port into canonical form, and formats them back", () => {
    assert.deepEqual(endpoint("10.0.0.1:6443"), { ip: "10.0.0.1", port: 6443, family: 4 });
    assert.deepEqual(endpoint(" [FD00:0::2]:443 "), { ip: "fd00::2", port: 443, family: 6 });
    for (const text of ["10.0.0.1:6443", "[fd00::1]:443", "[::ffff:10.0.0.1]:1"]) assert.equal(formatEndpoint(endpoint(text)), text);
    assert.equal(joinHostPort(ip("10.0.0.1"), 6443), "10.0.0.1:6443");
    assert.equal(joinHostPort(ip("fd00::2"), 6443), "[fd00::2]:6443");
    assert.ok(sameEndpoint(endpoint("[fd00::1]:1"), endpoint("[fd00:0::1]:1")));
    assert.ok(!sameEndpoint(endpoint("10.0.0.1:1"), endpoint("10.0.0.1:2")));
  });

  it("says what is wrong, quoting the input, for the caller to name the flag", () => {
    const cases: Array<[string, string]> = [
      ["10.0.0.1", `"10.0.0.1" has no port (expected IP:port)`],
      ["10.0.0.1:", `"10.0.0.1:" has no port (expected IP:port)`],
      ["fd00::1:6443", `"fd00::1:6443" looks like IPv6 without brackets (write [addr]:port)`],
      ["[fd00::1]6443", `"[fd00::1]6443" is not IP:port (IPv6 is written [addr]:port)`],
      ["[fd00::1", `"[fd00::1" is not IP:port (IPv6 is written [addr]:port)`],
      ["master1:6443", `"master1" in "master1:6443" is not a valid IP address`],
      ["[fe80::1%eth0]:6443", `"fe80::1%eth0" in "[fe80::1%eth0]:6443" is not a valid IP address`],
      ["010.0.0.1:6443", `"010.0.0.1" in "010.0.0.1:6443" is not a valid IP address`],
      ["10.0.0.1:65536", `port "65536" in "10.0.0.1:65536" is not 1..65535`],
      ["10.0.0.1:0", `port "0" in "10.0.0.1:0" is not 1..65535`],
    ];
    for (const [text, error] of cases) assert.deepEqual(parseEndpoint(text), { error }, text);
  });

  it("takes decimal ports 1..65535 only", () => {
    assert.equal(parsePort("1"), 1);
    assert.equal(parsePort("65535"), 65535);
    for (const bad of ["0", "65536", "+1", "-1", "0x10", " 1", "1e3", "", "123456"]) assert.equal(parsePort(bad), undefined, bad);
  });
});
