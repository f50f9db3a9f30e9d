/**
 * Runs inside the single-file `lvscare` executable only: release/lib/bundle.ts bundles it in
 * place of koffi's own loader. koffi finds its native `koffi.node` by computed paths next to its
 * package, which a single executable does not have; so the executable carries it as an SEA asset
 * and this module loads it, once, on first use of koffi (not at start-up: `--help`, `version` and
 * `static-pod` never touch native code).
 *
 * Where it comes from, in order:
 * 1. `koffi.node` next to the executable (for hosts where no directory allows exec);
 * 2. the SEA asset, written to a private directory (mode 0700, removed right after loading) under
 *    LVSCARE_TMPDIR, else TMPDIR, else /tmp. dlopen needs a filesystem that allows exec; a
 *    container's /dev/shm is noexec, and a read-only root has no writable /tmp: the error then
 *    names the directory and the reason, instead of koffi's "Cannot find the native Koffi module".
 */
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { getRawAsset, isSea } from "node:sea";
import { TMPDIR_VARIABLE } from "../../packages/lvscare/src/executable-env.ts";

/** Name of the SEA asset, and of the file next to the executable that takes precedence over it. */
export const KOFFI_NATIVE_ASSET = "koffi.node";

let loaded: unknown;

/** koffi's native module, loaded on the first call; throws an Error that says what to change. */
export function koffiNative(): unknown {
  loaded ??= load();
  return loaded;
}

function load(): unknown {
  const beside = join(dirname(process.execPath), KOFFI_NATIVE_ASSET);
  if (existsSync(beside)) return dlopen(beside, (reason) => `cannot load ${beside}: ${reason}`);
  if (!isSea()) {
    throw new Error(`koffi's native module is not embedded (this is not a single executable) and ${beside} does not exist`);
  }
  return loadEmbedded();
}

function loadEmbedded(): unknown {
  const base = temporaryBase();
  let dir: string;
  try {
    dir = mkdtempSync(join(base.path, "lvscare-koffi-"));
  } catch (err) {
    throw new Error(`cannot unpack koffi's native module: cannot create a directory in ${base.path} (${base.from}): ${(err as Error).message}. ${ADVICE}`);
  }
  try {
    const file = join(dir, KOFFI_NATIVE_ASSET);
    writeFileSync(file, new Uint8Array(getRawAsset(KOFFI_NATIVE_ASSET)), { mode: 0o700 });
    return dlopen(file, (reason) => {
      const mount = noexecMountOf(dir);
      const why = mount === undefined ? reason : `${mount} is mounted noexec`;
      return `cannot load koffi's native module from ${base.path} (${base.from}): ${why}. ${ADVICE}`;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ADVICE = `Set ${TMPDIR_VARIABLE} to a writable directory on a filesystem that allows exec (the static pod mounts an emptyDir for it), or put ${KOFFI_NATIVE_ASSET} next to the executable`;

function temporaryBase(): { path: string; from: string } {
  const configured = process.env[TMPDIR_VARIABLE];
  if (configured !== undefined && configured !== "") return { path: configured, from: TMPDIR_VARIABLE };
  const env = process.env["TMPDIR"];
  return { path: tmpdir(), from: env !== undefined && env !== "" ? "TMPDIR" : "the default" };
}

function dlopen(file: string, explain: (reason: string) => string): unknown {
  const module = { exports: {} as unknown };
  try {
    process.dlopen(module, file);
  } catch (err) {
    throw new Error(explain((err as Error).message));
  }
  return module.exports;
}

/** The mount point holding `path` when it is mounted noexec (from /proc/self/mountinfo), else undefined. */
function noexecMountOf(path: string): string | undefined {
  let target: string;
  let mountinfo: string;
  try {
    target = realpathSync(path);
    mountinfo = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return undefined;
  }
  let best: { point: string; options: string[] } | undefined;
  for (const line of mountinfo.split("\n")) {
    // Fields: id parent major:minor root mount-point mount-options ...; octal escapes in paths.
    const fields = line.split(" ");
    const point = fields[4]?.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    const options = fields[5];
    if (point === undefined || options === undefined) continue;
    const inside = target === point || target.startsWith(point === "/" ? "/" : `${point}/`);
    // Later lines are mounted over earlier ones at the same point, so >= keeps the last.
    if (inside && (best === undefined || point.length >= best.point.length)) best = { point, options: options.split(",") };
  }
  return best?.options.includes("noexec") ? best.point : undefined;
}
