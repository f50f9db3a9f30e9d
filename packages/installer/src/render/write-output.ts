/**
 * Puts a rendered cluster on disk: every file into a staging directory next to the output
 * (each written atomically, keys 0600), plan.json last, new CA material into --pki-dir without
 * replacing anything, then one rename makes the output appear whole. A failure leaves no output.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { createFileExclusive, fsyncDirectory, writeFileAtomic } from "@lvscare/contracts/atomic-write";
import { InputError } from "../errors.ts";
import { PLAN_FILE_NAME, planToJson } from "../plan/plan.ts";
import type { RenderedCluster } from "./render-cluster.ts";

/** Refuses an output directory that has content: mixing two renders would mix two PKIs. */
export async function checkOutputDirectory(outDir: string): Promise<void> {
  const info = await stat(outDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw new InputError(`-o: ${outDir}: ${error.message}`);
  });
  if (info === undefined) {
    const parent = await stat(dirname(resolve(outDir))).catch(() => undefined);
    if (parent?.isDirectory() !== true) throw new InputError(`-o: the parent directory of ${outDir} does not exist`);
    return;
  }
  if (!info.isDirectory()) throw new InputError(`-o: ${outDir} exists and is not a directory`);
  if ((await readdir(outDir)).length > 0) {
    throw new InputError(`-o: ${outDir} is not empty; render into a new directory (an existing render keeps its own keys)`);
  }
}

export async function writeRenderOutput(outDir: string, rendered: RenderedCluster, pkiDir: string | undefined): Promise<void> {
  const target = resolve(outDir);
  const staging = join(dirname(target), `.${basename(target)}.seal-staging-${randomBytes(6).toString("hex")}`);
  await mkdir(staging, { mode: 0o700 });
  try {
    for (const [source, file] of rendered.files) {
      writeFileAtomic(join(staging, source), file.content, { mode: file.mode, parentMode: 0o700, writer: "seal" });
    }
    writeFileAtomic(join(staging, PLAN_FILE_NAME), planToJson(rendered.plan), { mode: 0o644, writer: "seal" });
    if (pkiDir !== undefined) await persistPkiDir(pkiDir, rendered);
    // rename(2) replaces an empty directory, so an existing empty output works too.
    await rename(staging, target);
    fsyncDirectory(dirname(target));
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

async function persistPkiDir(pkiDir: string, rendered: RenderedCluster): Promise<void> {
  await mkdir(pkiDir, { recursive: true, mode: 0o700 });
  for (const file of rendered.newPkiDirFiles) {
    const path = join(pkiDir, file.relativePath);
    try {
      createFileExclusive(path, file.content, { mode: file.mode, parentMode: 0o700, writer: "seal" });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") {
        throw new InputError(`--pki-dir: ${path} appeared while rendering (another seal run?); it was kept, nothing rendered`);
      }
      throw error;
    }
  }
}
