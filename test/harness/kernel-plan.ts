// Decides where the kernel suite runs: on this host (it has IPVS and we are root), in the qemu VM
// (kernel cached, qemu installed), or nowhere — then with a message saying exactly what to install.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { findStaticBusybox } from './initramfs.ts';
import { kernelTestsDir, repoRoot } from './paths.ts';
import { qemuMissingMessage } from './vm.ts';
import { loadCachedKernel } from './vm-kernel.ts';
import type { CachedKernel } from './vm-kernel.ts';

export const SKIP_ENV = 'LVSCARE_SKIP_KERNEL_TESTS';

export type KernelSuitePlan =
  | { kind: 'host'; files: string[]; fileTimeoutS: number }
  | { kind: 'vm'; files: string[]; fileTimeoutS: number; kernel: CachedKernel }
  | { kind: 'unavailable'; files: string[]; reason: string };

export const INSTALL_HINT =
  "run the setup command 'sudo bash scripts/setup.sh' from the repository root, or install the Debian packages " +
  "('apt-get install -y qemu-system-x86 busybox-static cpio kmod iproute2 ipvsadm') and fetch the kernel " +
  `('bash scripts/vm/fetch-kernel.sh'); set ${SKIP_ENV}=1 to skip the kernel suite knowingly`;

/** test/kernel/*.kernel.ts relative to the repository root, narrowed by LVSCARE_KERNEL_FILES (comma-separated substrings). */
export function kernelTestFiles(filter = process.env.LVSCARE_KERNEL_FILES): string[] {
  const all = existsSync(kernelTestsDir)
    ? readdirSync(kernelTestsDir)
        .filter((name) => name.endsWith('.kernel.ts'))
        .sort()
        .map((name) => path.relative(repoRoot, path.join(kernelTestsDir, name)))
    : [];
  const wanted = (filter ?? '').split(',').map((part) => part.trim()).filter(Boolean);
  return wanted.length === 0 ? all : all.filter((file) => wanted.some((part) => file.includes(part)));
}

function hostHasIpvs(): boolean {
  if (existsSync('/proc/net/ip_vs')) return true;
  // A modular kernel loads it on demand; this machine's kind of kernel has no module support at all.
  const probe = spawnSync('modprobe', ['ip_vs'], { stdio: 'ignore' });
  return probe.status === 0 && existsSync('/proc/net/ip_vs');
}

function fileTimeoutS(fallback: number): number {
  const text = process.env.LVSCARE_KERNEL_FILE_TIMEOUT_S;
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`LVSCARE_KERNEL_FILE_TIMEOUT_S must be a positive number of seconds, got ${JSON.stringify(text)}`);
  return value;
}

/** Why the VM cannot run here, or undefined when it can. */
export function vmProblem(): string | undefined {
  const qemu = qemuMissingMessage();
  if (qemu !== undefined) return qemu;
  try {
    findStaticBusybox();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  if (spawnSync('cpio', ['--version'], { stdio: 'ignore' }).status !== 0) return "cpio not found: install it with 'apt-get install -y cpio'";
  try {
    loadCachedKernel();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  return undefined;
}

export function planKernelSuite(): KernelSuitePlan {
  const files = kernelTestFiles();
  if (files.length === 0) {
    return { kind: 'unavailable', files, reason: `no kernel test file matches (test/kernel/*.kernel.ts, LVSCARE_KERNEL_FILES=${process.env.LVSCARE_KERNEL_FILES ?? ''})` };
  }
  const forced = process.env.LVSCARE_KERNEL_MODE;
  if (forced !== undefined && forced !== '' && forced !== 'host' && forced !== 'vm') {
    return { kind: 'unavailable', files, reason: `LVSCARE_KERNEL_MODE must be host or vm, got ${JSON.stringify(forced)}` };
  }
  const root = process.getuid?.() === 0;
  if (forced !== 'vm' && root && hostHasIpvs()) return { kind: 'host', files, fileTimeoutS: fileTimeoutS(300) };
  if (forced === 'host') {
    return { kind: 'unavailable', files, reason: root ? 'LVSCARE_KERNEL_MODE=host but this kernel has no IPVS (/proc/net/ip_vs is missing and modprobe ip_vs failed)' : 'LVSCARE_KERNEL_MODE=host needs root' };
  }
  const problem = vmProblem();
  if (problem === undefined) return { kind: 'vm', files, fileTimeoutS: fileTimeoutS(600), kernel: loadCachedKernel() };
  return {
    kind: 'unavailable',
    files,
    reason: `the kernel suite cannot run: this kernel has no IPVS${root ? '' : ' (or we are not root)'} and the IPVS VM is not ready: ${problem}.\nTo fix: ${INSTALL_HINT}`,
  };
}
