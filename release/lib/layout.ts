/**
 * Where `npm run dist` and `npm run image` put things: the one statement of the `dist/` layout
 * that tests, benchmarks and the container tests import (release/README.md describes it).
 */
import { join, resolve } from "node:path";

export const REPO_ROOT = resolve(import.meta.dirname, "..", "..");
export const DIST_DIR = join(REPO_ROOT, "dist");
/** Intermediate files of the last build (bundles, SEA blobs, the arm64 node); kept for inspection. */
export const BUILD_DIR = join(DIST_DIR, "build");
/** Downloads kept across builds and clones' runs (gitignored): npm tarballs for the other architecture, the arm64 sysroot. */
export const CACHE_DIR = join(REPO_ROOT, ".cache", "dist");

export const PROGRAMS = ["lvscare", "seal"] as const;
export type Program = (typeof PROGRAMS)[number];
export const ARCHES = ["x64", "arm64"] as const;
export type Arch = (typeof ARCHES)[number];

/** `dist/lvscare-linux-x64`, `dist/seal-linux-arm64`, ... */
export function executableName(program: Program, arch: Arch): string {
  return `${program}-linux-${arch}`;
}

export function executablePath(program: Program, arch: Arch, distDir: string = DIST_DIR): string {
  return join(distDir, executableName(program, arch));
}

/** `sha256sum -c SHA256SUMS` format, one line per executable (and image archive after `npm run image`). */
export const CHECKSUMS_FILE = "SHA256SUMS";
/** JSON `DistManifest`: version, commit, date and each file's size and sha256. */
export const DIST_MANIFEST_FILE = "dist.json";

// `npm run image`'s archives: named in contracts, since `seal run` looks for them in dist/ too.
export { IMAGE_DOCKER_ARCHIVE, IMAGE_OCI_ARCHIVE } from "@lvscare/contracts/names";
/** `npm run image`: JSON `ImageManifest` (reference, digests, sizes). */
export const IMAGE_MANIFEST_FILE = "image.json";

/** Debian's name for an architecture (images, sysroots) from Node's. */
export function debianArch(arch: Arch): "amd64" | "arm64" {
  return arch === "x64" ? "amd64" : "arm64";
}
