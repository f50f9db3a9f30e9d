/** `dist/SHA256SUMS`: every artifact present in `dist/`, in `sha256sum -c` format. */
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "@lvscare/contracts/atomic-write";
import { ARCHES, CHECKSUMS_FILE, executableName, IMAGE_DOCKER_ARCHIVE, IMAGE_OCI_ARCHIVE, PROGRAMS } from "./layout.ts";

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

const ARTIFACTS = [...PROGRAMS.flatMap((program) => ARCHES.map((arch) => executableName(program, arch))), IMAGE_OCI_ARCHIVE, IMAGE_DOCKER_ARCHIVE];

/** Rewrites SHA256SUMS for the artifacts in `distDir`; returns name -> sha256. */
export async function writeChecksums(distDir: string): Promise<Record<string, string>> {
  const sums: Record<string, string> = {};
  for (const name of ARTIFACTS) {
    const path = join(distDir, name);
    if (existsSync(path)) sums[name] = await sha256File(path);
  }
  writeFileAtomic(join(distDir, CHECKSUMS_FILE), Object.entries(sums).map(([name, sum]) => `${sum}  ${name}\n`).join(""), { mode: 0o644, parentMode: 0o755 });
  return sums;
}
