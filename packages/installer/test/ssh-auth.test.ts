/**
 * Logging in to a real OpenSSH server (a test host): password, every key type (one encrypted),
 * ssh-agent, a wrong password; and becoming root as a non-root user through sudo -n and through
 * sudo with its password on stdin, which never shows in `ps` or in a log.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { InputError } from "../src/errors.ts";
import { loadCredentials } from "../src/ssh/credentials.ts";
import { isSshError } from "../src/ssh/errors.ts";
import { createTestHosts, type TestHost, type TestHosts } from "./hosts/test-hosts.ts";
import { generateKeyPair, testPool, type KeyPair } from "./helpers/ssh-pool.ts";
import { requireTool, runOk } from "./helpers/tools.ts";

const ROOT_PASSWORD = "root pw with 'quotes' & $(signs)";
const BOB_PASSWORD = "bob's sudo pw; $(reboot) `id`";
const PASSPHRASE = "correct horse battery staple";

let dir: string;
let hosts: TestHosts;
let host: TestHost;
const keys: Record<string, KeyPair> = {};
let agent: ChildProcess | undefined;

function key(name: string): KeyPair {
  const found = keys[name];
  if (found === undefined) throw new Error(`no key ${name}`);
  return found;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "seal-ssh-auth-"));
  for (const type of ["ed25519", "rsa", "ecdsa"]) keys[type] = await generateKeyPair(dir, type, type);
  keys["encrypted"] = await generateKeyPair(dir, "encrypted", "ed25519", PASSPHRASE);
  keys["agent"] = await generateKeyPair(dir, "agent", "ed25519");
  hosts = await createTestHosts({
    rootPassword: ROOT_PASSWORD,
    users: [
      { name: "alice", password: "alice-pw", sudo: "nopasswd" },
      { name: "bob", password: BOB_PASSWORD, sudo: "password" },
      { name: "carol", password: "carol-pw", sudo: "none" },
    ],
    authorizedKeys: Object.values(keys).map((pair) => pair.publicKey),
  });
  host = hosts.hosts[0] as TestHost;
});

after(async () => {
  agent?.kill();
  await hosts?.destroy();
  await rm(dir, { recursive: true, force: true });
});

async function whoami(credentials: Parameters<typeof testPool>[1], sudo = true): Promise<string> {
  const session = await testPool(hosts, credentials);
  try {
    return (await session.pool.host(host.address).run(["id", "-un"], { sudo })).stdout.trim();
  } finally {
    await session.close();
  }
}

describe("authentication", () => {
  it("logs in as root with a password", async () => {
    assert.equal(await whoami({ password: ROOT_PASSWORD }), "root");
  });

  for (const type of ["ed25519", "rsa", "ecdsa"]) {
    it(`logs in with an ${type} key`, async () => {
      assert.equal(await whoami({ privateKeyPath: key(type).path }), "root");
    });
  }

  it("logs in with an encrypted key and its passphrase", async () => {
    assert.equal(await whoami({ privateKeyPath: key("encrypted").path, passphrase: PASSPHRASE }), "root");
  });

  it("refuses a wrong or missing passphrase before any connection", async () => {
    await assert.rejects(loadCredentials({ privateKeyPath: key("encrypted").path, passphrase: "wrong" }), (error: unknown) => error instanceof InputError && /wrong passphrase/.test(error.message));
    await assert.rejects(loadCredentials({ privateKeyPath: key("encrypted").path }), (error: unknown) => error instanceof InputError && /encrypted and no passphrase/.test(error.message));
    await assert.rejects(loadCredentials({ privateKeyPath: join(dir, "missing") }), (error: unknown) => error instanceof InputError && /ENOENT/.test(error.message));
  });

  it("logs in through ssh-agent (SSH_AUTH_SOCK)", async () => {
    const socket = join(dir, "agent.sock");
    agent = spawn(requireTool("ssh-agent"), ["-D", "-a", socket], { stdio: "ignore" });
    for (let attempt = 0; attempt < 200 && !(await import("node:fs")).existsSync(socket); attempt++) await sleep(10);
    await runOk(requireTool("ssh-add"), [key("agent").path], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
    const credentials = await loadCredentials({}, { SSH_AUTH_SOCK: socket });
    assert.deepEqual(credentials.methods, ["agent"]);
    assert.equal(await whoami({ agentSocket: socket }), "root");
  });

  it("says authentication failed, for which user, with what, and never shows the password", async () => {
    const session = await testPool(hosts, { password: "wrong password" });
    try {
      await assert.rejects(session.pool.host(host.address).connect(), (error: unknown) => {
        assert.ok(isSshError(error, "auth"), String(error));
        assert.equal(error.message, `${host.address}: authentication failed for user root (tried password; the server accepts publickey, password)`);
        return true;
      });
      assert.doesNotMatch(session.output(), /wrong password/);
    } finally {
      await session.close();
    }
  });
});

describe("non-root users become root through sudo", () => {
  it("sudo -n for a NOPASSWD user; sudo: false runs as the user", async () => {
    assert.equal(await whoami({ user: "alice", privateKeyPath: key("ed25519").path }), "root");
    assert.equal(await whoami({ user: "alice", privateKeyPath: key("ed25519").path }, false), "alice");
  });

  it("sudo -S with the password on stdin: never in ps, never logged, never in the command's stdin", async () => {
    const session = await testPool(hosts, { user: "bob", password: BOB_PASSWORD });
    try {
      const remote = session.pool.host(host.address);
      assert.equal((await remote.run(["id", "-un"])).stdout, "root\n");
      assert.equal((await remote.run(["cat"], { stdin: "data for the command\n" })).stdout, "data for the command\n");
      const binary = Buffer.from([0, 1, 2, 255, 10, 13, 0]);
      assert.equal((await remote.run(["od", "-An", "-tx1"], { stdin: binary })).stdout.trim(), "00 01 02 ff 0a 0d 00");

      const running = remote.run(["sleep", "2.5"]);
      const seen: string[] = [];
      while (!seen.some((line) => line.includes("sleep 2.5"))) seen.push(...(await host.processes()));
      await running;
      assert.ok(seen.some((line) => line.startsWith("sudo -S")), "sudo ran with -S");
      for (const line of seen) assert.ok(!line.includes(BOB_PASSWORD) && !line.includes("sudo pw"), `password on a command line: ${line}`);
      assert.ok(!session.output().includes(BOB_PASSWORD), "password in the log");
      assert.match(session.output(), /\[10\.88\.0\.10\] \$ sleep 2\.5/);
    } finally {
      await session.close();
    }
  });

  it("a wrong sudo password is a clear sudo error", async () => {
    const session = await testPool(hosts, { user: "bob", privateKeyPath: key("ed25519").path, sudoPassword: "not it" });
    try {
      await assert.rejects(session.pool.host(host.address).run(["id"]), (error: unknown) => isSshError(error, "sudo") && error.message === `${host.address}: sudo refused the password for user bob`);
    } finally {
      await session.close();
    }
  });

  it("a user who needs a sudo password but gave none, and a user who is not a sudoer, are told so", async () => {
    const noPassword = await testPool(hosts, { user: "bob", privateKeyPath: key("ed25519").path });
    try {
      await assert.rejects(noPassword.pool.host(host.address).run(["id"]), (error: unknown) => isSshError(error, "sudo") && /bob needs a password for sudo .* and none was given/.test(error.message));
    } finally {
      await noPassword.close();
    }
    const notSudoer = await testPool(hosts, { user: "carol", password: "carol-pw" });
    try {
      await assert.rejects(notSudoer.pool.host(host.address).run(["id"]), (error: unknown) => isSshError(error, "sudo") && /carol/.test(error.message) && /sudoers/.test(error.message));
    } finally {
      await notSudoer.close();
    }
  });
});
