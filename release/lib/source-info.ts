/**
 * The commit and date baked into the executables (what `lvscare version` prints as gitCommit and
 * buildDate). The date is the commit's, not the clock's, so two builds of one commit are
 * byte-identical and the image digest repeats; SOURCE_DATE_EPOCH (the reproducible-builds
 * convention) overrides it, and a work tree with uncommitted changes gets `-dirty` and the clock.
 */
import { spawnSync } from "node:child_process";
import type { BuildInfo } from "../../packages/lvscare/src/build-info.ts";
import { REPO_ROOT } from "./layout.ts";

export interface SourceInfo extends BuildInfo {
  /** Seconds since the epoch of `date`: file times in the image, the OCI `created` field. */
  readonly epoch: number;
}

function git(args: readonly string[]): string | undefined {
  const result = spawnSync("git", ["-C", REPO_ROOT, ...args], { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

export function sourceInfo(env: NodeJS.ProcessEnv = process.env): SourceInfo {
  const head = git(["rev-parse", "HEAD"]);
  const dirty = head !== undefined && (git(["status", "--porcelain"]) ?? "") !== "";
  const commit = head === undefined ? "unknown (not built from a git checkout)" : dirty ? `${head}-dirty` : head;

  let epoch: number;
  const configured = env["SOURCE_DATE_EPOCH"];
  if (configured !== undefined && configured !== "") {
    if (!/^\d+$/.test(configured)) throw new Error(`SOURCE_DATE_EPOCH: "${configured}" is not a number of seconds`);
    epoch = Number(configured);
  } else if (head !== undefined && !dirty) {
    epoch = Number(git(["log", "-1", "--format=%ct", "HEAD"]));
  } else {
    epoch = Math.floor(Date.now() / 1000);
  }
  return { commit, date: new Date(epoch * 1000).toISOString().replace(/\.000Z$/, "Z"), epoch };
}
