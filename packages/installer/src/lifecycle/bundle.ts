/**
 * `--bundle FILE`: sealos's classic offline package (`kube/bin/{kubeadm,kubelet,kubectl}`,
 * `kube/conf/`, `kube/images/images.tar`, `kube/shell/init.sh`), uploaded once per host (the
 * upload is checked by sha256 and skipped when the host has the same bytes), unpacked under
 * /var/lib/seal/<cluster>/bundle and its init script run there, once (a marker records it).
 */
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { InputError } from "../errors.ts";
import type { RemoteHost } from "../ssh/remote-host.ts";
import { isMarked, mark } from "./remote-edits.ts";

export interface Bundle {
  readonly path: string;
}

export const BUNDLE_INIT_SCRIPT = "kube/shell/init.sh";

/** Refused here, before any connection: a missing file, a corrupt archive, or one without the init script. */
export function checkBundle(path: string): Bundle {
  if (!existsSync(path) || !statSync(path).isFile()) throw new InputError(`--bundle ${path} is not a file`);
  if (!/\.(tar\.gz|tgz|tar)$/.test(path)) throw new InputError(`--bundle ${path}: expected a .tar.gz, .tgz or .tar (sealos's offline package)`);
  // Reading the whole listing also reads the whole compressed stream: a truncated or corrupt archive fails here.
  const listing = spawnSync("tar", ["-tf", path], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (listing.error !== undefined) throw new InputError(`--bundle ${path}: cannot run tar to check it (${listing.error.message}; Debian: tar)`);
  if (listing.status !== 0) throw new InputError(`--bundle ${path} is not a readable tar archive: ${listing.stderr.trim().split("\n")[0] ?? ""}`);
  const entries = new Set(listing.stdout.split("\n").map((entry) => entry.replace(/^\.\//, "")));
  if (!entries.has(BUNDLE_INIT_SCRIPT)) throw new InputError(`--bundle ${path} has no ${BUNDLE_INIT_SCRIPT} (sealos's offline layout: kube/bin, kube/conf, kube/images, kube/shell/init.sh)`);
  return { path };
}

export async function installBundle(host: RemoteHost, bundle: Bundle, cluster: string, step: (text: string) => void): Promise<void> {
  if (await isMarked(host, cluster, "bundle")) return step("bundle installed before");
  const archive = `/var/lib/seal/${cluster}/bundle.tar${bundle.path.endsWith(".tar") ? "" : ".gz"}`;
  const dir = `/var/lib/seal/${cluster}/bundle`;
  step("upload bundle");
  await host.upload(bundle.path, archive, { mode: 0o600 });
  step("unpack bundle");
  await host.run(["sh", "-c", 'rm -rf "$2" && mkdir -p "$2" && tar -xf "$1" -C "$2" && test -f "$2/kube/shell/init.sh"', "seal-bundle", archive, dir]);
  step("kube/shell/init.sh");
  await host.run(["sh", "-c", 'cd "$1/kube/shell" && sh init.sh', "seal-bundle", dir], { timeoutMs: 20 * 60_000 });
  await mark(host, cluster, "bundle");
}
