/**
 * The quoting function against real shells: argv full of shell syntax goes through
 * `/bin/sh -c` (dash) and `bash -c` and must arrive byte for byte. Replays with SEAL_PROPERTY_SEED.
 * Also: every remote value (host, port, user, path, mode, owner) is validated before use.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InputError } from "../src/errors.ts";
import { ArgvError, checkArgv, quoteShellArg, shellCommand } from "../src/ssh/shell-quote.ts";
import { checkMode, checkOwner, checkRemotePath, checkSshUser, parseSshTarget } from "../src/ssh/targets.ts";
import { parseHostAddresses } from "../src/ssh/host-pool.ts";
import { nastyArgv } from "./helpers/nasty-strings.ts";
import { SeededRandom } from "./helpers/seeded-random.ts";
import { requireTool, run } from "./helpers/tools.ts";

const BASE_SEED = Number(process.env["SEAL_PROPERTY_SEED"] ?? 20260501);
const CASES = 150;

// Cannot be generated (no piece has a "c"), so it separates the cases of one shell run.
const CASE_MARK = "<case>";

/** Runs `printf '%s\0' MARK ARGS` for every argv in one `shell -c` and returns what each received. */
async function throughShell(shell: string, cases: readonly (readonly string[])[]): Promise<string[][]> {
  const script = cases.map((argv) => shellCommand(["printf", "%s\\0", CASE_MARK, ...argv])).join("\n");
  const result = await run(shell, ["-c", script]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.split(`${CASE_MARK}\0`).slice(1).map((received) => received.split("\0").slice(0, -1));
}

describe("shell quoting", () => {
  for (const shellName of ["sh", "bash"]) {
    it(`argv survives ${shellName} -c unchanged (${CASES} generated cases)`, async () => {
      const shell = requireTool(shellName);
      const random = new SeededRandom(BASE_SEED);
      const cases = Array.from({ length: CASES }, () => nastyArgv(random));
      const received = await throughShell(shell, cases);
      assert.equal(received.length, CASES);
      for (const [index, argv] of cases.entries()) {
        assert.deepEqual(received[index], argv, `seed ${BASE_SEED}, case ${index}: ${JSON.stringify(argv)}`);
      }
    });
  }

  it("leaves plain words bare and quotes everything else", () => {
    assert.equal(quoteShellArg("/etc/kubernetes/admin.conf"), "/etc/kubernetes/admin.conf");
    assert.equal(quoteShellArg("--config=/x"), "'--config=/x'");
    assert.equal(quoteShellArg(""), "''");
    assert.equal(quoteShellArg("it's"), "'it'\\''s'");
    assert.equal(shellCommand(["echo", "$(reboot)"]), "echo '$(reboot)'");
  });

  it("a first word that looks like an assignment is still run as a command", async () => {
    const result = await run(requireTool("sh"), ["-c", shellCommand(["A=b"])]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /A=b: not found/);
  });

  it("refuses what quoting cannot carry", () => {
    assert.throws(() => checkArgv([]), ArgvError);
    assert.throws(() => checkArgv([""]), ArgvError);
    assert.throws(() => checkArgv(["echo", "a\0b"]), /NUL byte/);
    assert.throws(() => checkArgv(["echo", 5 as unknown as string]), /not a string/);
  });
});

describe("remote values are validated before any connection", () => {
  it("accepts IPs, host:port, [v6]:port and DNS names, canonically", () => {
    assert.deepEqual(parseSshTarget("192.168.0.2"), { host: "192.168.0.2", port: 22, label: "192.168.0.2", knownHostsName: "192.168.0.2" });
    assert.deepEqual(parseSshTarget("192.168.0.2:2222"), { host: "192.168.0.2", port: 2222, label: "192.168.0.2:2222", knownHostsName: "[192.168.0.2]:2222" });
    assert.deepEqual(parseSshTarget("FD00:0::2"), { host: "fd00::2", port: 22, label: "fd00::2", knownHostsName: "fd00::2" });
    assert.deepEqual(parseSshTarget("[fd00::2]:2222"), { host: "fd00::2", port: 2222, label: "[fd00::2]:2222", knownHostsName: "[fd00::2]:2222" });
    assert.equal(parseSshTarget("Node-1.Example.com").host, "node-1.example.com");
    assert.equal(parseSshTarget("10.0.0.1", 2200).knownHostsName, "[10.0.0.1]:2200");
  });

  for (const bad of ["$(reboot)", "`reboot`", "a;reboot", "a b", "-oProxyCommand=sh", "host_name", "10.0.0.256", "010.0.0.1", "[10.0.0.1]:22", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:22x", "", "a..b", "[fd00::1", "fd00::1%eth0"]) {
    it(`refuses the host ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseSshTarget(bad), (error: unknown) => error instanceof InputError && /invalid SSH host/.test(error.message));
    });
  }

  it("refuses a host list with a bad or repeated entry as a whole", () => {
    assert.throws(() => parseHostAddresses(["10.0.0.1", "$(reboot)"]), /invalid SSH host "\$\(reboot\)"/);
    assert.throws(() => parseHostAddresses(["10.0.0.1", "10.0.0.1:22"]), /listed twice/);
  });

  it("checks users, paths, modes and owners", () => {
    assert.equal(checkSshUser("deploy.user-1"), "deploy.user-1");
    for (const user of ["", "-root", "a b", "root;id", "$(id)", "x".repeat(33)]) assert.throws(() => checkSshUser(user), InputError);
    assert.equal(checkRemotePath("/etc/kubernetes/pki/ca.crt"), "/etc/kubernetes/pki/ca.crt");
    for (const path of ["etc/hosts", "/etc/../shadow", "/etc/x\n", "/etc/kubernetes/", ""]) assert.throws(() => checkRemotePath(path), InputError);
    assert.equal(checkMode(0o640), 0o640);
    assert.throws(() => checkMode(0o10000), InputError);
    assert.throws(() => checkMode(1.5), InputError);
    assert.equal(checkOwner("root:root"), "root:root");
    for (const owner of ["root;id", "a:b:c", "$(id)", ""]) assert.throws(() => checkOwner(owner), InputError);
  });
});
