/**
 * The test hosts themselves: each is its own machine as far as an installer can tell (hostname,
 * /etc, /var/lib, /usr/local/bin with the tools directory first on PATH, processes), while the
 * real machine's files stay untouched and read-only inside, and teardown leaves nothing behind.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createTestHosts, type TestHosts } from "./hosts/test-hosts.ts";
import { generateKeyPair, testPool } from "./helpers/ssh-pool.ts";

let dir: string;
let hosts: TestHosts;
let keyPath: string;

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, "latin1");
  } catch {
    return ""; // the process ended meanwhile
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "seal-test-hosts-"));
  const tools = join(dir, "tools");
  await mkdir(tools);
  await writeFile(join(tools, "kubeadm"), '#!/bin/sh\necho "fake kubeadm $*"\n');
  await chmod(join(tools, "kubeadm"), 0o755);
  const key = await generateKeyPair(dir, "client", "ed25519");
  keyPath = key.path;
  hosts = await createTestHosts({
    count: 2,
    hostnames: ["cp-1", "worker-1"],
    toolsDir: tools,
    users: [{ name: "alice", password: "alice-pw", sudo: "nopasswd" }],
    authorizedKeys: [key.publicKey],
  });
});

after(async () => {
  await hosts?.destroy();
  await rm(dir, { recursive: true, force: true });
});

describe("test hosts", () => {
  it("each has its own hostname, /etc/hosts and addresses", async () => {
    for (const host of hosts.hosts) {
      assert.equal((await host.execOk(["hostname"])).trim(), host.hostname);
      assert.match((await host.readFile("/etc/hosts")).toString(), new RegExp(`^${host.address.replaceAll(".", "\\.")}\\t${host.hostname}$`, "m"));
      assert.match(await host.execOk(["ip", "-4", "-o", "addr", "show", "eth0"]), new RegExp(` ${host.address.replaceAll(".", "\\.")}/24 `));
    }
  });

  it("writes to /etc, /var/lib and /usr/local/bin stay on the host; the machine's files are read-only inside", async () => {
    const machineHosts = await readFile("/etc/hosts");
    const host = hosts.at(0);
    await host.execOk(["sh", "-c", "echo '10.9.9.9 written-by-test' >> /etc/hosts && mkdir -p /etc/kubernetes /var/lib/seal-test && touch /etc/kubernetes/x /var/lib/seal-test/y /usr/local/bin/z"]);
    assert.deepEqual(await readFile("/etc/hosts"), machineHosts);
    assert.ok(!existsSync("/var/lib/seal-test") && !existsSync("/usr/local/bin/z"));
    assert.doesNotMatch((await hosts.at(1).readFile("/etc/hosts")).toString(), /written-by-test/, "and not on the other host");
    for (const path of ["/usr/bin/seal-test", "/opt/seal-test", "/srv/seal-test"]) {
      const result = await host.exec(["touch", path]);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /Read-only file system/);
    }
  });

  it("kernel-wide sysctls are read-only; the namespace's own net.* are writable", async () => {
    const host = hosts.at(0);
    assert.match((await host.exec(["sysctl", "-w", "kernel.domainname=seal-test"])).stderr, /Read-only file system|permission denied/i);
    await host.execOk(["sysctl", "-w", "net.ipv4.ip_forward=1"]);
    assert.equal((await host.execOk(["sysctl", "-n", "net.ipv4.ip_forward"])).trim(), "1");
  });

  it("the tools directory is first on PATH, over SSH as root and through sudo", async () => {
    for (const credentials of [{ password: "seal-test-root" }, { user: "alice", privateKeyPath: keyPath }]) {
      const session = await testPool(hosts, credentials);
      try {
        const remote = session.pool.host(hosts.at(1).address);
        assert.equal((await remote.run(["kubeadm", "version"])).stdout, "fake kubeadm version\n");
        assert.equal((await remote.run(["sh", "-c", "command -v kubeadm"])).stdout, "/usr/local/bin/kubeadm\n");
      } finally {
        await session.close();
      }
    }
  });

  it("a host sees only its own processes, and its sshd answers only at its address", async () => {
    const processes = await hosts.at(0).processes();
    assert.equal(processes.filter((line) => line.startsWith("sshd:")).length, 1);
    assert.ok(processes.every((line) => !line.includes("worker-1")));
    const config = (await hosts.at(0).readFile("/etc/ssh/sshd_config")).toString();
    assert.match(config, new RegExp(`^ListenAddress ${hosts.at(0).address.replaceAll(".", "\\.")}$`, "m"));
  });

  it("teardown kills every process and removes every namespace", async () => {
    const extra = await createTestHosts({ count: 1, subnet: "10.89.0" });
    const host = extra.at(0);
    const marker = String(1_000_000 + process.pid);
    await host.execOk(["sh", "-c", `setsid sleep ${marker} >/dev/null 2>&1 < /dev/null &`]);
    const running = () => readdirSync("/proc").filter((entry) => /^\d+$/.test(entry) && readFileSafe(`/proc/${entry}/cmdline`).includes(`sleep\0${marker}`));
    assert.equal(running().length, 1);
    const pid = host.initPid;
    await extra.destroy();
    assert.ok(!existsSync(`/proc/${pid}`));
    assert.deepEqual(running(), []);
    assert.ok(!existsSync(`/run/netns/${host.netns}`) && !existsSync(`/run/netns/${extra.clientNetns}`));
  });
});
