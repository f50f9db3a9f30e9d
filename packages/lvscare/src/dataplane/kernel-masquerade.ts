/**
 * Link mode's masquerade: traffic this host sends to the VIP is marked before IPVS rewrites its
 * destination and masqueraded on the way out, so a real server on this same host (or one that
 * routes replies elsewhere) answers to a routable source instead of to the VIP.
 *
 * nftables first: one table of ours, replaced atomically by a single `nft -f` transaction, so a
 * crash can never leave half a ruleset. iptables (upstream's approach) only when nft is missing.
 * Both are programmed by exec: this runs at start-up and on repair, never on the probe path.
 */
import { execFile } from "node:child_process";
import { access } from "node:fs/promises";
import { constants as fsConstants } from "node:fs";
import type { IpFamily } from "../address.ts";
import { DataplaneError } from "./error.ts";

export interface MasqueradeSpec {
  readonly vip: string;
  readonly port: number;
  readonly family: IpFamily;
  readonly masqueradeBit: number;
}

/** The one nftables table we own, per address family. */
export const NFT_TABLE = "lvscare";
/** iptables chains we own (upstream's VIRTUAL-* names belong to upstream lvscare). */
const IPT_SERVICES = "LVSCARE-SERVICES";
const IPT_POSTROUTING = "LVSCARE-POSTROUTING";

const SEARCH_PATH = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export type CommandRunner = (file: string, args: readonly string[], input?: string) => Promise<CommandResult>;

export const runCommand: CommandRunner = (file, args, input) =>
  new Promise((resolve) => {
    const child = execFile(file, args, { timeout: 10_000, maxBuffer: 4 << 20 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 127;
      resolve({ code, stdout: String(stdout), stderr: String(stderr || (error && code === 127 ? error.message : "")) });
    });
    if (input !== undefined) child.stdin?.end(input);
  });

