/**
 * `--dataplane ipvs|nftables|auto` (env LVSCARE_DATAPLANE): which table technology balances the
 * VIP, and for `auto` which one this kernel can run, with the reason, for the start-up log line.
 * Read and checked before anything touches the host; a bad value is a usage error (exit 2).
 */
import { execFile } from "node:child_process";
import { access } from "node:fs/promises";
import { type Command, Option } from "commander";
import { DATAPLANES, DEFAULT_DATAPLANE, type DataplaneName } from "@lvscare/contracts/names";
import { findTool } from "../dataplane/kernel-masquerade.ts";
import type { DataplaneKind } from "../dataplane/types.ts";
import { UsageError } from "../errors.ts";

export const DATAPLANE_ENV = "LVSCARE_DATAPLANE";

/** `--help` text: what each choice is for. */
export const DATAPLANE_HELP = `Which dataplane (--dataplane, env ${DATAPLANE_ENV}):
  ipvs      kernel IPVS, upstream lvscare's behaviour (the default). Pick it unless one of the
            reasons below applies.
  nftables  our own nftables tables (ip/ip6 lvscare), needs nft (Debian package nftables). Pick it
            when kube-proxy runs in nftables mode (each kube-proxy start flushes every IPVS
            service on the node, which blinks an IPVS VIP), when the kernel has no ip_vs, or
            when kube-proxy's IPVS mode is gone (deprecated since Kubernetes 1.35).
  auto      IPVS when the kernel has it (or modprobe ip_vs loads it), else nftables; the choice
            and why are logged at start-up.
`;

export function addDataplaneOption(command: Command, what = "which dataplane balances the VIP"): void {
  command.addOption(new Option("--dataplane <name>", `${what}: ${DATAPLANES.join(", ")} (default: ${DEFAULT_DATAPLANE}, env: ${DATAPLANE_ENV})`));
}

export function parseDataplaneName(value: string, what = "--dataplane"): DataplaneName {
  const name = DATAPLANES.find((d) => d === value.trim());
  if (name === undefined) throw new UsageError(`${what}: "${value}" is not one of ${DATAPLANES.join(", ")}`);
  return name;
}

/** The flag, else LVSCARE_DATAPLANE, else the default; a bad value of either is a UsageError naming the allowed ones. */
export function dataplaneNameOf(command: Command, env: Readonly<Record<string, string | undefined>>): DataplaneName {
  const flag: unknown = command.getOptionValue("dataplane");
  if (typeof flag === "string") return parseDataplaneName(flag);
  const fromEnv = env[DATAPLANE_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== "") return parseDataplaneName(fromEnv, DATAPLANE_ENV);
  return DEFAULT_DATAPLANE;
}

export interface IpvsSupport {
  readonly available: boolean;
  /** In words, for the log: "/proc/net/ip_vs exists", "modprobe ip_vs: ...". */
  readonly why: string;
}

export interface DataplaneChoice {
  readonly kind: DataplaneKind;
  readonly why: string;
}

/** auto: IPVS when the kernel has it, else nftables. The others are taken as given. */
export async function chooseDataplane(name: DataplaneName, detectIpvs: () => Promise<IpvsSupport> = detectKernelIpvs): Promise<DataplaneChoice> {
  if (name !== "auto") return { kind: name, why: `--dataplane ${name}` };
  const ipvs = await detectIpvs();
  return ipvs.available
    ? { kind: "ipvs", why: `--dataplane auto: the kernel has IPVS (${ipvs.why})` }
    : { kind: "nftables", why: `--dataplane auto: no IPVS in this kernel (${ipvs.why})` };
}

const PROC_IPVS = "/proc/net/ip_vs";

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * /proc/net/ip_vs appears once the ip_vs module is loaded (or built in). Without it, `modprobe
 * ip_vs` is tried (the pod mounts /lib/modules), as kube-proxy does before touching IPVS.
 */
export async function detectKernelIpvs(): Promise<IpvsSupport> {
  if (await exists(PROC_IPVS)) return { available: true, why: `${PROC_IPVS} exists` };
  const modprobe = await findTool("modprobe");
  if (modprobe === undefined) return { available: false, why: `${PROC_IPVS} is missing and there is no modprobe` };
  const failure = await new Promise<string | undefined>((resolve) => {
    execFile(modprobe, ["ip_vs"], { timeout: 10_000 }, (error, _stdout, stderr) => {
      resolve(error === null ? undefined : String(stderr).trim().split("\n")[0] || error.message);
    });
  });
  if (failure !== undefined) return { available: false, why: `${PROC_IPVS} is missing and modprobe ip_vs failed: ${failure}` };
  if (await exists(PROC_IPVS)) return { available: true, why: "modprobe ip_vs loaded it" };
  return { available: false, why: `modprobe ip_vs succeeded but ${PROC_IPVS} is still missing` };
}
