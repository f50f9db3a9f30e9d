/**
 * Host keys against real sshd: first contact recorded (and OpenSSH's ssh accepts the file we
 * wrote), hashed files read, a known key type preferred in the handshake, pins, a changed key
 * refused (accepted only with the insecure option), and connection failures named clearly:
 * unreachable at once, refused after retries, a sshd that comes up while we retry.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { InputError } from "../src/errors.ts";
import { isSshError } from "../src/ssh/errors.ts";
import { parseHostKeyPin } from "../src/ssh/host-key-store.ts";
import { createTestHosts, type TestHosts } from "./hosts/test-hosts.ts";
import { generateKeyPair, testPool, type KeyPair } from "./helpers/ssh-pool.ts";
import { requireTool, run, runOk } from "./helpers/tools.ts";

let dir: string;
let hosts: TestHosts;
let clientKey: KeyPair;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "seal-ssh-hostkeys-"));
  clientKey = await generateKeyPair(dir, "client", "ed25519");
  hosts = await createTestHosts({ count: 4, authorizedKeys: [clientKey.publicKey], hostKeyTypes: ["ed25519", "rsa", "ecdsa"] });
});

after(async () => {
  await hosts?.destroy();
  await rm(dir, { recursive: true, force: true });
});

/** OpenSSH's own client, from the client namespace, with only `knownHosts` and strict checking. */
function openSsh(knownHosts: string, address: string) {
  const argv = hosts.clientCommand([
    requireTool("ssh"), "-F", "/dev/null", "-i", clientKey.path, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
    "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "GlobalKnownHostsFile=/dev/null", `root@${address}`, "true",
  ]);
  return run(argv[0] ?? "", argv.slice(1));
}

describe("host keys", () => {
  it("records a first contact, says so with the fingerprint, and OpenSSH's ssh accepts the file", async () => {
    const host = hosts.at(0);
    const session = await testPool(hosts, { privateKeyPath: clientKey.path });
    try {
      const results = await session.pool.connect([host.address]);
      assert.deepEqual(results.map((result) => result.ok), [true]);
      const ed25519 = host.hostKeys.find((key) => key.type === "ssh-ed25519");
      assert.ok(ed25519 !== undefined);
      assert.equal(await readFile(session.knownHostsPath, "utf8"), `${host.address} ${ed25519.publicKey}\n`);
      assert.ok(session.output().includes(`[${host.address}] host key ssh-ed25519 ${ed25519.fingerprint} (first contact; recorded in ${session.knownHostsPath})`), session.output());
      const ssh = await openSsh(session.knownHostsPath, host.address);
      assert.equal(ssh.code, 0, ssh.stderr);
      // ...and refuses a host that is not in it: the file is the only source of trust.
      const other = await openSsh(session.knownHostsPath, hosts.at(1).address);
      assert.notEqual(other.code, 0);
      assert.match(other.stderr, /Host key verification failed/);
    } finally {
      await session.close();
    }
  });

  it("reads a hashed file and asks the server for the key type it knows", async () => {
    const host = hosts.at(1);
    const session = await testPool(hosts, { privateKeyPath: clientKey.path });
    try {
      const rsa = host.hostKeys.find((key) => key.type === "ssh-rsa");
      assert.ok(rsa !== undefined);
      await writeFile(session.knownHostsPath, `# mine\n${host.address} ${rsa.publicKey}\n`);
      await runOk(requireTool("ssh-keygen"), ["-H", "-f", session.knownHostsPath]);
      const before = await readFile(session.knownHostsPath, "utf8");
      assert.equal((await session.pool.host(host.address).run(["true"])).exitCode, 0);
      assert.equal(await readFile(session.knownHostsPath, "utf8"), before, "nothing recorded: the RSA key was negotiated and known");
      assert.doesNotMatch(session.output(), /recorded/);
    } finally {
      await session.close();
    }
  });

  it("with --accept-host-key: records the pinned key, refuses any other without writing", async () => {
    const host = hosts.at(2);
    const right = host.hostKeys.find((key) => key.type === "ssh-ed25519")?.fingerprint ?? "";
    const wrong = hosts.at(3).hostKeys[0]?.fingerprint ?? "";
    const refused = await testPool(hosts, { privateKeyPath: clientKey.path }, { hostKeys: { knownHostsPath: join(dir, "pinned"), pins: [parseHostKeyPin(`${host.address}=${wrong}`)] } });
    try {
      await assert.rejects(refused.pool.host(host.address).connect(), (error: unknown) => isSshError(error, "host-key-unknown") && error.message.includes(right) && error.message.includes(wrong));
      await assert.rejects(readFile(join(dir, "pinned")), { code: "ENOENT" });
    } finally {
      await refused.close();
    }
    const accepted = await testPool(hosts, { privateKeyPath: clientKey.path }, { hostKeys: { knownHostsPath: join(dir, "pinned"), pins: [parseHostKeyPin(`${host.address}=${right}`)] } });
    try {
      await accepted.pool.host(host.address).connect();
      assert.match(accepted.output(), /matches --accept-host-key; recorded/);
      assert.match(await readFile(join(dir, "pinned"), "utf8"), new RegExp(`^${host.address.replaceAll(".", "\\.")} ssh-ed25519 `));
    } finally {
      await accepted.close();
    }
  });

  it("refuses a changed key with the fix in the message; the insecure option connects but records nothing", async () => {
    const host = hosts.at(3);
    const knownHostsPath = join(dir, "changed");
    const first = await testPool(hosts, { privateKeyPath: clientKey.path }, { hostKeys: { knownHostsPath } });
    await first.pool.host(host.address).connect();
    await first.close();
    const recorded = await readFile(knownHostsPath, "utf8");

    await host.replaceHostKeys();
    const strict = await testPool(hosts, { privateKeyPath: clientKey.path }, { hostKeys: { knownHostsPath } });
    try {
      await assert.rejects(strict.pool.host(host.address).run(["true"]), (error: unknown) => {
        assert.ok(isSshError(error, "host-key-changed"), String(error));
        assert.match(error.message, /HOST KEY CHANGED/);
        assert.ok(error.message.includes(`ssh-keygen -R ${host.address} -f ${knownHostsPath}`));
        return true;
      });
    } finally {
      await strict.close();
    }
    const insecure = await testPool(hosts, { privateKeyPath: clientKey.path }, { hostKeys: { knownHostsPath, insecureAcceptChangedKeys: true } });
    try {
      assert.equal((await insecure.pool.host(host.address).run(["hostname"])).stdout, `${host.hostname}\n`);
      assert.match(insecure.output(), /warning: HOST KEY CHANGED, accepted because of the insecure option/);
    } finally {
      await insecure.close();
    }
    assert.equal(await readFile(knownHostsPath, "utf8"), recorded);
  });
});

