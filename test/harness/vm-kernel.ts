// The Debian kernel cached by scripts/vm/fetch-kernel.sh, as described by .cache/vm/kernel.json.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, vmCacheDir } from './paths.ts';

export interface CachedKernel {
  /** e.g. linux-image-6.1.0-56-amd64 */
  package: string;
  /** Debian version of the package, e.g. 6.1.192-2 */
  version: string;
  /** `uname -r` in the guest, e.g. 6.1.0-56-amd64 */
  release: string;
  vmlinuz: string;
  /** Absolute path of lib/modules/RELEASE, depmod'ed. */
  modulesDir: string;
  /** The raw manifest text; part of the initramfs cache key. */
  manifestText: string;
}

export const KERNEL_FETCH_HINT =
  "run 'bash scripts/vm/fetch-kernel.sh' from the repository root (or the setup command 'bash scripts/setup.sh', which also installs " +
  'the Debian packages qemu-system-x86 busybox-static cpio kmod iproute2 ipvsadm)';

export class KernelNotCachedError extends Error {
  constructor(detail: string) {
    super(`the VM kernel is not cached (${detail}): ${KERNEL_FETCH_HINT}`);
    this.name = 'KernelNotCachedError';
  }
}

export function kernelManifestPath(): string {
  return path.join(vmCacheDir, 'kernel.json');
}

export function loadCachedKernel(): CachedKernel {
  const manifestPath = kernelManifestPath();
  if (!existsSync(manifestPath)) throw new KernelNotCachedError(`${manifestPath} is missing`);
  const manifestText = readFileSync(manifestPath, 'utf8');
  let manifest: unknown;
  try {
    manifest = JSON.parse(manifestText);
  } catch {
    throw new KernelNotCachedError(`${manifestPath} is not JSON`);
  }
  const field = (name: string): string => {
    const value = (manifest as Record<string, unknown> | null)?.[name];
    if (typeof value !== 'string' || value === '') throw new KernelNotCachedError(`${manifestPath} has no "${name}"`);
    return value;
  };
  const kernel: CachedKernel = {
    package: field('package'),
    version: field('version'),
    release: field('release'),
    vmlinuz: path.resolve(vmCacheDir, field('vmlinuz')),
    modulesDir: path.resolve(vmCacheDir, field('modules')),
    manifestText,
  };
  for (const file of [kernel.vmlinuz, path.join(kernel.modulesDir, 'modules.dep')]) {
    if (!existsSync(file)) throw new KernelNotCachedError(`${file} is missing`);
  }
  return kernel;
}
