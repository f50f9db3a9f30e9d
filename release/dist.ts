/**
 * `npm run dist`: the single-file executables `dist/{lvscare,seal}-linux-{x64,arm64}`,
 * `dist/SHA256SUMS` and `dist/dist.json`. No network: the other architecture's Node and koffi
 * come from tarballs that `release/prepare.ts` fetched and that are checked against the lockfile.
 *
 *   npx node release/dist.ts [--arch x64|arm64]... [--code-cache] [--out DIR]
 */
import { mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeFileAtomic } from "@lvscare/contracts/atomic-write";
import { VERSION as LVSCARE_VERSION } from "../packages/lvscare/src/version.ts";
import { VERSION as SEAL_VERSION } from "../packages/installer/src/version.ts";
import { bundle, type BundleResult } from "./lib/bundle.ts";
import { writeChecksums } from "./lib/checksums.ts";
import { type Arch, ARCHES, BUILD_DIR, DIST_DIR, DIST_MANIFEST_FILE, executableName, executablePath, type Program, PROGRAMS } from "./lib/layout.ts";
import { platformFiles } from "./lib/platform-packages.ts";
import { buildExecutable } from "./lib/sea.ts";
import { sourceInfo } from "./lib/source-info.ts";

const USAGE = "usage: npx node release/dist.ts [--arch x64|arm64]... [--code-cache] [--out DIR]";
const VERSIONS: Record<Program, string> = { lvscare: LVSCARE_VERSION, seal: SEAL_VERSION };

/** dist/dist.json. */
export interface DistManifest {
  readonly formatVersion: 1;
  readonly commit: string;
  readonly buildDate: string;
  readonly nodeVersion: string;
  readonly codeCache: boolean;
  readonly executables: ReadonlyArray<{
    readonly program: Program;
    readonly version: string;
    readonly arch: Arch;
    readonly file: string;
    readonly size: number;
    readonly sha256: string;
  }>;
  /** Native addons left out of each bundle because their package falls back to JavaScript. */
  readonly omittedNativeAddons: Readonly<Record<Program, readonly string[]>>;
  /** Seconds each step took. */
  readonly timings: Readonly<Record<string, number>>;
}

interface DistOptions {
  readonly arches: readonly Arch[];
  readonly codeCache: boolean;
  readonly outDir: string;
}

function parseOptions(argv: readonly string[]): DistOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: { arch: { type: "string", multiple: true }, "code-cache": { type: "boolean" }, out: { type: "string" } },
    strict: true,
  });
  const arches = (values.arch ?? [...ARCHES]).map((value) => {
    const arch = ARCHES.find((known) => known === value);
    if (arch === undefined) throw new UsageError(`--arch: "${value}" is not one of ${ARCHES.join(", ")}`);
    return arch;
  });
  return { arches, codeCache: values["code-cache"] ?? false, outDir: values.out ?? DIST_DIR };
}

class UsageError extends Error {}

export async function buildDist(options: DistOptions, log: (line: string) => void): Promise<DistManifest> {
  const timings: Record<string, number> = {};
  const timed = async <T>(step: string, fn: () => T | Promise<T>): Promise<T> => {
    const start = performance.now();
    const result = await fn();
    timings[step] = Math.round(performance.now() - start) / 1000;
    log(`${step}: ${timings[step]} s`);
    return result;
  };

  const source = sourceInfo();
  // Everything that can be refused is checked before dist/ is touched.
  const platforms = new Map(options.arches.map((arch) => [arch, platformFiles(arch)] as const));
  mkdirSync(options.outDir, { recursive: true });
  mkdirSync(BUILD_DIR, { recursive: true });
  log(`building ${options.arches.join(", ")} from ${source.commit} (${source.date})${options.codeCache ? " with V8 code cache" : ""}`);

  const bundles = new Map<Program, BundleResult & { file: string }>();
  for (const program of PROGRAMS) {
    const file = join(BUILD_DIR, `${program}.cjs`);
    const result = await timed(`bundle ${program}`, () => bundle({ entry: program, outfile: file, buildInfo: source, minify: false }));
    bundles.set(program, { ...result, file });
  }

  for (const arch of ARCHES) {
    const platform = platforms.get(arch);
    for (const program of PROGRAMS) {
      const output = executablePath(program, arch, options.outDir);
      if (platform === undefined) {
        // Never leave another build's executable beside this one's checksums.
        rmSync(output, { force: true });
        continue;
      }
      const built = bundles.get(program)!;
      await timed(`executable ${executableName(program, arch)}`, () =>
        buildExecutable({
          arch,
          platform,
          bundleFile: built.file,
          withKoffi: built.usesKoffi,
          codeCache: options.codeCache,
          workDir: join(BUILD_DIR, executableName(program, arch)),
          output,
        }),
      );
    }
  }

  const sums = await timed("checksums", () => writeChecksums(options.outDir));
  const executables = options.arches.flatMap((arch) =>
    PROGRAMS.map((program) => {
      const file = executableName(program, arch);
      return { program, version: VERSIONS[program], arch, file, size: statSync(join(options.outDir, file)).size, sha256: sums[file]! };
    }),
  );
  const manifest: DistManifest = {
    formatVersion: 1,
    commit: source.commit,
    buildDate: source.date,
    nodeVersion: platforms.values().next().value!.nodeVersion,
    codeCache: options.codeCache,
    executables,
    omittedNativeAddons: { lvscare: bundles.get("lvscare")!.stubbedNative, seal: bundles.get("seal")!.stubbedNative },
    timings,
  };
  writeFileAtomic(join(options.outDir, DIST_MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o644, parentMode: 0o755 });
  return manifest;
}

async function main(): Promise<number> {
  let options: DistOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`dist: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const start = performance.now();
  try {
    const manifest = await buildDist(options, (line) => process.stdout.write(`dist: ${line}\n`));
    for (const executable of manifest.executables) {
      process.stdout.write(`${join(options.outDir, executable.file)}  ${(executable.size / 1024 / 1024).toFixed(1)} MiB  sha256 ${executable.sha256}\n`);
    }
    process.stdout.write(`dist: done in ${((performance.now() - start) / 1000).toFixed(1)} s\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`dist: ${(err as Error).message}\n`);
    return 1;
  }
}

if (import.meta.main) process.exitCode = await main();