describe("connection failures", () => {
  it("an address nobody has fails at once as unreachable, without retries", async () => {
    const session = await testPool(hosts, { privateKeyPath: clientKey.path });
    try {
      const address = hosts.unusedAddress();
      const [result] = await session.pool.connect([address]);
      assert.ok(result !== undefined && !result.ok);
      assert.ok(isSshError(result.error, "unreachable"), String(result.error));
      assert.equal(result.error.message, `${address}: cannot connect to port 22: no route to host (unreachable)`);
      assert.doesNotMatch(session.output(), /retrying/);
    } finally {
      await session.close();
    }
  });

  it("a refused connection is retried with backoff, then named; a sshd that starts meanwhile is reached", async () => {
    const host = hosts.at(0);
    await host.stopSshd();
    const session = await testPool(hosts, { privateKeyPath: clientKey.path }, { retry: { attempts: 3, initialDelayMs: 50, maxDelayMs: 100 } });
    try {
      await assert.rejects(session.pool.host(host.address).connect(), (error: unknown) => isSshError(error, "unreachable") && /connection refused/.test(error.message));
      assert.equal(session.output().match(/retrying in \d+ ms/g)?.length, 2);
    } finally {
      await session.close();
    }
    const patient = await testPool(hosts, { privateKeyPath: clientKey.path }, { retry: { attempts: 20, initialDelayMs: 100, maxDelayMs: 400 } });
    try {
      const connecting = patient.pool.host(host.address).connect();
      while (!/retrying/.test(patient.output())) await new Promise((resolve) => setTimeout(resolve, 20));
      await host.startSshd();
      await connecting;
      assert.match(patient.output(), /connection refused .*; retrying in \d+ ms \(attempt 2\)/);
    } finally {
      await patient.close();
    }
  });

  it("a bad address in the list stops everything before any connection", async () => {
    let sockets = 0;
    const session = await testPool(hosts, { privateKeyPath: clientKey.path }, {
      createSocket: (target) => {
        sockets++;
        return hosts.createSocket(target);
      },
    });
    try {
      await assert.rejects(session.pool.connect([hosts.at(0).address, "$(reboot)"]), (error: unknown) => error instanceof InputError && error.message === 'invalid SSH host "$(reboot)": not an IP address or a DNS name');
      assert.throws(() => session.pool.host("10.0.0.1;reboot"), InputError);
      assert.equal(sockets, 0);
    } finally {
      await session.close();
    }
  });

  it("connects to many hosts at once and reports each one", async () => {
    const session = await testPool(hosts, { privateKeyPath: clientKey.path });
    try {
      const addresses = [...hosts.addresses.slice(0, 3), hosts.unusedAddress()];
      const results = await session.pool.connect(addresses);
      assert.deepEqual(results.map((result) => [result.address, result.ok]), addresses.map((address, index) => [address, index < 3]));
    } finally {
      await session.close();
    }
  });
});
