/**
 * `lvscare list`: the VIP table of the active dataplane in `ipvsadm -Ln`'s columns (`lvscare ipvs
 * list` keeps listing the kernel's IPVS table whatever runs). "Active" for auto: nftables when our
 * nftables tables hold a VIP, else IPVS when the kernel has it, else the (empty) nftables table.
 */
import type { DataplaneName } from "@lvscare/contracts/names";
import type { DataplaneKind, IpvsTable } from "../dataplane/types.ts";
import { formatIpvsTable, ipvsTableToJson } from "../ipvs-format.ts";
import { detectKernelIpvs } from "./dataplane-choice.ts";
import type { CliDeps, CliIo } from "./io.ts";

/** The header line of the nftables listing (ipvsadm's names the IPVS version there). */
const NFTABLES_HEADER = "nftables dataplane (tables ip lvscare, ip6 lvscare)";

async function tableOf(kind: DataplaneKind, deps: CliDeps): Promise<IpvsTable> {
  const dataplane = await deps.createDataplane({ kind });
  try {
    return await dataplane.listAll();
  } finally {
    await dataplane.close();
  }
}

async function activeTable(deps: CliDeps): Promise<{ kind: DataplaneKind; table: IpvsTable }> {
  let nftables: IpvsTable | undefined;
  let nftablesError: unknown;
  try {
    nftables = await tableOf("nftables", deps);
    if (nftables.services.length > 0) return { kind: "nftables", table: nftables };
  } catch (err) {
    nftablesError = err;
  }
  const ipvs = await (deps.detectIpvs ?? detectKernelIpvs)();
  if (ipvs.available || nftables === undefined) {
    try {
      return { kind: "ipvs", table: await tableOf("ipvs", deps) };
    } catch (err) {
      if (nftables === undefined) {
        const why = (e: unknown) => (e instanceof Error ? e.message : String(e));
        throw new Error(`neither dataplane can be listed here: nftables: ${why(nftablesError)}; ipvs: ${why(err)}`);
      }
    }
  }
  return { kind: "nftables", table: nftables };
}

export async function listCommand(options: { json?: boolean; dataplane: DataplaneName }, io: CliIo, deps: CliDeps): Promise<void> {
  const { kind, table } = options.dataplane === "auto" ? await activeTable(deps) : { kind: options.dataplane, table: await tableOf(options.dataplane, deps) };
  if (options.json) {
    io.stdout.write(`${JSON.stringify({ dataplane: kind, ...(JSON.parse(ipvsTableToJson(table)) as object) }, null, 2)}\n`);
    return;
  }
  const text = formatIpvsTable(table);
  io.stdout.write(kind === "nftables" ? text.replace(/^[^\n]*/, NFTABLES_HEADER) : text);
}
