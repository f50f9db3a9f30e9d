/**
 * Driving a rendered cluster onto private test hosts the way the installer's plan says (files,
 * /etc/hosts entries, then kubeadm), so the fakes are exercised with exactly what `seal render`
 * produces. A stand-in for the lifecycle's SSH steps, for the fakes' own tests only.
 */
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { setHostsEntries } from "../../src/hosts/hosts-file.ts";
import type { PlanFile, PlanHost, PlanHostsEntry } from "../../src/plan/plan.ts";
import { parseCallLog, CALL_LOG, type CallRecord } from "../fakes/contract.ts";
import type { PrivateHost } from "./private-host.ts";
import type { RunResult } from "./tools.ts";

export function placeFiles(host: PrivateHost, renderDir: string, files: readonly PlanFile[]): void {
  for (const file of files) {
    const target = host.path(file.path);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(join(renderDir, file.source), target);
    chmodSync(target, Number.parseInt(file.mode, 8));
  }
}

export function setHosts(host: PrivateHost, entries: readonly PlanHostsEntry[]): void {
  const path = host.path("/etc/hosts");
  const edited = setHostsEntries(readFileSync(path, "utf8"), entries.flatMap((entry) => entry.names.map((name) => ({ ip: entry.ip, name }))));
  writeFileSync(path, edited.text);
}

/** What the installer's node preparation will do: forwarding on, containerd running, kubelet enabled. */
export async function prepareNode(host: PrivateHost): Promise<void> {
  for (const argv of [
    ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"],
    ["systemctl", "enable", "--now", "containerd"],
    ["systemctl", "enable", "kubelet"],
  ]) {
    const result = await host.run(argv);
    if (result.code !== 0) throw new Error(`${host.hostname}: ${argv.join(" ")} exited ${result.code}: ${result.stderr}`);
  }
}

export async function kubeadm(host: PrivateHost, args: readonly string[]): Promise<RunResult> {
  return host.run(["kubeadm", ...args]);
}

export function kubeadmStep(plan: PlanHost): string[] {
  return [plan.kubeadm.command, "--config", plan.kubeadm.config];
}

export function calls(host: PrivateHost): CallRecord[] {
  try {
    return parseCallLog(readFileSync(host.path(CALL_LOG), "utf8"));
  } catch {
    return [];
  }
}

export function describeRun(result: RunResult): string {
  return `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
}
