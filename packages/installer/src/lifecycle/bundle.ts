/**
 * `--bundle FILE`: sealos's classic offline package (`kube/bin/{kubeadm,kubelet,kubectl}`,
 * `kube/conf/`, `kube/images/images.tar`, `kube/shell/init.sh`), uploaded once per host (the
 * upload is checked by sha256 and skipped when the host has the same bytes), unpacked under
 * /var/lib/seal/<cluster>/bundle and its init script run there, once (a marker records it).
 */
import { existsSync, statSync } from "node:fs";
import { InputError } from "../errors.ts";
import type { RemoteHost } from "../ssh/remote-host.ts";
import { isMarked, mark } from "./remote-edits.ts";

export interface Bundle {
  readonly path: string;
}

export function checkBundle(path: string): Bundle {
  if (!existsSync(path) || !statSync(path).isFile()) throw new InputError(`--bundle ${path} is not a file`);
  if (!/\.(tar\.gz|tgz|tar)$/.test(path)) throw new InputError(`--bundle ${path}: expected a .tar.gz, .tgz or .tar (sealos's offline package)`);
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
