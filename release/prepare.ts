/**
 * Run once per machine (scripts/setup.sh does), with the npm registry and Debian's archive
 * reachable: fetches the other architecture's Node and koffi tarballs (checked against
 * package-lock.json) and makes that architecture's sysroot for qemu-user. Afterwards
 * `npm run dist` needs no network. Idempotent: what is cached and checked is kept.
 *
 *   npx node release/prepare.ts
 */
import { ensureSysroot, HOST_ARCH } from "./lib/foreign-arch.ts";
import { ARCHES } from "./lib/layout.ts";
import { fetchPlatformPackages } from "./lib/platform-packages.ts";

const log = (line: string): void => void process.stdout.write(`prepare: ${line}\n`);
try {
  fetchPlatformPackages(log);
  for (const arch of ARCHES) if (arch !== HOST_ARCH) ensureSysroot(arch, log);
} catch (err) {
  process.stderr.write(`prepare: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