export async function findTool(name: string): Promise<string | undefined> {
  for (const dir of SEARCH_PATH) {
    const path = `${dir}/${name}`;
    try {
      await access(path, fsConstants.X_OK);
      return path;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

function markHex(bit: number): string {
  return `0x${(2 ** bit).toString(16).padStart(8, "0")}`;
}

/** The whole table as one nft script: create-if-missing, delete, re-create = atomic replace. */
export function nftScript(spec: MasqueradeSpec): string {
  const nftFamily = spec.family === 6 ? "ip6" : "ip";
  const daddr = spec.family === 6 ? "ip6 daddr" : "ip daddr";
  const mark = markHex(spec.masqueradeBit);
  const match = `${daddr} ${spec.vip} tcp dport ${spec.port}`;
  return [
    `table ${nftFamily} ${NFT_TABLE} {}`,
    `delete table ${nftFamily} ${NFT_TABLE}`,
    `table ${nftFamily} ${NFT_TABLE} {`,
    `  comment "lvscare link mode: masquerade traffic to the apiserver VIP"`,
    // Priority -100 (NAT_DST) runs before IPVS's LOCAL_OUT hook (-99), so the destination is still the VIP;
    // numbers, not names: nft 1.0.6 accepts "dstnat" only on prerouting.
    `  chain output { type nat hook output priority -100; policy accept; ${match} meta mark set meta mark or ${mark}; }`,
    `  chain prerouting { type nat hook prerouting priority -100; policy accept; ${match} meta mark set meta mark or ${mark}; }`,
    `  chain postrouting { type nat hook postrouting priority 100; policy accept; meta mark and ${mark} == ${mark} masquerade fully-random; }`,
    `}`,
    "",
  ].join("\n");
}

function iptablesRules(spec: MasqueradeSpec): Array<{ table: string; chain: string; args: string[] }> {
  const mark = markHex(spec.masqueradeBit);
  const comment = ["-m", "comment", "--comment", "lvscare"];
  return [
    { table: "nat", chain: "OUTPUT", args: [...comment, "-j", IPT_SERVICES] },
    { table: "nat", chain: "PREROUTING", args: [...comment, "-j", IPT_SERVICES] },
    { table: "nat", chain: "POSTROUTING", args: [...comment, "-j", IPT_POSTROUTING] },
    {
      table: "nat",
      chain: IPT_SERVICES,
      args: ["-d", spec.vip, "-p", "tcp", "--dport", String(spec.port), "-j", "MARK", "--or-mark", mark],
    },
    { table: "nat", chain: IPT_POSTROUTING, args: ["-m", "mark", "--mark", `${mark}/${mark}`, "-j", "MASQUERADE"] },
    // Upstream's filter OUTPUT ACCEPT for marked packets, for CNIs that drop by default (cilium).
    { table: "filter", chain: "OUTPUT", args: [...comment, "-m", "mark", "--mark", `${mark}/${mark}`, "-j", "ACCEPT"] },
  ];
}

/** Which tool programs the masquerade: `auto` = nftables when it works here, else iptables. */
export type MasqueradeBackend = "auto" | "nft" | "iptables";
export const MASQUERADE_BACKENDS: readonly MasqueradeBackend[] = ["auto", "nft", "iptables"];

/** Programs and removes the masquerade; picks nft when present (or as told), else iptables. */
export class Masquerade {
  private backend: { kind: "nft" | "iptables"; path: string } | undefined;
  private readonly run: CommandRunner;
  private readonly wanted: MasqueradeBackend;

  constructor(run: CommandRunner = runCommand, wanted: MasqueradeBackend = "auto") {
    this.run = run;
    this.wanted = wanted;
  }

  /** "nft" or "iptables": which tool programs the rules on this host. */
  async backendKind(family: IpFamily): Promise<"nft" | "iptables"> {
    return (await this.resolveBackend(family)).kind;
  }

  private async resolveBackend(family: IpFamily): Promise<{ kind: "nft" | "iptables"; path: string }> {
    if (this.backend) return this.backend;
    if (this.wanted !== "iptables") {
      const nft = await findTool("nft");
      if (nft) {
        // The binary alone is not enough: the kernel needs nf_tables.
        const probe = await this.run(nft, ["list", "tables"]);
        if (probe.code === 0) return (this.backend = { kind: "nft", path: nft });
        if (this.wanted === "nft") throw new DataplaneError("masquerade", "ENOPROTOOPT", `nft cannot list tables: ${probe.stderr.trim()}`);
      } else if (this.wanted === "nft") {
        throw new DataplaneError("masquerade", "ENOENT", "LVSCARE_MASQUERADE=nft but nft is not installed (Debian package nftables)");
      }
    }
    const tool = family === 6 ? "ip6tables" : "iptables";
    const iptables = await findTool(tool);
    if (iptables) return (this.backend = { kind: "iptables", path: iptables });
    throw new DataplaneError(
      "masquerade",
      "ENOENT",
      this.wanted === "iptables"
        ? `LVSCARE_MASQUERADE=iptables but ${tool} is not installed (Debian package iptables)`
        : "link mode needs nftables (nft) or iptables to masquerade VIP traffic; install the nftables package",
    );
  }

  /** True when our rules are all in place. */
  async present(spec: MasqueradeSpec): Promise<boolean> {
    const backend = await this.resolveBackend(spec.family);
    if (backend.kind === "nft") {
      const listed = await this.run(backend.path, ["list", "table", spec.family === 6 ? "ip6" : "ip", NFT_TABLE]);
      return listed.code === 0 && listed.stdout.includes(spec.vip) && listed.stdout.includes("masquerade");
    }
    for (const rule of iptablesRules(spec)) {
      const check = await this.run(backend.path, ["-w", "5", "-t", rule.table, "-C", rule.chain, ...rule.args]);
      if (check.code !== 0) return false;
    }
    return true;
  }

  async ensure(spec: MasqueradeSpec): Promise<void> {
    const backend = await this.resolveBackend(spec.family);
    if (backend.kind === "nft") {
      const applied = await this.run(backend.path, ["-f", "-"], nftScript(spec));
      if (applied.code !== 0) {
        throw new DataplaneError("masquerade", "EINVAL", `nft -f failed: ${applied.stderr.trim() || `exit ${applied.code}`}`);
      }
      return;
    }
    for (const chain of [IPT_SERVICES, IPT_POSTROUTING]) {
      // -N fails when the chain exists, which is what we want to tolerate.
      await this.run(backend.path, ["-w", "5", "-t", "nat", "-N", chain]);
    }
    for (const rule of iptablesRules(spec)) {
      const check = await this.run(backend.path, ["-w", "5", "-t", rule.table, "-C", rule.chain, ...rule.args]);
      if (check.code === 0) continue;
      const insert = rule.table === "filter" ? "-I" : "-A";
      const added = await this.run(backend.path, ["-w", "5", "-t", rule.table, insert, rule.chain, ...rule.args]);
      if (added.code !== 0) {
        throw new DataplaneError("masquerade", "EINVAL", `iptables ${rule.chain} failed: ${added.stderr.trim()}`);
      }
    }
  }

  /**
   * Removes our nftables table and our iptables chains, whichever exist: -C must clean up what an
   * earlier run made even if that run used the other tool. Absent pieces are fine; nothing else is touched.
   */
  async remove(spec: MasqueradeSpec): Promise<void> {
    const nft = await findTool("nft");
    if (nft) {
      const family = spec.family === 6 ? "ip6" : "ip";
      const listed = await this.run(nft, ["list", "table", family, NFT_TABLE]);
      if (listed.code === 0) {
        const removed = await this.run(nft, ["delete", "table", family, NFT_TABLE]);
        if (removed.code !== 0) throw new DataplaneError("masquerade", "EBUSY", `nft delete table ${family} ${NFT_TABLE}: ${removed.stderr.trim()}`);
      }
    }
    const iptables = await findTool(spec.family === 6 ? "ip6tables" : "iptables");
    if (!iptables) return;
    for (const rule of iptablesRules(spec)) {
      if (rule.chain === IPT_SERVICES || rule.chain === IPT_POSTROUTING) continue;
      while ((await this.run(iptables, ["-w", "5", "-t", rule.table, "-D", rule.chain, ...rule.args])).code === 0) {
        // a rule added twice by hand is removed twice
      }
    }
    for (const chain of [IPT_SERVICES, IPT_POSTROUTING]) {
      await this.run(iptables, ["-w", "5", "-t", "nat", "-F", chain]);
      await this.run(iptables, ["-w", "5", "-t", "nat", "-X", chain]);
    }
  }
}
