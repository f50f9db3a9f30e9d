/**
 * Commands on a real sshd: argv arrives as given through the login shell, exit statuses and
 * output come back, one connection carries everything, a timeout kills the command (and its
 * children) on the host, 30 concurrent commands stay within sshd's MaxSessions, and secrets
 * never reach a log line or an error.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isSshError, RemoteCommandError } from "../src/ssh/errors.ts";
import { REDACTED } from "../src/ssh/redact.ts";
import { createTestHosts, type TestHosts } from "./hosts/test-hosts.ts";
import { nastyArgv } from "./helpers/nasty-strings.ts";
import { SeededRandom } from "./helpers/seeded-random.ts";
import { latencyProxy } from "./helpers/latency-proxy.ts";
import { generateKeyPair, testPool, type CapturedPool, type KeyPair } from "./helpers/ssh-pool.ts";

const BASE_SEED = Number(process.env["SEAL_PROPERTY_SEED"] ?? 20260502);
const PASSWORD = "s3cret-root-pw";

let dir: string;
let hosts: TestHosts;
let key: KeyPair;
let root: CapturedPool;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "seal-ssh-commands-"));
  key = await generateKeyPair(dir, "client", "ed25519");
  hosts = await createTestHosts({ count: 1, rootPassword: PASSWORD, users: [{ name: "alice", password: "alice-pw", sudo: "nopasswd" }], authorizedKeys: [key.publicKey] });
  root = await testPool(hosts, { password: PASSWORD });
});

after(async () => {
  await root?.close();
  await hosts?.destroy();
  await rm(dir, { recursive: true, force: true });
});

describe("commands", () => {
  for (const [who, credentials] of [["root (bash)", undefined], ["alice (sh, through sudo -n)", "alice"]] as const) {
    it(`argv arrives byte for byte through ${who}'s login shell`, async () => {
      const session = credentials === undefined ? root : await testPool(hosts, { user: credentials, privateKeyPath: key.path });
      try {
        const remote = session.pool.host(hosts.at(0).address);
        const random = new SeededRandom(BASE_SEED);
        for (let index = 0; index < 40; index++) {
          const argv = nastyArgv(random);
          const { stdout } = await remote.run(["printf", "%s\\0", ...argv]);
          assert.deepEqual(stdout.split("\0").slice(0, -1), argv, `seed ${BASE_SEED}, case ${index}: ${JSON.stringify(argv)}`);
        }
        assert.equal((await remote.run(["echo", "$(hostname)", "`id`", "$HOME"])).stdout, "$(hostname) `id` $HOME\n");
      } finally {
        if (session !== root) await session.close();
      }
    });
  }

  it("returns exit status, stdout and stderr; a status not allowed is an error naming the command", async () => {
    const remote = root.pool.host(hosts.at(0).address);
    const script = "echo out; echo err >&2; exit 3";
    assert.deepEqual(await remote.run(["sh", "-c", script], { allowExitCodes: [0, 3] }), { exitCode: 3, stdout: "out\n", stderr: "err\n" });
    await assert.rejects(remote.run(["sh", "-c", script]), (error: unknown) => {
      assert.ok(error instanceof RemoteCommandError);
      assert.equal(error.message, `${hosts.at(0).address}: \`sh -c 'echo out; echo err >&2; exit 3'\` exited with status 3: err`);
      assert.equal(error.exitCode, 3);
      return true;
    });
    assert.equal((await remote.run(["test", "-e", "/nonexistent"], { allowExitCodes: [1] })).exitCode, 1);
  });

  it("uses one connection for every command", async () => {
    const remote = root.pool.host(hosts.at(0).address);
    await Promise.all(Array.from({ length: 20 }, (_, index) => remote.run(["echo", String(index)])));
    const log = await hosts.at(0).sshdLog();
    assert.equal(log.match(/Accepted password for root/g)?.length, 1, log);
  });

  for (const [who, user] of [["root", undefined], ["sudo", "alice"]] as const) {
    it(`a command past its timeout is killed on the host with its children (${who})`, async () => {
      const session = user === undefined ? root : await testPool(hosts, { user, privateKeyPath: key.path });
      try {
        const marker = user === undefined ? "987654" : "987644";
        const started = session.pool.host(hosts.at(0).address).run(["sh", "-c", `sleep ${marker}1 & sleep ${marker}2`], { timeoutMs: 1500 });
        await assert.rejects(started, (error: unknown) => {
          assert.ok(isSshError(error, "command-timeout"), String(error));
          assert.match(error.message, /did not finish within 1\.5 s and was killed on the host/);
          return true;
        });
        let left = await hosts.at(0).processes();
        for (let attempt = 0; attempt < 100 && left.some((line) => line.includes(marker)); attempt++) left = await hosts.at(0).processes();
        assert.deepEqual(left.filter((line) => line.includes(marker)), []);
      } finally {
        if (session !== root) await session.close();
      }
    });
  }
});

describe("sessions per host", () => {
  const slotCommand = ["sh", "-c", 'd=/tmp/slots; mkdir -p $d; touch $d/$$; sleep 0.5; n=$(ls $d | wc -l); rm $d/$$; echo $n'];

  it("30 concurrent commands queue within MaxSessions (10) instead of failing", async () => {
    const remote = root.pool.host(hosts.at(0).address);
    const results = await Promise.all(Array.from({ length: 30 }, () => remote.run(slotCommand)));
    const concurrent = results.map((result) => Number(result.stdout));
    assert.equal(concurrent.length, 30);
    assert.ok(Math.max(...concurrent) <= 10, `at most 10 at once, saw ${Math.max(...concurrent)}`);
    assert.doesNotMatch(root.output(), /refused a session/);
  });

  it("on a slow link (150 ms each way) a refusal that raced a close does not lower the limit", async () => {
    // sshd refuses an open it reads together with the close that frees a slot; across a WAN the
    // refusal arrives long after the close, which no fixed time window can tell from a real limit.
    await using proxy = await latencyProxy(hosts, hosts.at(0), 150);
    const session = await testPool(hosts, { password: PASSWORD }, { createSocket: proxy.createSocket });
    try {
      const remote = session.pool.host(proxy.address);
      // Commands of different lengths, so that slots free one at a time while others stay open.
      const results = await Promise.all(Array.from({ length: 60 }, (_, index) => remote.run(slotCommand.map((arg) => arg.replace("sleep 0.5", `sleep 0.${1 + (index % 7)}`)))));
      assert.ok(Math.max(...results.map((result) => Number(result.stdout))) <= 10);
      assert.doesNotMatch(session.output(), /refused a session/);
    } finally {
      await session.close();
    }
  });

  it("a server allowing fewer sessions than assumed: the pool learns its limit and all 30 still run", async () => {
    const host = hosts.at(0);
    await host.execOk(["sh", "-c", "sed -i '2i MaxSessions 3' /etc/ssh/sshd_config"]);
    await host.stopSshd();
    await host.startSshd();
    const session = await testPool(hosts, { password: PASSWORD });
    try {
      const results = await Promise.all(Array.from({ length: 30 }, () => session.pool.host(host.address).run(slotCommand)));
      assert.ok(Math.max(...results.map((result) => Number(result.stdout))) <= 3);
      assert.match(session.output(), /warning: the server refused a session with 3 open; using at most 3 at once \(sshd MaxSessions\)/);
    } finally {
      await session.close();
      await host.execOk(["sed", "-i", "/^MaxSessions 3$/d", "/etc/ssh/sshd_config"]);
      await host.stopSshd();
      await host.startSshd();
    }
  });
});

describe("secrets", () => {
  it("passwords, keys and bootstrap tokens never reach the log or an error", async () => {
    const token = "abcdef.0123456789abcdef";
    const pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";
    const session = await testPool(hosts, { password: PASSWORD }, { secrets: ["extra-secret-value"] });
    try {
      const lines: string[] = [];
      const script = 'echo "pw=$1 token=$2"; printf "%s\\n" "$3"; echo "also $4" >&2; exit 7';
      await assert.rejects(
        session.pool.host(hosts.at(0).address).run(["sh", "-c", script, "sh", PASSWORD, token, pem, "extra-secret-value"], { onOutputLine: (line) => lines.push(line) }),
        (error: unknown) => {
          assert.ok(error instanceof RemoteCommandError);
          for (const text of [error.message, error.stdout, error.stderr, String(error.stack)]) {
            for (const secret of [PASSWORD, token, "b3BlbnNzaC1rZXktdjEAAAAA", "extra-secret-value"]) assert.ok(!text.includes(secret), `${secret} in ${text}`);
          }
          assert.ok(error.stdout.includes(REDACTED));
          return true;
        },
      );
      const logged = `${session.output()}\n${lines.join("\n")}`;
      for (const secret of [PASSWORD, token, "b3BlbnNzaC1rZXktdjEAAAAA", "extra-secret-value"]) assert.ok(!logged.includes(secret), `${secret} logged:\n${logged}`);
      assert.ok(lines.includes(`pw=${REDACTED} token=${REDACTED}`), lines.join("\n"));
      assert.match(session.output(), /\[10\.88\.0\.10\] \$ sh -c /);
    } finally {
      await session.close();
    }
  });
});
