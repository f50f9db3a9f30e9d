import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InputError } from "../src/errors.ts";
import {
  BLOCK_BEGIN,
  BLOCK_END,
  describeConflict,
  readManagedEntries,
  removeHostsEntries,
  setHostsEntries,
} from "../src/hosts/hosts-file.ts";

const DEBIAN = "127.0.0.1\tlocalhost\n127.0.1.1\tnode-1.example node-1\n\n# The following lines are desirable for IPv6 capable hosts\n::1     localhost ip6-localhost ip6-loopback\nff02::1 ip6-allnodes\n";
const API = { name: "apiserver.cluster.local", ip: "10.103.97.2" };

describe("the /etc/hosts managed block", () => {
  it("appends a block after the user's lines and leaves them byte for byte", () => {
    const result = setHostsEntries(DEBIAN, [API, { name: "lvscare.node.ip", ip: "10.0.0.11" }]);
    assert.equal(result.changed, true);
    assert.equal(
      result.text,
      `${DEBIAN}${BLOCK_BEGIN}\n10.103.97.2 apiserver.cluster.local\n10.0.0.11 lvscare.node.ip\n${BLOCK_END}\n`,
    );
    assert.deepEqual(result.conflicts, []);
  });

  it("changes nothing the second time", () => {
    const once = setHostsEntries(DEBIAN, [API]);
    const twice = setHostsEntries(once.text, [API]);
    assert.equal(twice.changed, false);
    assert.equal(twice.text, once.text);
  });

  it("updates an entry in place, keeping the order of the others", () => {
    const first = setHostsEntries(DEBIAN, [API, { name: "lvscare.node.ip", ip: "10.0.0.11" }]).text;
    const moved = setHostsEntries(first, [{ name: "APIServer.cluster.local", ip: "10.0.0.1" }]);
    // Names match case-insensitively; the entry takes the spelling given last.
    assert.deepEqual(readManagedEntries(moved.text), [
      { name: "APIServer.cluster.local", ip: "10.0.0.1" },
      { name: "lvscare.node.ip", ip: "10.0.0.11" },
    ]);
  });

  it("keeps CRLF files CRLF", () => {
    const crlf = DEBIAN.replaceAll("\n", "\r\n");
    const result = setHostsEntries(crlf, [API]);
    assert.equal(result.text, `${crlf}${BLOCK_BEGIN}\r\n10.103.97.2 apiserver.cluster.local\r\n${BLOCK_END}\r\n`);
    assert.equal(removeHostsEntries(result.text, [API.name]).text, crlf);
  });

  it("keeps a last line without newline, and gives the file back exactly when the block goes", () => {
    const unterminated = "127.0.0.1 localhost\n10.1.1.1\tdb db.internal";
    const added = setHostsEntries(unterminated, [API]);
    assert.equal(added.text, `127.0.0.1 localhost\n10.1.1.1\tdb db.internal\n${BLOCK_BEGIN}\n10.103.97.2 apiserver.cluster.local\n${BLOCK_END}`);
    const removed = removeHostsEntries(added.text, [API.name]);
    assert.equal(removed.text, unterminated);
    assert.equal(removed.changed, true);
  });

  it("writes into an empty or missing file", () => {
    assert.equal(setHostsEntries("", [API]).text, `${BLOCK_BEGIN}\n10.103.97.2 apiserver.cluster.local\n${BLOCK_END}\n`);
    assert.equal(removeHostsEntries(setHostsEntries("", [API]).text, [API.name]).text, "");
  });

  it("edits the block where it is, even when users added lines after it", () => {
    const text = `# top\n${BLOCK_BEGIN}\n10.0.0.1 apiserver.cluster.local\n${BLOCK_END}\n10.5.5.5 later.example\n`;
    const result = setHostsEntries(text, [{ name: "apiserver.cluster.local", ip: "10.0.0.2" }]);
    assert.equal(result.text, `# top\n${BLOCK_BEGIN}\n10.0.0.2 apiserver.cluster.local\n${BLOCK_END}\n10.5.5.5 later.example\n`);
    assert.equal(removeHostsEntries(result.text, ["apiserver.cluster.local"]).text, "# top\n10.5.5.5 later.example\n");
  });

  it("reads a hand-edited block with several names per line and rewrites it one name per line", () => {
    const text = `${BLOCK_BEGIN}\n10.0.0.1\ta b # note\n${BLOCK_END}\n`;
    assert.deepEqual(readManagedEntries(text), [{ name: "a", ip: "10.0.0.1" }, { name: "b", ip: "10.0.0.1" }]);
    assert.equal(setHostsEntries(text, [{ name: "c", ip: "10.0.0.3" }]).text, `${BLOCK_BEGIN}\n10.0.0.1 a\n10.0.0.1 b\n10.0.0.3 c\n${BLOCK_END}\n`);
  });

  it("reports a managed name that a user line also maps, with which one wins", () => {
    const text = "127.0.0.1 localhost\n10.9.9.9\tfoo apiserver.cluster.local   # old VIP\n10.103.97.2 apiserver.cluster.local\n# 10.1.1.1 apiserver.cluster.local\n";
    const result = setHostsEntries(text, [API]);
    assert.deepEqual(result.conflicts, [
      { name: "apiserver.cluster.local", line: 2, ip: "10.9.9.9", sameAddress: false, userLineWins: true },
      { name: "apiserver.cluster.local", line: 3, ip: "10.103.97.2", sameAddress: true, userLineWins: true },
    ]);
    assert.match(describeConflict(result.conflicts[0]!, "/etc/hosts"), /^\/etc\/hosts:2 maps apiserver\.cluster\.local to 10\.9\.9\.9; that line comes before the seal block and wins/);
    assert.match(describeConflict(result.conflicts[1]!, "/etc/hosts"), /same address, harmless duplicate/);
    assert.ok(result.text.startsWith(text), "the user's lines are reported, not changed");
    const after = `${result.text}10.7.7.7 APISERVER.cluster.local\n`;
    assert.deepEqual(setHostsEntries(after, [API]).conflicts.at(-1), {
      name: "apiserver.cluster.local",
      line: 8,
      ip: "10.7.7.7",
      sameAddress: false,
      userLineWins: false,
    });
  });

  it("removes only the names asked, and the block when it is empty", () => {
    const full = setHostsEntries(DEBIAN, [API, { name: "lvscare.node.ip", ip: "10.0.0.11" }]).text;
    const partial = removeHostsEntries(full, ["LVSCARE.node.ip", "never-set"]);
    assert.deepEqual(readManagedEntries(partial.text), [API]);
    assert.equal(removeHostsEntries(partial.text, [API.name]).text, DEBIAN);
    assert.equal(removeHostsEntries(DEBIAN, [API.name]).changed, false);
  });

  it("canonicalizes addresses so spelling differences are no changes", () => {
    const text = setHostsEntries("", [{ name: "v6.example", ip: "FD00:0:0::1" }]).text;
    assert.deepEqual(readManagedEntries(text), [{ name: "v6.example", ip: "fd00::1" }]);
    assert.equal(setHostsEntries(text, [{ name: "v6.example", ip: "fd00::0001" }]).changed, false);
  });

  it("refuses damaged blocks and bad input without producing text", () => {
    const refused = (run: () => unknown, message: RegExp) =>
      assert.throws(run, (error: unknown) => error instanceof InputError && message.test(error.message));
    refused(() => setHostsEntries(`${BLOCK_BEGIN}\n10.0.0.1 a\n`, [API]), /the seal block is damaged \(1 BEGIN and 0 END markers, lines 1\)/);
    refused(() => setHostsEntries(`${BLOCK_END}\n${BLOCK_BEGIN}\n`, [API]), /damaged \(1 BEGIN and 1 END markers, lines 2, 1\)/);
    refused(() => removeHostsEntries(`${BLOCK_BEGIN}\n${BLOCK_END}\n${BLOCK_BEGIN}\n${BLOCK_END}\n`, ["a"]), /2 BEGIN and 2 END/);
    refused(() => setHostsEntries("", [{ name: "bad name", ip: "10.0.0.1" }]), /"bad name" is not a host name/);
    refused(() => setHostsEntries("", [{ name: "-x", ip: "10.0.0.1" }]), /"-x" is not a host name/);
    refused(() => setHostsEntries("", [{ name: "a#b", ip: "10.0.0.1" }]), /not a host name/);
    refused(() => setHostsEntries("", [{ name: "ok", ip: "10.0.0.256" }]), /"10\.0\.0\.256" \(for ok\) is not an IP address/);
    refused(() => setHostsEntries("", [{ name: "ok", ip: "10.0.0.1" }, { name: "OK", ip: "10.0.0.2" }]), /ok is given two addresses|OK is given two addresses/);
    refused(() => removeHostsEntries("", ["white space"]), /not a host name/);
  });
});
