/**
 * `seal apply -f Clusterfile` (issue 9, section 1): the declarative form. The file (seal's or a
 * sealos v4 one) is compared with the stored cluster of the same name: no stored cluster is a
 * `seal run` of the file's hosts and settings; otherwise hosts only in the file are added
 * (first, so a replaced master never lowers the etcd quorum) and hosts only in the store are
 * deleted. A setting the file names with another value than the store is refused, naming it, as
 * is a stored setting left out of a file that has a SealConfig.
 */
import { readFileSync } from "node:fs";
import { InputError } from "../errors.ts";
import { parseYamlDocuments } from "@lvscare/contracts/yaml";
import { parseClusterfile, SEAL_CONFIG_KIND, type Clusterfile } from "../cluster-state/clusterfile.ts";
import { readClusterfile, stateDir } from "../cluster-state/state-dir.ts";
import type { ArtifactOptions } from "./artifacts.ts";
import { addHosts } from "./add-hosts.ts";
import { deleteHosts } from "./delete-hosts.ts";
import { membersOf, type Members } from "./membership.ts";
import { runCluster, type RunContext } from "./run-cluster.ts";

export interface ApplyRequest {
  readonly file: string;
  readonly port: number;
  readonly acceptHostKey: readonly string[];
  readonly sshInsecure: boolean;
  readonly artifacts: ArtifactOptions;
  readonly dryRun: boolean;
  readonly home?: string;
}

export interface MembershipDiff {
  readonly add: Members;
  readonly remove: Members;
}

export function membershipDiff(stored: Members, wanted: Members): MembershipDiff {
  const missing = (from: readonly string[], other: readonly string[]) => from.filter((ip) => !other.includes(ip));
  return { add: { masters: missing(wanted.masters, stored.masters), nodes: missing(wanted.nodes, stored.nodes) }, remove: { masters: missing(stored.masters, wanted.masters), nodes: missing(stored.nodes, wanted.nodes) } };
}

/**
 * The settings the file changes. A sealos Clusterfile has no SealConfig and keeps the stored
 * settings; a file with a SealConfig states them all, so a stored setting it leaves out is a
 * change too ("removed"): silently keeping it would make the file lie about the cluster.
 */
function settingsChanged(stored: Clusterfile, wanted: Clusterfile, declaresConfig: boolean): string[] {
  const { hostnames: _a, kubernetesVersion: storedVersion, ...storedRest } = stored.config;
  const { hostnames: _b, kubernetesVersion: wantedVersion, ...wantedRest } = wanted.config;
  const keys = [...new Set([...Object.keys(wantedRest), ...(declaresConfig ? Object.keys(storedRest) : [])])] as (keyof typeof storedRest)[];
  const changed: string[] = keys
    .filter((key) => JSON.stringify(storedRest[key]) !== JSON.stringify(wantedRest[key]))
    .map((key) => (wantedRest[key] === undefined ? `${key} (removed)` : key));
  if (wantedVersion !== undefined && wantedVersion !== storedVersion) changed.push("kubernetesVersion");
  return changed.sort();
}

function declaresSealConfig(text: string): boolean {
  return parseYamlDocuments(text).values.some((value) => typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === SEAL_CONFIG_KIND);
}

export async function applyClusterfile(request: ApplyRequest, context: RunContext): Promise<void> {
  let text: string;
  try {
    text = readFileSync(request.file, "utf8");
  } catch (error) {
    throw new InputError(`-f ${request.file}: ${(error as Error).message}`);
  }
  const wanted = parseClusterfile(text);
  const cluster = wanted.cluster.metadata.name;
  const wantedMembers = membersOf(wanted, request.port);
  const common = { cluster, port: wantedMembers.port, acceptHostKey: request.acceptHostKey, sshInsecure: request.sshInsecure, dryRun: request.dryRun, ...(request.home === undefined ? {} : { home: request.home }) };
  const stored = readClusterfile(stateDir(cluster, request.home).clusterfile);
  if (stored === undefined) {
    if (request.dryRun) context.print(`cluster "${cluster}" does not exist: seal apply runs seal run with the file's hosts and settings`);
    await runCluster({ ...common, cluster: { ...wanted.config, masters: wantedMembers.masters, nodes: wantedMembers.nodes, cluster }, artifacts: request.artifacts }, context);
    return;
  }
  const changed = settingsChanged(stored, wanted, declaresSealConfig(text));
  if (changed.length > 0) throw new InputError(`${request.file} changes ${changed.join(", ")} of cluster "${cluster}"; seal apply adds and deletes hosts only; nothing was changed`);
  const diff = membershipDiff(membersOf(stored, request.port), wantedMembers);
  if (diff.remove.masters.length > 0 && diff.remove.masters.length >= membersOf(stored, request.port).masters.length && diff.add.masters.length === 0) {
    throw new InputError(`${request.file} removes every master of cluster "${cluster}"; use seal reset; nothing was changed`);
  }
  const adding = diff.add.masters.length + diff.add.nodes.length > 0;
  const deleting = diff.remove.masters.length + diff.remove.nodes.length > 0;
  context.print(`seal apply ${cluster}: add masters [${diff.add.masters.join(", ")}] nodes [${diff.add.nodes.join(", ")}], delete masters [${diff.remove.masters.join(", ")}] nodes [${diff.remove.nodes.join(", ")}]`);
  if (!adding && !deleting) return;
  const wantedNames = (wanted.config.hostnames ?? []).filter((pair) => [...diff.add.masters, ...diff.add.nodes].includes(pair.slice(0, pair.indexOf("="))));
  if (adding) await addHosts({ ...common, hosts: diff.add, hostnames: wantedNames, artifacts: request.artifacts }, context);
  if (deleting) await deleteHosts({ ...common, hosts: diff.remove }, context);
}
