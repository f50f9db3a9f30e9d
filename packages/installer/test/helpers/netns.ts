/** A throw-away network namespace with addresses on its loopback, for tests that need real IPs. */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { requireTool, runOk } from "./tools.ts";

export interface Namespace {
  readonly name: string;
  /** argv prefix that runs a command inside the namespace. */
  exec(command: string, args: readonly string[]): [string, string[]];
  remove(): Promise<void>;
}

export async function createNamespace(prefix: string, addresses: readonly string[]): Promise<Namespace> {
  if (process.getuid?.() !== 0) throw new Error("this test needs root to create a network namespace (ip netns add)");
  const ip = requireTool("ip");
  const name = `${prefix}-${process.pid}`;
  await runOk(ip, ["netns", "add", name]);
  const remove = async () => {
    await runOk(ip, ["netns", "del", name]).catch(() => undefined);
    // ip netns exec bind-mounts /etc/netns/NAME/* over /etc; tests may have put files there.
    await rm(join("/etc/netns", name), { recursive: true, force: true });
  };
  try {
    await runOk(ip, ["-n", name, "link", "set", "lo", "up"]);
    for (const address of addresses) await runOk(ip, ["-n", name, "addr", "add", `${address}/32`, "dev", "lo"]);
  } catch (error) {
    await remove();
    throw error;
  }
  return { name, exec: (command, args) => [ip, ["netns", "exec", name, command, ...args]], remove };
}

export interface SwitchedNetwork {
  /** argv prefix that runs a command on the host with `address`. */
  exec(address: string, command: string, args: readonly string[]): [string, string[]];
  remove(): Promise<void>;
}

/**
 * One namespace per address, all cabled to a bridge in a further namespace: separate hosts on
 * one LAN, so each connects from its own address (on a shared loopback the kernel would pick
 * the destination's address as source, and peers checking source IPs against certificates,
 * as etcd does, would see the wrong host).
 */
export async function createSwitchedNetwork(prefix: string, addresses: readonly string[]): Promise<SwitchedNetwork> {
  if (process.getuid?.() !== 0) throw new Error("this test needs root to create network namespaces (ip netns add)");
  const ip = requireTool("ip");
  const bridge = `${prefix}-${process.pid}-sw`;
  const hosts = addresses.map((address, index) => ({ address, name: `${prefix}-${process.pid}-${index + 1}` }));
  const created: string[] = [];
  const remove = async () => {
    for (const name of created.reverse()) await runOk(ip, ["netns", "del", name]).catch(() => undefined);
  };
  try {
    for (const name of [bridge, ...hosts.map((host) => host.name)]) {
      await runOk(ip, ["netns", "add", name]);
      created.push(name);
    }
    await runOk(ip, ["-n", bridge, "link", "add", "br0", "type", "bridge"]);
    await runOk(ip, ["-n", bridge, "link", "set", "br0", "up"]);
    for (const [index, host] of hosts.entries()) {
      const port = `port${index + 1}`;
      await runOk(ip, ["-n", bridge, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", host.name]);
      await runOk(ip, ["-n", bridge, "link", "set", port, "master", "br0", "up"]);
      await runOk(ip, ["-n", host.name, "addr", "add", `${host.address}/24`, "dev", "eth0"]);
      await runOk(ip, ["-n", host.name, "link", "set", "eth0", "up"]);
      await runOk(ip, ["-n", host.name, "link", "set", "lo", "up"]);
    }
  } catch (error) {
    await remove();
    throw error;
  }
  return {
    exec(address, command, args) {
      const host = hosts.find((candidate) => candidate.address === address);
      if (host === undefined) throw new Error(`no host ${address} in this network`);
      return [ip, ["netns", "exec", host.name, command, ...args]];
    },
    remove,
  };
}
