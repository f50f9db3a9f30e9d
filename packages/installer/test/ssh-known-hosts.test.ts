/**
 * known_hosts as OpenSSH reads and writes it, checked against ssh-keygen itself: fingerprints,
 * hashed names, `[host]:port`, patterns, markers; and the store's policy (record, pin, refuse,
 * changed) on real files, never dropping a line someone else wrote.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { InputError } from "../src/errors.ts";
import { isSshError } from "../src/ssh/errors.ts";
import { clusterKnownHostsPath, KnownHostsStore, parseHostKeyPin, type HostKeyEvent } from "../src/ssh/host-key-store.ts";
import { checkHostKey, fingerprintOf, formatKnownHostsLine, hostsFieldMatches, parseKnownHosts } from "../src/ssh/known-hosts.ts";
import { parseSshTarget } from "../src/ssh/targets.ts";
import { requireTool, runOk } from "./helpers/tools.ts";

interface Key {
  readonly blob: Buffer;
  readonly line: string;
  readonly fingerprint: string;
}

let dir: string;
const keys: Record<string, Key> = {};

async function generateKey(name: string, type: string): Promise<Key> {
  const path = join(dir, name);
  await runOk(requireTool("ssh-keygen"), ["-q", "-t", type, "-N", "", "-f", path]);
  const line = (await readFile(`${path}.pub`, "utf8")).trim();
  const [, base64 = ""] = line.split(" ");
  // ssh-keygen -l prints "256 SHA256:... comment (ED25519)".
  const fingerprint = (await runOk(requireTool("ssh-keygen"), ["-l", "-E", "sha256", "-f", `${path}.pub`])).split(" ")[1] ?? "";
  return { blob: Buffer.from(base64, "base64"), line, fingerprint };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "seal-known-hosts-"));
  Object.assign(keys, {
    ed25519: await generateKey("ed25519", "ed25519"),
    ecdsa: await generateKey("ecdsa", "ecdsa"),
    rsa: await generateKey("rsa", "rsa"),
    other: await generateKey("other", "ed25519"),
  });
});
after(() => rm(dir, { recursive: true, force: true }));

function key(name: string): Key {
  const found = keys[name];
  if (found === undefined) throw new Error(`no key ${name}`);
  return found;
}

describe("known_hosts format", () => {
  it("prints fingerprints exactly as ssh-keygen -l does", () => {
    for (const name of ["ed25519", "ecdsa", "rsa"]) assert.equal(fingerprintOf(key(name).blob), key(name).fingerprint);
  });

  it("writes lines ssh-keygen -F finds, for port 22 and for [host]:port", async () => {
    const file = join(dir, "format");
    await writeFile(file, `${formatKnownHostsLine("10.0.0.5", key("ed25519").blob)}\n${formatKnownHostsLine("[10.0.0.6]:2222", key("rsa").blob)}\n`);
    assert.match(await runOk(requireTool("ssh-keygen"), ["-F", "10.0.0.5", "-f", file]), /ssh-ed25519/);
    assert.match(await runOk(requireTool("ssh-keygen"), ["-F", "[10.0.0.6]:2222", "-f", file]), /ssh-rsa/);
    const entries = parseKnownHosts(await readFile(file, "utf8"));
    assert.equal(checkHostKey(entries, "10.0.0.5", key("ed25519").blob).status, "known");
    assert.equal(checkHostKey(entries, "[10.0.0.6]:2222", key("rsa").blob).status, "known");
    assert.equal(checkHostKey(entries, "10.0.0.6", key("rsa").blob).status, "unknown");
  });

  it("reads entries hashed by ssh-keygen -H", async () => {
    const file = join(dir, "hashed");
    await writeFile(file, `${formatKnownHostsLine("10.0.0.7", key("ecdsa").blob)}\n${formatKnownHostsLine("[10.0.0.8]:2222", key("ed25519").blob)}\n`);
    await runOk(requireTool("ssh-keygen"), ["-H", "-f", file]);
    const text = await readFile(file, "utf8");
    assert.doesNotMatch(text, /10\.0\.0\./);
    const entries = parseKnownHosts(text);
    assert.equal(entries.length, 2);
    assert.ok(entries.every((entry) => entry.hosts.startsWith("|1|")));
    assert.equal(checkHostKey(entries, "10.0.0.7", key("ecdsa").blob).status, "known");
    assert.equal(checkHostKey(entries, "[10.0.0.8]:2222", key("ed25519").blob).status, "known");
    assert.equal(checkHostKey(entries, "10.0.0.9", key("ecdsa").blob).status, "unknown");
  });

  it("matches patterns like ssh: lists, wildcards, negation, case", () => {
    assert.ok(hostsFieldMatches("node-1,10.0.0.1", "10.0.0.1"));
    assert.ok(hostsFieldMatches("10.0.0.*", "10.0.0.77"));
    assert.ok(hostsFieldMatches("node-?.lan", "NODE-3.lan"));
    assert.ok(!hostsFieldMatches("10.0.0.*,!10.0.0.13", "10.0.0.13"));
    assert.ok(!hostsFieldMatches("10.0.0.1", "10.0.0.10"));
    assert.ok(!hostsFieldMatches("10.0.0.1", "[10.0.0.1]:2222"));
  });

  it("skips comments, blank and corrupt lines; honours @revoked; ignores @cert-authority", () => {
    const text = [
      "# a comment",
      "",
      "garbage",
      `10.0.0.1 ssh-rsa ${key("ed25519").blob.toString("base64")}`, // type does not match the blob
      `@cert-authority *.lan ${key("other").line}`,
      `@revoked 10.0.0.2 ${key("other").line}`,
      `10.0.0.2 ${key("ed25519").line}`,
    ].join("\n");
    const entries = parseKnownHosts(text);
    assert.equal(entries.length, 3);
    assert.deepEqual(checkHostKey(entries, "10.0.0.2", key("other").blob), { status: "revoked", line: 6 });
    assert.equal(checkHostKey(entries, "10.0.0.2", key("ed25519").blob).status, "known");
    assert.equal(checkHostKey(entries, "10.0.0.1", key("ed25519").blob).status, "unknown");
    assert.equal(checkHostKey(entries, "x.lan", key("other").blob).status, "unknown");
  });

  it("calls a host known only with another key type changed, not new", () => {
    const entries = parseKnownHosts(`10.0.0.3 ${key("rsa").line}\n`);
    const check = checkHostKey(entries, "10.0.0.3", key("ed25519").blob);
    assert.equal(check.status, "changed");
    assert.deepEqual(check.status === "changed" ? check.known : [], [{ line: 1, keyType: "ssh-rsa", fingerprint: key("rsa").fingerprint }]);
  });
});

describe("the known hosts store", () => {
  const target = (text: string) => parseSshTarget(text);

  it("records first contacts as lines OpenSSH reads, keeping every line it found, even concurrently", async () => {
    const file = join(dir, "record", "known_hosts");
    const events: HostKeyEvent[] = [];
    const store = new KnownHostsStore({ knownHostsPath: file }, (event) => events.push(event));
    await store.verify(target("10.0.0.20"), key("ed25519").blob); // creates the directory and the file
    const existing = `# kept\n${(await readFile(file, "utf8")).trimEnd()}\n\n10.9.9.9 ${key("other").line} a comment`; // no final newline
    await writeFile(file, existing);
    const fresh = new KnownHostsStore({ knownHostsPath: file }, (event) => events.push(event));
    const addresses = Array.from({ length: 10 }, (_, index) => `10.0.1.${index + 1}`);
    await Promise.all(addresses.map((address) => fresh.verify(target(address), key("ecdsa").blob)));
    const text = await readFile(file, "utf8");
    assert.ok(text.startsWith(`${existing}\n`), "the lines that were there are kept byte for byte");
    for (const address of addresses) assert.match(await runOk(requireTool("ssh-keygen"), ["-F", address, "-f", file]), /ecdsa-sha2-nistp256/);
    assert.equal(text.split("\n").filter((line) => line.startsWith("10.0.1.")).length, 10);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal(events.length, 11);
    assert.deepEqual(events[0], { kind: "recorded", target: target("10.0.0.20"), keyType: "ssh-ed25519", fingerprint: key("ed25519").fingerprint, pinned: false, path: file });
    // Known now: nothing more is written.
    await fresh.verify(target("10.0.1.1"), key("ecdsa").blob);
    assert.equal(await readFile(file, "utf8"), text);
  });

  it("refuses a changed key, naming both keys and the ssh-keygen -R fix, and writes nothing", async () => {
    const file = join(dir, "changed");
    await writeFile(file, `10.0.0.30 ${key("ed25519").line}\n`);
    const store = new KnownHostsStore({ knownHostsPath: file });
    await assert.rejects(store.verify(target("10.0.0.30"), key("other").blob), (error: unknown) => {
      assert.ok(isSshError(error, "host-key-changed"));
      assert.match(error.message, /^10\.0\.0\.30: HOST KEY CHANGED/);
      assert.ok(error.message.includes(key("other").fingerprint) && error.message.includes(key("ed25519").fingerprint));
      assert.ok(error.message.includes(`ssh-keygen -R 10.0.0.30 -f ${file}`));
      return true;
    });
    assert.equal(await readFile(file, "utf8"), `10.0.0.30 ${key("ed25519").line}\n`);
  });

  it("accepts a changed key only with the insecure option, reports it and still writes nothing", async () => {
    const file = join(dir, "insecure");
    await writeFile(file, `10.0.0.31 ${key("ed25519").line}\n`);
    const events: HostKeyEvent[] = [];
    const store = new KnownHostsStore({ knownHostsPath: file, insecureAcceptChangedKeys: true }, (event) => events.push(event));
    await store.verify(target("10.0.0.31"), key("other").blob);
    assert.deepEqual(events, [{ kind: "accepted-changed", target: target("10.0.0.31"), keyType: "ssh-ed25519", fingerprint: key("other").fingerprint }]);
    assert.equal(await readFile(file, "utf8"), `10.0.0.31 ${key("ed25519").line}\n`);
  });

  it("on first contact with pins: the matching key is recorded, any other refused", async () => {
    const file = join(dir, "pinned");
    const pins = [parseHostKeyPin(`10.0.0.40=${key("ed25519").fingerprint}`)];
    const store = new KnownHostsStore({ knownHostsPath: file, pins });
    await assert.rejects(store.verify(target("10.0.0.40"), key("other").blob), (error: unknown) => isSshError(error, "host-key-unknown") && /matches none of the fingerprints/.test(error.message));
    await assert.rejects(readFile(file), { code: "ENOENT" });
    await store.verify(target("10.0.0.40"), key("ed25519").blob);
    assert.match(await readFile(file, "utf8"), /^10\.0\.0\.40 ssh-ed25519 /);
    // A pin for one host leaves others to the default policy (record).
    await store.verify(target("10.0.0.41"), key("other").blob);
    // A pin for any host applies to every first contact.
    const strict = new KnownHostsStore({ knownHostsPath: join(dir, "pinned-any"), pins: [parseHostKeyPin(key("rsa").fingerprint)] });
    await assert.rejects(strict.verify(target("10.0.0.42"), key("other").blob), (error: unknown) => isSshError(error, "host-key-unknown"));
    await strict.verify(target("10.0.0.42"), key("rsa").blob);
  });

  it("refuses unknown hosts when told to, with the pin to use", async () => {
    const store = new KnownHostsStore({ knownHostsPath: join(dir, "refuse"), unknownHosts: "refuse" });
    await assert.rejects(store.verify(target("10.0.0.50"), key("ed25519").blob), (error: unknown) => {
      assert.ok(isSshError(error, "host-key-unknown"));
      assert.ok(error.message.includes(`--accept-host-key 10.0.0.50=${key("ed25519").fingerprint}`));
      return true;
    });
  });

  it("parses --accept-host-key values and the cluster's path", () => {
    assert.deepEqual(parseHostKeyPin(key("rsa").fingerprint), { host: undefined, fingerprint: key("rsa").fingerprint });
    assert.deepEqual(parseHostKeyPin(`[fd00::2]:2222=${key("rsa").fingerprint}`), { host: "[fd00::2]:2222", fingerprint: key("rsa").fingerprint });
    for (const bad of ["SHA256:short", "MD5:aa:bb", `$(id)=${key("rsa").fingerprint}`]) assert.throws(() => parseHostKeyPin(bad), InputError);
    assert.equal(clusterKnownHostsPath("prod", "/home/u"), "/home/u/.seal/prod/known_hosts");
    assert.throws(() => clusterKnownHostsPath("../x"), InputError);
  });
});
