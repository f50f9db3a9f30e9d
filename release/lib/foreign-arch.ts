/**
 * Running another architecture's executables on this host: Debian's qemu-user-static with a
 * minimal sysroot of that architecture (its glibc loader, libc, libstdc++, libgcc: what Node
 * links against), made by `mmdebstrap --variant=extract` into `.cache/dist/sysroot-<arch>/`.
 * The dist tests run the arm64 executables this way; `npm run dist --code-cache` uses it to let
 * the arm64 Node compile the arm64 code cache.
 */
import { existsSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Arch, CACHE_DIR, debianArch } from "./layout.ts";
import { run } from "./run.ts";

export const HOST_ARCH = process.arch as Arch;

/** Where Debian's qemu-user-static puts them (absolute: callers may run with a minimal PATH). */
const QEMU: Record<Arch, string> = { x64: "/usr/bin/qemu-x86_64-static", arm64: "/usr/bin/qemu-aarch64-static" };
/** The loader a dynamically linked executable of that architecture names (PT_INTERP). */
const LOADER: Record<Arch, string> = { x64: "lib64/ld-linux-x86-64.so.2", arm64: "lib/ld-linux-aarch64.so.1" };
const SYSROOT_PACKAGES = ["libc6", "libstdc++6"];
const SUITE = "bookworm";

export function sysrootPath(arch: Arch): string {
  return join(CACHE_DIR, `sysroot-${debianArch(arch)}`);
}

/** The argv that runs `argv` (an executable of `arch` and its arguments) on this host. */
export function commandFor(arch: Arch, argv: readonly string[]): string[] {
  if (arch === HOST_ARCH) return [...argv];
  const sysroot = sysrootPath(arch);
  if (!existsSync(join(sysroot, LOADER[arch]))) {
    throw new Error(`no ${arch} sysroot at ${sysroot}: run \`npx node release/prepare.ts\` (scripts/setup.sh does) once, with Debian's archive reachable`);
  }
  if (!existsSync(QEMU[arch])) throw new Error(`${QEMU[arch]} is missing: install the Debian package qemu-user-static (scripts/setup.sh does)`);
  return [QEMU[arch], "-L", sysroot, ...argv];
}

/** Creates the sysroot unless it is there (Debian's archive must be reachable). */
export function ensureSysroot(arch: Arch, log: (line: string) => void): void {
  const target = sysrootPath(arch);
  if (existsSync(join(target, LOADER[arch]))) {
    log(`${arch} sysroot: cached at ${target}`);
    return;
  }
  // Built beside its final name and renamed: .cache is shared between work trees.
  const staging = mkdtempSync(`${target}.tmp-`);
  try {
    run("mmdebstrap", ["--quiet", "--variant=extract", `--architectures=${debianArch(arch)}`, `--include=${SYSROOT_PACKAGES.join(",")}`, SUITE, staging]);
    rmSync(target, { recursive: true, force: true });
    renameSync(staging, target);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  log(`${arch} sysroot: made at ${target}`);
}
