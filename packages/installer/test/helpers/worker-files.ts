/**
 * What `seal run` puts on a worker besides the rendered files, made for the lifecycle tests: the
 * lvscare executable (the repository's sources behind a wrapper script; the test hosts see the
 * repository at the same path, and this kernel has nf_tables, so `--dataplane nftables` runs for
 * real in the worker's namespace) and the image archive (a small docker archive the fake ctr
 * reads for real).
 */
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_LVSCARE_IMAGE } from "@lvscare/contracts/names";
import { run } from "./tools.ts";

const LVSCARE_ENTRY = resolve(dirname(fileURLToPath(import.meta.url)), "../../../lvscare/bin/lvscare");

export interface WorkerFiles {
  /** `--lvscare-bin`. */
  readonly lvscareBin: string;
  /** `--lvscare-image-archive`, holding `DEFAULT_LVSCARE_IMAGE`. */
  readonly imageArchive: string;
}

/** A docker archive the fake ctr imports (manifest.json, config named by its sha256, one layer). */
async function writeImageArchive(dir: string, tag: string): Promise<string> {
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
  const digest = createHash("sha256").update(config).digest("hex");
  const tree = join(dir, "image");
  mkdirSync(join(tree, "layer0"), { recursive: true });
  writeFileSync(join(tree, `${digest}.json`), config);
  writeFileSync(join(tree, "layer0/layer.tar"), Buffer.alloc(1024));
  writeFileSync(join(tree, "manifest.json"), JSON.stringify([{ Config: `${digest}.json`, RepoTags: [tag], Layers: ["layer0/layer.tar"] }]));
  const archive = join(dir, "lvscare-image.tar");
  const tar = await run("tar", ["-C", tree, "-cf", archive, "manifest.json", `${digest}.json`, "layer0/layer.tar"]);
  if (tar.code !== 0) throw new Error(`tar failed: ${tar.stderr}`);
  return archive;
}

/** Writes both into `dir`. */
export async function writeWorkerFiles(dir: string): Promise<WorkerFiles> {
  const lvscareBin = join(dir, "lvscare");
  // The sources through Node 24, as `npm run dist`'s single file would run them.
  writeFileSync(lvscareBin, `#!/bin/sh\nexec '${process.execPath}' '${LVSCARE_ENTRY}' "$@"\n`);
  chmodSync(lvscareBin, 0o755);
  return { lvscareBin, imageArchive: await writeImageArchive(dir, DEFAULT_LVSCARE_IMAGE) };
}
