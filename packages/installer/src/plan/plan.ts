/**
 * plan.json: what each host receives and in which order, for the SSH layer to apply exactly as
 * `seal render` shows it (render is the dry run). Hosts are listed in the order they are
 * installed: master0 (kubeadm init), the other masters one at a time, then the workers.
 */
import type { DataplaneName } from "@lvscare/contracts/names";
import type { HostRole } from "../cluster/spec.ts";

export const PLAN_FORMAT_VERSION = 1;
export const PLAN_FILE_NAME = "plan.json";

export interface PlanFile {
  /** Absolute path on the host. */
  readonly path: string;
  /** Octal text, "0600". */
  readonly mode: string;
  /** Path of the content, relative to the render directory. */
  readonly source: string;
}

export interface PlanHostsEntry {
  readonly ip: string;
  readonly names: readonly string[];
}

export interface PlanStep {
  readonly files: readonly PlanFile[];
  /** Set in the host's /etc/hosts managed block (names not listed are left alone). */
  readonly hostsEntries: readonly PlanHostsEntry[];
}

export interface PlanHost extends PlanStep {
  readonly address: string;
  readonly hostname: string;
  readonly role: HostRole;
  readonly master0: boolean;
  /** Run after `files` and `hostsEntries` are in place. */
  readonly kubeadm: { readonly command: "init" | "join"; readonly config: string };
  /**
   * Workers only: the IPVS service to create before the join (`lvscare care --run-once` with
   * these), since the join's discovery goes through the VIP. `dataplane` is set when it is not
   * lvscare's default (ipvs): `--dataplane nftables` with kube-proxy in nftables mode.
   */
  readonly virtualServer?: { readonly address: string; readonly realServers: readonly string[]; readonly dataplane?: DataplaneName };
  /** Applied once kubeadm succeeded on this host. */
  readonly afterKubeadm: PlanStep;
}

export interface Plan {
  readonly formatVersion: number;
  readonly cluster: string;
  readonly kubernetesVersion: string;
  readonly controlPlaneEndpoint: string;
  readonly vip: string;
  readonly hosts: readonly PlanHost[];
}

export function planToJson(plan: Plan): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}
