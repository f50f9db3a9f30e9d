/**
 * The per-architecture npm packages a single executable is made of: Node itself
 * (`node-linux-<arch>`) and koffi's prebuilt native module (`@koromix/koffi-linux-<arch>`).
 * npm installs only the host's; the other architecture's come from npm tarballs fetched once by
 * `fetchPlatformPackages()` (scripts/setup.sh runs it) into `.cache/dist/npm/`, and are checked
 * against package-lock.json's integrity before every use. So the version of every byte in an
 * executable is the locked one, and `npm run dist` needs no network.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Arch, ARCHES, BUILD_DIR, CACHE_DIR, REPO_ROOT } from "./layout.ts";
import { run } from "./run.ts";

export interface PlatformFiles {
  readonly nodeVersion: string;
  /** The Node binary the executable is made from (not stripped yet). */
  readonly node: string;
  /** koffi's native module for this architecture (glibc build). */
  readonly koffiNative: string;
}

interface PackageFile {
  readonly name: string;
  /** Path inside the package. */
  readonly member: string;
}

function nodePackage(arch: Arch): PackageFile {
  return { name: `node-linux-${arch}`, member: "bin/node" };
}

function koffiPackage(arch: Arch): PackageFile {
  return { name: `@koromix/koffi-linux-${arch}`, member: `linux_${arch}/koffi.node` };
}

interface LockEntry {
  readonly version: string;
  readonly integrity: string;
}

function lockEntry(name: string): LockEntry {
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, "package-lock.json"), "utf8")) as { packages?: Record<string, Partial<LockEntry>> };
  const entry = lock.packages?.[`node_modules/${name}`];
  if (entry?.version === undefined || entry.integrity === undefined) {
    throw new Error(`package-lock.json has no locked version and integrity for ${name}`);
  }
  return { version: entry.version, integrity: entry.integrity };
}

const TARBALL_DIR = join(CACHE_DIR, "npm");

/** The file name `npm pack` gives a package's tarball. */
function tarballPath(name: string, version: string): string {
  return join(TARBALL_DIR, `${name.replace(/^@/, "").replace("/", "-")}-${version}.tgz`);
}

/** `sha512-<base64>` of a file, the form package-lock.json records. */
function integrityOf(path: string): string {
  return `sha512-${createHash("sha512").update(readFileSync(path)).digest("base64")}`;
}

function installedVersion(name: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(REPO_ROOT, "node_modules", name, "package.json"), "utf8")) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** Path of one file of a locked package: from node_modules when npm installed it, else from its checked tarball. */
function packageFile(file: PackageFile): string {
  const locked = lockEntry(file.name);
  if (installedVersion(file.name) === locked.version) return join(REPO_ROOT, "node_modules", file.name, file.member);
  const tarball = tarballPath(file.name, locked.version);
  if (!existsSync(tarball)) {
    throw new Error(
      `${file.name}@${locked.version} is neither installed nor in ${tarball}: run \`npx node release/fetch-platform-packages.ts\` (scripts/setup.sh does) once, with the npm registry reachable`,
    );
  }
  const actual = integrityOf(tarball);
  if (actual !== locked.integrity) {
    throw new Error(`${tarball} does not match package-lock.json's integrity for ${file.name}@${locked.version} (${actual}); delete it and fetch again`);
  }
  const into = join(BUILD_DIR, "packages", `${file.name.replace("/", "+")}@${locked.version}`);
  const extracted = join(into, "package", file.member);
  if (!existsSync(extracted)) {
    rmSync(into, { recursive: true, force: true });
    mkdirSync(into, { recursive: true });
    run("tar", ["-xzf", tarball, "-C", into, `package/${file.member}`]);
  }
  return extracted;
}

export function platformFiles(arch: Arch): PlatformFiles {
  return {
    nodeVersion: lockEntry(nodePackage(arch).name).version,
    node: packageFile(nodePackage(arch)),
    koffiNative: packageFile(koffiPackage(arch)),
  };
}

/**
 * Downloads (npm pack) the locked tarball of every platform package npm did not install, unless
 * a checked copy is already cached. Needs the npm registry; nothing else does.
 */
export function fetchPlatformPackages(log: (line: string) => void): void {
  mkdirSync(TARBALL_DIR, { recursive: true });
  for (const arch of ARCHES) {
    for (const file of [nodePackage(arch), koffiPackage(arch)]) {
      const locked = lockEntry(file.name);
      if (installedVersion(file.name) === locked.version) continue;
      const target = tarballPath(file.name, locked.version);
      if (existsSync(target) && integrityOf(target) === locked.integrity) {
        log(`${file.name}@${locked.version}: cached`);
        continue;
      }
      // Into a private directory first: .cache is shared between work trees, a half-written
      // tarball must never appear under the final name.
      const staging = mkdtempSync(join(TARBALL_DIR, ".fetch-"));
      try {
        run("npm", ["pack", `${file.name}@${locked.version}`, "--pack-destination", staging, "--silent"], { cwd: staging });
        const [packed] = readdirSync(staging);
        if (packed === undefined) throw new Error(`npm pack ${file.name}@${locked.version} wrote nothing`);
        const actual = integrityOf(join(staging, packed));
        if (actual !== locked.integrity) throw new Error(`npm pack ${file.name}@${locked.version}: integrity ${actual}, package-lock.json says ${locked.integrity}`);
        renameSync(join(staging, packed), target);
        log(`${file.name}@${locked.version}: fetched`);
      } finally {
        rmSync(staging, { recursive: true, force: true });
      }
    }
  }
}
