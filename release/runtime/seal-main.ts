/** Entry point of the single-file `seal` executable (what bin/seal.js does for the sources). */
import { main } from "../../packages/installer/src/cli/main.ts";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`seal: failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
