/**
 * Node preparation (issue 9, section 3.2): kernel modules now and at boot, the sysctls kubeadm
 * needs, swap off persistently, containerd running and kubelet enabled. Every part checks before
 * it acts, and `seal reset` removes exactly the files named here.
 */
import type { RemoteHost } from "../ssh/remote-host.ts";

/** Without it upstream's VIP died after reboots (sealos#723). */
export const MODULES_LOAD_PATH = "/etc/modules-load.d/seal.conf";
export const SYSCTL_PATH = "/etc/sysctl.d/99-seal.conf";
export const KERNEL_MODULES = ["ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "nf_conntrack", "br_netfilter", "overlay"] as const;
export const SYSCTLS = { "net.ipv4.ip_forward": "1", "net.bridge.bridge-nf-call-iptables": "1", "net.bridge.bridge-nf-call-ip6tables": "1" } as const;

const HEADER = "# Written by seal (seal reset removes this file).\n";

export function modulesLoadFile(): string {
  return `${HEADER}${KERNEL_MODULES.join("\n")}\n`;
}

export function sysctlFile(): string {
  return `${HEADER}${Object.entries(SYSCTLS).map(([key, value]) => `${key} = ${value}`).join("\n")}\n`;
}

// Loads what the kernel can load; a kernel without module support (no /proc/modules) must have
// them built in, which is said, not failed on: ip_vs itself is checked on workers by preflight.
const LOAD_MODULES = `if [ -e /proc/modules ]; then modprobe -a "$@"; else echo "kernel without loadable module support: $* must be built in" >&2; fi`;
// Swap off now and in fstab (commented out, the user's line kept readable), only if there is any.
const SWAP_OFF = `set -e
if [ "$(tail -n +2 /proc/swaps | wc -l)" -gt 0 ]; then swapoff -a; fi
if [ -f /etc/fstab ] && grep -qE '^[^#].*[[:space:]]swap[[:space:]]' /etc/fstab; then
  sed -i.seal-bak -E 's|^([^#].*[[:space:]]swap[[:space:]].*)$|# seal: swap off for the kubelet: \\1|' /etc/fstab
fi`;

export async function prepareNode(host: RemoteHost, step: (text: string) => void): Promise<string[]> {
  const notes: string[] = [];
  step("kernel modules");
  await host.writeFileAtomic(MODULES_LOAD_PATH, modulesLoadFile(), { mode: 0o644 });
  const modules = await host.run(["sh", "-c", LOAD_MODULES, "seal-modules", ...KERNEL_MODULES]);
  if (modules.stderr.trim() !== "") notes.push(modules.stderr.trim());
  step("sysctls");
  await host.writeFileAtomic(SYSCTL_PATH, sysctlFile(), { mode: 0o644 });
  // -e: a key the kernel lacks (net.bridge.* before br_netfilter) is skipped, not fatal.
  await host.run(["sysctl", "-q", "-e", "-p", SYSCTL_PATH]);
  step("swap off");
  await host.run(["sh", "-c", SWAP_OFF]);
  step("containerd and kubelet");
  await host.run(["systemctl", "enable", "--now", "containerd"]);
  await host.run(["systemctl", "enable", "kubelet"]);
  return notes;
}
