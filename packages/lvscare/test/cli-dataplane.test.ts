// `--dataplane ipvs|nftables|auto` (env LVSCARE_DATAPLANE), `lvscare list`, and the static pod's
// pass-through, in process with the fake dataplane standing in for the kernel's (which one the CLI
// asked for is recorded). The nftables dataplane itself on a real kernel: test/nftables/.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { type CliDeps, type CliIo, main } from "../src/cli.ts";
import type { KernelDataplaneChoices } from "../src/dataplane/index.ts";
import { FakeDataplane } from "../src/dataplane/fake.ts";
import type { IpvsSupport } from "../src/cli/dataplane-choice.ts";
import { seed } from "./helpers/ops.ts";

class Buffered {
  text = "";
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

const VS = ["--vs", "10.103.97.2:6443"];

/** The CLI with one fake per dataplane kind; `asked` lists the kinds it opened, in order. */
function harness(env: Record<string, string> = {}, ipvs: IpvsSupport = { available: true, why: "test: IPVS present" }) {
  const stdout = new Buffered();
  const stderr = new Buffered();
  const logs = new Buffered();
  const fakes = { ipvs: new FakeDataplane(), nftables: new FakeDataplane({ capabilities: { atomicApply: true } }) };
  const asked: string[] = [];
  const choicesSeen: KernelDataplaneChoices[] = [];
  const io: CliIo = { stdout, stderr, env };
  const deps: CliDeps = {
    createDataplane: async (choices?: KernelDataplaneChoices) => {
      const kind = choices?.kind ?? "ipvs";
      asked.push(kind);
      if (choices !== undefined) choicesSeen.push(choices);
      return fakes[kind];
    },
    detectIpvs: async () => ipvs,
    waitForStop: () => new Promise(() => undefined),
    logDestination: logs,
  };
  return { io, deps, stdout, stderr, logs, fakes, asked, choicesSeen };
}

describe("lvscare care --dataplane", () => {
  it("a bad value is exit 2 naming the allowed values, and no dataplane is opened", async () => {
    const flag = harness();
    assert.equal(await main(["care", ...VS, "-C", "--dataplane", "iptables"], flag.io, flag.deps), 2);
    assert.equal(flag.stderr.text, 'lvscare: --dataplane: "iptables" is not one of ipvs, nftables, auto\n');
    assert.deepEqual(flag.asked, []);
    const env = harness({ LVSCARE_DATAPLANE: "nft" });
    assert.equal(await main(["care", ...VS, "-C"], env.io, env.deps), 2);
    assert.equal(env.stderr.text, 'lvscare: LVSCARE_DATAPLANE: "nft" is not one of ipvs, nftables, auto\n');
    assert.deepEqual(env.asked, []);
  });

  it("default ipvs; the flag, else LVSCARE_DATAPLANE, picks; the choice and why are logged at info", async () => {
    const cases: Array<[string[], Record<string, string>, string, RegExp]> = [
      [[], {}, "ipvs", /--dataplane ipvs/],
      [["--dataplane", "nftables"], {}, "nftables", /--dataplane nftables/],
      [[], { LVSCARE_DATAPLANE: "nftables" }, "nftables", /--dataplane nftables/],
      [["--dataplane", "ipvs"], { LVSCARE_DATAPLANE: "nftables" }, "ipvs", /--dataplane ipvs/],
    ];
    for (const [args, env, kind, why] of cases) {
      const h = harness(env);
      assert.equal(await main(["care", ...VS, "-C", ...args], h.io, h.deps), 0, h.stderr.text);
      assert.deepEqual(h.asked, [kind], JSON.stringify({ args, env }));
      const line = h.logs.text.split("\n").find((l) => l.includes(`dataplane: ${kind}`));
      assert.ok(line !== undefined, h.logs.text);
      assert.match(line, why);
      assert.match(line, /INFO|"level":30|info/i);
    }
  });

  it("auto: IPVS when the kernel has it, nftables when not, with the reason", async () => {
    const withIpvs = harness({}, { available: true, why: "/proc/net/ip_vs exists" });
    assert.equal(await main(["care", ...VS, "-C", "--dataplane", "auto"], withIpvs.io, withIpvs.deps), 0, withIpvs.stderr.text);
    assert.deepEqual(withIpvs.asked, ["ipvs"]);
    assert.match(withIpvs.logs.text, /dataplane: ipvs.*the kernel has IPVS \(\/proc\/net\/ip_vs exists\)/);
    const without = harness({ LVSCARE_DATAPLANE: "auto" }, { available: false, why: "modprobe ip_vs failed: Module ip_vs not found" });
    assert.equal(await main(["care", ...VS, "-C"], without.io, without.deps), 0, without.stderr.text);
    assert.deepEqual(without.asked, ["nftables"]);
    assert.match(without.logs.text, /dataplane: nftables.*no IPVS in this kernel \(modprobe ip_vs failed: Module ip_vs not found\)/);
  });

  it("a scheduler the chosen dataplane lacks is exit 2 before anything changes", async () => {
    const h = harness();
    h.fakes.nftables = new FakeDataplane({ capabilities: { schedulers: ["rr"] } });
    assert.equal(await main(["care", ...VS, "--rs", "10.0.0.1:6443", "--ip", "192.168.0.10", "--run-once", "--scheduler", "wlc", "--dataplane", "nftables"], h.io, h.deps), 2);
    assert.match(h.stderr.text, /--scheduler: the \w+ dataplane has no scheduler wlc \(it has rr\)/);
    assert.deepEqual(h.fakes.nftables.operations, []);
  });

  it("nftables: nft's command timeout is two intervals (2 s floor, 5 s cap), and a lost nft is logged as a warning", async () => {
    for (const [interval, timeoutMs] of [[[], 2_000], [["--interval", "2"], 4_000], [["--interval", "30"], 5_000]] as const) {
      const h = harness();
      assert.equal(await main(["care", ...VS, "-C", "--dataplane", "nftables", ...interval], h.io, h.deps), 0, h.stderr.text);
      const choices = h.choicesSeen[0];
      assert.equal(choices?.commandTimeoutMs, timeoutMs, JSON.stringify(interval));
      choices?.onProcessLost?.("nftables: `list table ip lvscare`: nft -i (pid 1) did not finish the command within 1000 ms; killed it; retrying it on a new nft -i");
      assert.match(h.logs.text, /WARN.*nftables: `list table ip lvscare`: nft -i \(pid 1\) did not finish/);
    }
  });

  it("--help says when to pick which", async () => {
    const h = harness();
    assert.equal(await main(["care", "--help"], h.io, h.deps), 0);
    assert.match(h.stdout.text, /--dataplane <name>/);
    assert.match(h.stdout.text, /kube-proxy runs in nftables mode/);
    assert.match(h.stdout.text, /auto +IPVS when the kernel has it/);
  });
});

describe("lvscare list", () => {
  const vip = { address: { ip: "10.103.97.2", port: 6443, family: 4 as const }, scheduler: "rr", persistenceTimeout: 0 };
  const master = { ip: "192.168.0.2", port: 6443, family: 4 as const };

  it("--dataplane nftables: ipvsadm's columns under an nftables header", async () => {
    const h = harness();
    await seed(h.fakes.nftables, vip, [[master, 1]]);
    assert.equal(await main(["list", "--dataplane", "nftables"], h.io, h.deps), 0, h.stderr.text);
    assert.deepEqual(h.asked, ["nftables"]);
    assert.equal(
      h.stdout.text,
      [
        "nftables dataplane (tables ip lvscare, ip6 lvscare)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
        "TCP  10.103.97.2:6443 rr",
        "  -> 192.168.0.2:6443             Masq    1      0          0         ",
        "",
      ].join("\n"),
    );
  });

  it("without --dataplane: the nftables table when it holds a VIP, else IPVS; --json names the dataplane", async () => {
    const nft = harness();
    await seed(nft.fakes.nftables, vip, [[master, 1]]);
    assert.equal(await main(["list", "--json"], nft.io, nft.deps), 0, nft.stderr.text);
    const listed = JSON.parse(nft.stdout.text) as { dataplane: string; services: Array<{ address: string }> };
    assert.equal(listed.dataplane, "nftables");
    assert.equal(listed.services[0]?.address, "10.103.97.2:6443");
    const ipvs = harness();
    await seed(ipvs.fakes.ipvs, vip, [[master, 1]]);
    assert.equal(await main(["list"], ipvs.io, ipvs.deps), 0, ipvs.stderr.text);
    assert.deepEqual(ipvs.asked, ["nftables", "ipvs"]);
    assert.match(ipvs.stdout.text, /^IP Virtual Server version 1\.2\.1/);
    const neither = harness({}, { available: false, why: "no ip_vs" });
    assert.equal(await main(["list"], neither.io, neither.deps), 0, neither.stderr.text);
    assert.deepEqual(neither.asked, ["nftables"]);
    assert.match(neither.stdout.text, /^nftables dataplane/);
  });

  it("`lvscare ipvs list` keeps listing IPVS", async () => {
    const h = harness({ LVSCARE_DATAPLANE: "nftables" });
    assert.equal(await main(["ipvs", "list"], h.io, h.deps), 0, h.stderr.text);
    assert.deepEqual(h.asked, ["ipvs"]);
  });

  it("a bad --dataplane is exit 2", async () => {
    const h = harness();
    assert.equal(await main(["list", "--dataplane", "nft"], h.io, h.deps), 2);
    assert.match(h.stderr.text, /is not one of ipvs, nftables, auto/);
    assert.deepEqual(h.asked, []);
  });
});

describe("lvscare static-pod --dataplane", () => {
  const base = ["static-pod", "--masters", "192.168.0.2:6443", "--image", "lvscare:v1", "--print"];
  const argsOf = (yaml: string): string[] => (parse(yaml) as { spec: { containers: Array<{ args: string[] }> } }).spec.containers[0]!.args;

  it("passes --dataplane through to `lvscare care`, and leaves it out when not given", async () => {
    const h = harness({ LVSCARE_HOSTS_FILE: "/nonexistent/hosts" });
    assert.equal(await main([...base, "--dataplane", "nftables"], h.io, h.deps), 0, h.stderr.text);
    assert.deepEqual(argsOf(h.stdout.text).slice(-2), ["--dataplane", "nftables"]);
    const plain = harness({ LVSCARE_HOSTS_FILE: "/nonexistent/hosts" });
    assert.equal(await main(base, plain.io, plain.deps), 0, plain.stderr.text);
    assert.ok(!argsOf(plain.stdout.text).includes("--dataplane"));
  });

  it("a bad value, or --dataplane both directly and in --options, is exit 2", async () => {
    const bad = harness({ LVSCARE_HOSTS_FILE: "/nonexistent/hosts" });
    assert.equal(await main([...base, "--dataplane", "nft"], bad.io, bad.deps), 2);
    assert.match(bad.stderr.text, /--dataplane: "nft" is not one of ipvs, nftables, auto/);
    const inOptions = harness({ LVSCARE_HOSTS_FILE: "/nonexistent/hosts" });
    assert.equal(await main([...base, "--options=--dataplane", "--options=nftabels"], inOptions.io, inOptions.deps), 2);
    assert.match(inOptions.stderr.text, /"nftabels" is not one of/);
    const twice = harness({ LVSCARE_HOSTS_FILE: "/nonexistent/hosts" });
    assert.equal(await main([...base, "--dataplane", "ipvs", "--options=--dataplane", "--options=nftables"], twice.io, twice.deps), 2);
    assert.match(twice.stderr.text, /given both directly and inside --options/);
  });
});
