/**
 * `npm run image`: the lvscare image, built without Docker and without a registry.
 * 1. images/lvscare/rootfs.sh: a Debian 12 root filesystem by `mmdebstrap --variant=extract`
 *    (libc, libstdc++, kmod, nftables, iptables; Debian's archive is the only thing reached);
 * 2. dist/lvscare-linux-x64 (from `npm run dist`) at /usr/bin/lvscare;
 * 3. buildah (vfs storage in a private directory, no RUN, so no isolation is needed) commits one
 *    gzip layer with every file time and the `created` field set to the executable's build date,
 *    so building twice from the same executable gives the same digest;
 * 4. skopeo writes the docker-archive form, which `ctr -n k8s.io images import` takes.
 * Outputs in dist/: the OCI archive, the docker archive, image.json, SHA256SUMS.
 *
 *   npx node release/image.ts        (as root)
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { writeFileAtomic } from "@lvscare/contracts/atomic-write";
import type { VersionInfo } from "@lvscare/lvscare/build-info";
import { writeChecksums } from "./lib/checksums.ts";
import {
  BUILD_DIR,
  debianArch,
  DIST_DIR,
  executableName,
  executablePath,
  IMAGE_DOCKER_ARCHIVE,
  IMAGE_MANIFEST_FILE,
  IMAGE_OCI_ARCHIVE,
  REPO_ROOT,
} from "./lib/layout.ts";
import { IMAGE_CMD, IMAGE_ENTRYPOINT, IMAGE_PATH, IMAGE_REFERENCE, IMAGE_STOP_SIGNAL, imageLabels } from "./lib/image-spec.ts";
import { run } from "./lib/run.ts";

const ARCH = "x64";
const ROOTFS_SCRIPT = join(REPO_ROOT, "images", "lvscare", "rootfs.sh");

/** dist/image.json. */
export interface ImageManifest {
  readonly formatVersion: 1;
  /** `localhost/lvscare:<version>`, the name both archives carry. */
  readonly reference: string;
  readonly architecture: "amd64";
  /** Digest of the OCI manifest: the same on every build from the same executable. */
  readonly digest: string;
  /** Digest of the image configuration (the image ID containerd and Docker show). */
  readonly configDigest: string;
  /** The gzip layer as pulled or imported from the OCI archive. */
  readonly compressedBytes: number;
  /** The layer unpacked (the docker archive's tar). */
  readonly uncompressedBytes: number;
  readonly ociArchive: string;
  readonly dockerArchive: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly executable: { readonly file: string; readonly sha256: string; readonly gitCommit: string; readonly buildDate: string };
  /** What rootfs.sh unpacked, from the image's /var/lib/dpkg/status. */
  readonly debianPackages: ReadonlyArray<{ readonly name: string; readonly version: string }>;
  readonly timings: Readonly<Record<string, number>>;
}

export interface ImageOptions {
  readonly distDir: string;
  /** org.opencontainers.image.source; default: the checkout's `origin` remote. */
  readonly source?: string;
}

