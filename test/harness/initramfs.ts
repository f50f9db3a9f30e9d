// Builds (once, cached in .cache/vm/) the initramfs of the kernel-suite VM: busybox-static as the
// shell, scripts/vm/init.sh as /init, and the modules needed before the host's root is mounted
// (virtio PCI, virtio serial ports, 9p, overlay, virtio-rng). Everything else is loaded later from
// the cached kernel tree by the host's own modprobe.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, closeSync, fsyncSync, renameSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { moduleLoadOrder, parseModuleIndex } from './kernel-modules.ts';
import type { CachedKernel } from './vm-kernel.ts';
import { vmCacheDir, vmScriptsDir } from './paths.ts';

export const BOOT_MODULES: readonly string[] = ['virtio_pci', 'virtio_console', 'virtio_rng', '9pnet_virtio', '9p', 'overlay'];

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];
// Bump when the initramfs layout changes in a way the inputs below do not capture.
const LAYOUT_VERSION = '1';

export function findStaticBusybox(): string {
  for (const candidate of BUSYBOX_CANDIDATES) {
    if (existsSync(candidate) && isStaticElf(readFileSync(candidate))) return candidate;
  }
  throw new Error("no statically linked busybox found (it is the VM's /init shell): install it with 'apt-get install -y busybox-static'");
}

/** True for an ELF executable without a program interpreter, i.e. one that runs without ld.so. */
export function isStaticElf(image: Buffer): boolean {
  if (image.length < 64 || image.readUInt32BE(0) !== 0x7f454c46 || image[4] !== 2 || image[5] !== 1) return false;
  const programHeaderOffset = Number(image.readBigUInt64LE(0x20));
  const entrySize = image.readUInt16LE(0x36);
  const count = image.readUInt16LE(0x38);
  for (let i = 0; i < count; i += 1) {
    const offset = programHeaderOffset + i * entrySize;
    if (offset + 4 > image.length) return false;
    const PT_INTERP = 3;
    if (image.readUInt32LE(offset) === PT_INTERP) return false;
  }
  return true;
}

/** Returns the path of an initramfs for this kernel, building it when its inputs changed. */
export async function ensureInitramfs(kernel: CachedKernel): Promise<string> {
  const busybox = findStaticBusybox();
  const initScript = readFileSync(path.join(vmScriptsDir, 'init.sh'));
  const index = parseModuleIndex(
    readFileSync(path.join(kernel.modulesDir, 'modules.dep'), 'utf8'),
    readFileSync(path.join(kernel.modulesDir, 'modules.builtin'), 'utf8'),
  );
  const modules = moduleLoadOrder(index, BOOT_MODULES);

  const key = createHash('sha256')
    .update(LAYOUT_VERSION)
    .update(kernel.manifestText)
    .update(initScript)
    .update(readFileSync(busybox))
    .update(modules.join('\n'))
    .digest('hex')
    .slice(0, 16);
  const target = path.join(vmCacheDir, `initramfs-${key}.cpio`);
  if (existsSync(target)) return target;

  mkdirSync(vmCacheDir, { recursive: true });
  const staging = mkdtempSync(path.join(vmCacheDir, '.initramfs-'));
  try {
    const tree = path.join(staging, 'tree');
    for (const dir of ['bin', 'modules']) mkdirSync(path.join(tree, dir), { recursive: true });
    copyFileSync(busybox, path.join(tree, 'bin', 'busybox'));
    chmodSync(path.join(tree, 'bin', 'busybox'), 0o755);
    writeFileSync(path.join(tree, 'init'), initScript, { mode: 0o755 });
    for (const modulePath of modules) copyFileSync(path.join(kernel.modulesDir, modulePath), path.join(tree, 'modules', path.basename(modulePath)));
    writeFileSync(path.join(tree, 'modules', 'order'), modules.map((modulePath) => `${path.basename(modulePath)}\n`).join(''));

    const temporary = path.join(staging, 'initramfs.cpio');
    await writeCpio(tree, temporary);
    renameSync(temporary, target);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  for (const stale of readdirSync(vmCacheDir)) {
    if (/^initramfs-[0-9a-f]{16}\.cpio$/.test(stale) && path.join(vmCacheDir, stale) !== target) {
      rmSync(path.join(vmCacheDir, stale), { force: true });
    }
  }
  return target;
}

function listTree(root: string, relative = '.'): string[] {
  const entries = [relative];
  for (const entry of readdirSync(path.join(root, relative), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const child = relative === '.' ? entry.name : `${relative}/${entry.name}`;
    if (entry.isDirectory()) entries.push(...listTree(root, child));
    else entries.push(child);
  }
  return entries;
}

/** newc cpio archive of `tree` (owned by root), written and fsynced at `output`. */
async function writeCpio(tree: string, output: string): Promise<void> {
  const fd = openSync(output, 'w', 0o644);
  try {
    await new Promise<void>((resolve, reject) => {
      const cpio = spawn('cpio', ['--create', '--format=newc', '--owner=0:0', '--quiet'], { cwd: tree, stdio: ['pipe', fd, 'pipe'] });
      let stderr = '';
      cpio.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      cpio.on('error', (error) => reject(new Error(`cannot run cpio (install it with 'apt-get install -y cpio'): ${error.message}`)));
      cpio.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`cpio failed with status ${code}: ${stderr.trim()}`))));
      cpio.stdin?.end(listTree(tree).join('\n') + '\n');
    });
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
