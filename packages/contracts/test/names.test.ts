import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parseEndpoint, parseIp, specialUseReason } from "../src/ip.ts";
import {
  API_SERVER_PORT,
  DEFAULT_LVSCARE_IMAGE,
  DEFAULT_VIP,
  DEFAULT_VIRTUAL_SERVER,
  LVSCARE_STATIC_POD_NAME,
  LVSCARE_VERSION,
} from "../src/names.ts";

describe("names and defaults", () => {
  it("tags the default image with the daemon's version, which is the lvscare package's", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../lvscare/package.json", import.meta.url), "utf8")) as { version: string };
    assert.equal(LVSCARE_VERSION, pkg.version);
    assert.equal(DEFAULT_LVSCARE_IMAGE.slice(DEFAULT_LVSCARE_IMAGE.lastIndexOf(":") + 1), LVSCARE_VERSION);
  });

  it("makes a default virtual server a host can use", () => {
    assert.deepEqual(parseEndpoint(DEFAULT_VIRTUAL_SERVER), { ip: DEFAULT_VIP, port: API_SERVER_PORT, family: 4 });
    const vip = parseIp(DEFAULT_VIP);
    assert.ok(vip);
    assert.equal(specialUseReason(vip), undefined);
  });

  it("names the static pod as the kubelet accepts it", () => {
    assert.match(LVSCARE_STATIC_POD_NAME, /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "a DNS label, as pod names must be");
  });
});
