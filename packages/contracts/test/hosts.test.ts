import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findHostsAddress, hostsLineFields } from "../src/hosts.ts";
import { NODE_IP_HOST_NAME } from "../src/names.ts";

describe("hosts-file lines", () => {
  it("splits address and names on any C white space and drops comments", () => {
    assert.deepEqual(hostsLineFields("10.0.0.1\tmaster-1  m1\v\fx # a comment"), { address: "10.0.0.1", names: ["master-1", "m1", "x"] });
    assert.deepEqual(hostsLineFields("  ::1 localhost#no space before the comment"), { address: "::1", names: ["localhost"] });
    assert.equal(hostsLineFields("   # only a comment"), undefined);
    assert.equal(hostsLineFields(" \t "), undefined);
  });

  it("finds the first address of the wanted family, canonical, whatever the case of the name", () => {
    const hosts = [
      "127.0.0.1 localhost",
      "# 10.9.9.9 lvscare.node.ip (commented out)",
      "not-an-ip lvscare.node.ip",
      "FD00:0::10\tother LVSCARE.Node.IP\r",
      "192.168.0.10 lvscare.node.ip",
      "192.168.0.11 lvscare.node.ip",
    ].join("\r\n");
    assert.equal(findHostsAddress(hosts, NODE_IP_HOST_NAME, 4), "192.168.0.10");
    assert.equal(findHostsAddress(hosts, NODE_IP_HOST_NAME, 6), "fd00::10");
    assert.equal(findHostsAddress(hosts, "apiserver.cluster.local", 4), undefined);
    assert.equal(findHostsAddress("10.0.0.1 lvscare.node.ip", NODE_IP_HOST_NAME, 4), "10.0.0.1", "a last line without newline counts");
  });
});
