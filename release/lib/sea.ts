/**
 * A Node single executable application: the locked Node binary of the target architecture,
 * stripped of its symbols, with the bundle (and koffi.node as an asset) injected by postject.
 */
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { KOFFI_NATIVE_ASSET } from "../runtime/koffi-native.ts";
import { commandFor, HOST_ARCH } from "./foreign-arch.ts";
import { type Arch, REPO_ROOT } from "./layout.ts";
import type { PlatformFiles } from "./platform-packages.ts";
import { run } from "./run.ts";

/** The fuse string Node's binary carries for postject (Node's SEA documentation). */
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
const STRIP: Record<Arch, string> = { x64: "x86_64-linux-gnu-strip", arm64: "aarch64-linux-gnu-strip" };

export interface ExecutableOptions {
  readonly arch: Arch;
  readonly platform: PlatformFiles;
  readonly bundleFile: string;
  /** Embed koffi's native module of this architecture. */
  readonly withKoffi: boolean;
  /**
   * V8's code cache in the blob: less compiling at start-up, but V8 does not produce the same
   * bytes twice, so the executable (and the image digest) then changes with every build.
   */
  readonly codeCache: boolean;
  /** Scratch directory for the SEA config, blob and the stripped Node. */
  readonly workDir: string;
  readonly output: string;
}

export function buildExecutable(options: ExecutableOptions): void {
  rmSync(options.workDir, { recursive: true, force: true });
  mkdirSync(options.workDir, { recursive: true });
  const blob = join(options.workDir, "sea.blob");
  const config = join(options.workDir, "sea-config.json");
  writeFileSync(
    config,
    `${JSON.stringify(
      {
        main: options.bundleFile,
        output: blob,
        disableExperimentalSEAWarning: true,
        useSnapshot: false,
        useCodeCache: options.codeCache,
        assets: options.withKoffi ? { [KOFFI_NATIVE_ASSET]: options.platform.koffiNative } : {},
      },
      null,
      2,
    )}\n`,
  );
  // The code cache is V8 machine code: only the target's own Node may write it (under qemu-user
  // for another architecture). Without it the blob is the same whichever Node writes it.
  const [command, ...args] =
    options.codeCache && options.arch !== HOST_ARCH
      ? commandFor(options.arch, [options.platform.node, "--experimental-sea-config", config])
      : [process.execPath, "--experimental-sea-config", config];
  run(command!, args);

  const staged = join(dirname(options.output), `.${options.arch}-${process.pid}.tmp`);
  try {
    run(STRIP[options.arch], ["--strip-all", "-o", staged, options.platform.node]);
    run(process.execPath, [join(REPO_ROOT, "node_modules", "postject", "dist", "cli.js"), staged, "NODE_SEA_BLOB", blob, "--sentinel-fuse", SEA_FUSE]);
    chmodSync(staged, 0o755);
    const fd = openSync(staged, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(staged, options.output);
  } catch (err) {
    rmSync(staged, { force: true });
    throw err;
  }
}

