/**
 * The fakes' view of a test host (test/hosts/test-hosts.ts): the same real sshd hosts, seen
 * without SSH. `toolDir` is the host's /usr/local/bin as the test process can write it (the
 * fakes go there, first on the host's PATH), `run` enters the host directly with cwd /root (as
 * a login would), and `processes()` lists what runs in the host's PID namespace synchronously.
 * All namespace plumbing lives in test-hosts.ts; this file only adapts its interface.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createTestHosts, type TestHost, type TestHosts } from "../hosts/test-hosts.ts";
import type { RunResult } from "./tools.ts";

export interface HostSpec {
  readonly address: string;
  readonly hostname: string;
}

export interface PrivateHost extends HostSpec {
  /** The host's /usr/local/bin, writable from the test process (an overlay's upper layer). */
  readonly toolDir: string;
  /** The sshd test host underneath, for SSH-level access. */
  readonly testHost: TestHost;
  /** A path inside the host, as the test process can open it (through /proc/PID/root). */
  path(inside: string): string;
  run(argv: readonly string[], options?: { input?: string }): Promise<RunResult>;
  /** Command lines of the processes running in this host (its PID namespace), PID 1 excluded. */
  processes(): string[];
}

export interface PrivateHosts {
  readonly hosts: readonly PrivateHost[];
  readonly testHosts: TestHosts;
  host(address: string): PrivateHost;
  destroy(): Promise<void>;
}

function pidNamespace(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

function processesOf(initPid: number): string[] {
  const namespace = pidNamespace(initPid);
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => pid !== initPid && pidNamespace(pid) === namespace)
    .map((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      } catch {
        return "";
      }
    })
    .filter((cmdline) => cmdline !== "");
}

/**
 * Specs must be consecutive addresses from .10 of one /24 (test hosts' numbering; the client
 * namespace has .1). The prefix is kept for callers; test hosts name their namespaces themselves.
 */
export async function createPrivateHosts(_prefix: string, specs: readonly HostSpec[]): Promise<PrivateHosts> {
  const subnet = specs[0]?.address.split(".").slice(0, 3).join(".") ?? "";
  specs.forEach((spec, index) => {
    if (spec.address !== `${subnet}.${10 + index}`) throw new Error(`test host addresses must be ${subnet}.10, .11, ... in order; got ${spec.address} at ${index}`);
  });
  const testHosts = await createTestHosts({ count: specs.length, subnet, hostnames: specs.map((spec) => spec.hostname) });
  const hosts: PrivateHost[] = testHosts.hosts.map((testHost) => ({
    address: testHost.address,
    hostname: testHost.hostname,
    testHost,
    toolDir: testHost.path("/usr/local/bin"),
    path: (inside) => testHost.path(inside),
    run: (argv, options = {}) => testHost.exec(argv, { ...options, cwd: "/root" }),
    processes: () => processesOf(testHost.initPid),
  }));
  return {
    hosts,
    testHosts,
    host(address) {
      const found = hosts.find((host) => host.address === address);
      if (found === undefined) throw new Error(`no test host ${address}`);
      return found;
    },
    destroy: () => testHosts.destroy(),
  };
}