export async function buildImage(options: ImageOptions, log: (line: string) => void): Promise<ImageManifest> {
  const timings: Record<string, number> = {};
  const timed = <T>(step: string, fn: () => T): T => {
    const start = performance.now();
    const result = fn();
    timings[step] = Math.round(performance.now() - start) / 1000;
    log(`${step}: ${timings[step]} s`);
    return result;
  };

  // Checked before anything is written.
  if (process.getuid?.() !== 0) throw new Error("needs root: mmdebstrap and buildah create files owned by root");
  const executable = executablePath("lvscare", ARCH, options.distDir);
  if (!existsSync(executable)) throw new Error(`${executable} does not exist: run \`npm run dist\` first`);
  const built = versionOf(executable);
  const epoch = Date.parse(built.buildDate) / 1000;
  if (!Number.isInteger(epoch)) throw new Error(`${executable} says its build date is "${built.buildDate}", not a time: rebuild it with \`npm run dist\``);
  const labels = imageLabels({
    version: built.gitVersion.replace(/^v/, ""),
    commit: built.gitCommit,
    created: built.buildDate,
    source: options.source ?? originUrl(),
  });
  if (!IMAGE_REFERENCE.endsWith(`:${labels["org.opencontainers.image.version"]}`)) {
    throw new Error(`${executable} is version ${built.gitVersion}, the image would be named ${IMAGE_REFERENCE}: rebuild it with \`npm run dist\``);
  }
  for (const tool of ["mmdebstrap", "dpkg-deb", "buildah", "skopeo"]) requireTool(tool);

  const work = join(BUILD_DIR, "image");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const rootfs = join(work, "rootfs");
  const buildah = ["--root", join(work, "storage"), "--runroot", join(work, "run"), "--storage-driver", "vfs"];
  const oci = join(options.distDir, IMAGE_OCI_ARCHIVE);
  const docker = join(options.distDir, IMAGE_DOCKER_ARCHIVE);
  const stagedOci = `${oci}.${process.pid}.tmp`;
  const stagedDocker = `${docker}.${process.pid}.tmp`;
  try {
    timed("rootfs (mmdebstrap)", () =>
      run("sh", [ROOTFS_SCRIPT, rootfs, debianArch(ARCH)], { env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) } }),
    );
    const debianPackages = dpkgStatus(join(rootfs, "var", "lib", "dpkg", "status"));
    mkdirSync(join(rootfs, "usr", "bin"), { recursive: true });
    run("install", ["-m", "0755", executable, join(rootfs, "usr", "bin", "lvscare")]);

    timed("commit (buildah)", () => {
      const container = run("buildah", [...buildah, "from", "--quiet", "scratch"]).trim();
      run("buildah", [...buildah, "copy", "--quiet", container, `${rootfs}/`, "/"]);
      run("buildah", [
        ...buildah,
        "config",
        "--arch", debianArch(ARCH),
        "--os", "linux",
        "--entrypoint", JSON.stringify(IMAGE_ENTRYPOINT),
        "--cmd", JSON.stringify(IMAGE_CMD),
        "--env", `PATH=${IMAGE_PATH}`,
        "--stop-signal", IMAGE_STOP_SIGNAL,
        "--created-by", "npm run image (release/image.ts)",
        ...Object.entries(labels).flatMap(([key, value]) => ["--label", `${key}=${value}`]),
        container,
      ]);
      run("buildah", [
        ...buildah,
        "commit", "--quiet", "--rm",
        "--format", "oci",
        "--disable-compression=false",
        "--identity-label=false",
        "--timestamp", String(epoch),
        container,
        `oci-archive:${stagedOci}:${IMAGE_REFERENCE}`,
      ]);
    });
    timed("docker-archive (skopeo)", () => run("skopeo", ["copy", "--quiet", `oci-archive:${stagedOci}`, `docker-archive:${stagedDocker}:${IMAGE_REFERENCE}`]));

    const manifest = JSON.parse(run("skopeo", ["inspect", "--raw", `oci-archive:${stagedOci}`])) as { config: { digest: string }; layers: Array<{ size: number }> };
    const dockerLayers = JSON.parse(run("skopeo", ["inspect", "--raw", `docker-archive:${stagedDocker}`])) as { layers: Array<{ size: number }> };
    const { Digest: digest } = JSON.parse(run("skopeo", ["inspect", `oci-archive:${stagedOci}`])) as { Digest: string };
    renameSync(stagedOci, oci);
    renameSync(stagedDocker, docker);
    const sums = await writeChecksums(options.distDir);

    const result: ImageManifest = {
      formatVersion: 1,
      reference: IMAGE_REFERENCE,
      architecture: debianArch(ARCH) as "amd64",
      digest,
      configDigest: manifest.config.digest,
      compressedBytes: manifest.layers.reduce((sum, layer) => sum + layer.size, 0),
      uncompressedBytes: dockerLayers.layers.reduce((sum, layer) => sum + layer.size, 0),
      ociArchive: IMAGE_OCI_ARCHIVE,
      dockerArchive: IMAGE_DOCKER_ARCHIVE,
      labels,
      executable: { file: executableName("lvscare", ARCH), sha256: sums[executableName("lvscare", ARCH)] ?? "", gitCommit: built.gitCommit, buildDate: built.buildDate },
      debianPackages,
      timings,
    };
    writeFileAtomic(join(options.distDir, IMAGE_MANIFEST_FILE), `${JSON.stringify(result, null, 2)}\n`, { mode: 0o644, parentMode: 0o755 });
    return result;
  } finally {
    rmSync(stagedOci, { force: true });
    rmSync(stagedDocker, { force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

function versionOf(executable: string): VersionInfo {
  const output = run(executable, ["version"], { env: { PATH: "/usr/bin:/bin" } });
  return JSON.parse(output) as VersionInfo;
}

function originUrl(): string {
  const result = spawnSync("git", ["-C", REPO_ROOT, "remote", "get-url", "origin"], { encoding: "utf8" });
  // Credentials in an https remote stay out of the image.
  return result.status === 0 && result.stdout.trim() !== "" ? result.stdout.trim().replace(/\/\/[^/@]*@/, "//") : 'unknown (the checkout has no "origin" remote)';
}

function requireTool(tool: string): void {
  const found = spawnSync("sh", ["-c", 'command -v "$1"', "sh", tool], { encoding: "utf8" });
  if (found.status !== 0) throw new Error(`${tool} is not installed (Debian package ${tool === "dpkg-deb" ? "dpkg" : tool}; scripts/setup.sh installs it)`);
}

function dpkgStatus(path: string): Array<{ name: string; version: string }> {
  return readFileSync(path, "utf8")
    .split("\n\n")
    .map((paragraph) => ({ name: /^Package: (.+)$/m.exec(paragraph)?.[1] ?? "", version: /^Version: (.+)$/m.exec(paragraph)?.[1] ?? "" }))
    .filter((entry) => entry.name !== "");
}

async function main(): Promise<number> {
  if (process.argv.length > 2) {
    process.stderr.write("usage: npx node release/image.ts   (no options; run `npm run dist` first)\n");
    return 2;
  }
  const start = performance.now();
  try {
    const image = await buildImage({ distDir: DIST_DIR, ...(process.env["LVSCARE_IMAGE_SOURCE"] ? { source: process.env["LVSCARE_IMAGE_SOURCE"] } : {}) }, (line) =>
      process.stdout.write(`image: ${line}\n`),
    );
    const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
    process.stdout.write(
      `${IMAGE_REFERENCE} ${image.digest}\n` +
        `  ${join(DIST_DIR, IMAGE_OCI_ARCHIVE)} (${mib(statSync(join(DIST_DIR, IMAGE_OCI_ARCHIVE)).size)}; layer ${mib(image.compressedBytes)} compressed, ${mib(image.uncompressedBytes)} unpacked)\n` +
        `  ${join(DIST_DIR, IMAGE_DOCKER_ARCHIVE)} (${mib(statSync(join(DIST_DIR, IMAGE_DOCKER_ARCHIVE)).size)})\n` +
        `image: done in ${((performance.now() - start) / 1000).toFixed(1)} s\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(`image: ${(err as Error).message}\n`);
    return 1;
  }
}

if (import.meta.main) process.exitCode = await main();
