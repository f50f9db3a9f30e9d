/** Entry point of the single-file `lvscare` executable (what bin/lvscare does for the sources). */
import { run } from "../../packages/lvscare/src/cli.ts";

run().catch((err: unknown) => {
  process.stderr.write(`lvscare: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
