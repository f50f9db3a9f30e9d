/** `lvscare ipvs list`: the table as `ipvsadm -Ln` prints it, or JSON. */
import { formatIpvsTable, ipvsTableToJson } from "../ipvs-format.ts";
import type { CliDeps, CliIo } from "./io.ts";

export async function ipvsListCommand(options: { json?: boolean }, io: CliIo, deps: CliDeps): Promise<void> {
  const dataplane = await deps.createDataplane();
  try {
    const table = await dataplane.listAll();
    io.stdout.write(options.json ? ipvsTableToJson(table) : formatIpvsTable(table));
  } finally {
    await dataplane.close();
  }
}
