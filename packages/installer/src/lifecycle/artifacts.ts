/**
 * What seal uploads to workers: the single-file lvscare executable for the worker's
 * architecture and the lvscare image archive. Defaults (`npm run dist`, `npm run image` names,
 * as release/lib/layout.ts writes them): next to seal's own executable when seal runs as the
 * single file, else the repository's dist/. A missing executable is refused before anything
 * changes, naming the command that builds it.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { isSea } from "node:sea";
import { fileURLToPath } from "node:url";
import { IMAGE_OCI_ARCHIVE } from "@lvscare/contracts/names";
import { InputError } from "../errors.ts";
import type { WorkerArtifacts } from "./host-steps.ts";


export interface ArtifactOptions {
  /** --lvscare-bin: one file for every worker. */
  readonly lvscareBin?: string;
  /** --lvscare-image-archive; default the dist/ one when present. */
  readonly imageArchive?: string;
  /** Where dist/ is; default beside seal's executable (single file) or the repository's dist/. */
  readonly distDir?: string;
}

const ARCHES: Record<string, string> = { x86_64: "x64", amd64: "x64", aarch64: "arm64", arm64: "arm64" };

export function defaultDistDir(): string {
  // The single file has no source tree (its bundle leaves import.meta.url undefined): its
  // artifacts are the ones `npm run dist` wrote beside it, whatever it was renamed to.
  if (isSea()) return dirname(process.execPath);
  return resolve(dirname(fileURLToPath(import.meta.url)), "../../../../dist");
}

export function resolveWorkerArtifacts(options: ArtifactOptions, unameMachine: string, check: { checkExists: boolean }): WorkerArtifacts {
  const distDir = options.distDir ?? defaultDistDir();
  let lvscareBinary = options.lvscareBin;
  if (lvscareBinary === undefined) {
    const arch = ARCHES[unameMachine];
    if (arch === undefined) throw new InputError(`a worker runs on ${unameMachine || "an unknown architecture"}; lvscare is built for x86_64 and aarch64 (give --lvscare-bin)`);
    lvscareBinary = join(distDir, `lvscare-linux-${arch}`);
  }
  if (check.checkExists && !existsSync(lvscareBinary)) {
    throw new InputError(`the lvscare executable ${lvscareBinary} is missing: build it with \`npm run dist\` (or give --lvscare-bin FILE)`);
  }
  const defaultImage = join(distDir, IMAGE_OCI_ARCHIVE);
  const imageArchive = options.imageArchive ?? (existsSync(defaultImage) ? defaultImage : undefined);
  if (check.checkExists && options.imageArchive !== undefined && !existsSync(options.imageArchive)) throw new InputError(`--lvscare-image-archive ${options.imageArchive} does not exist (\`npm run image\` builds it)`);
  return { lvscareBinary: resolve(lvscareBinary), imageArchive: imageArchive === undefined ? undefined : resolve(imageArchive) };
}
