/**
 * Which hosts a cluster has after `seal add` / `seal delete` (pure): every address checked and
 * every rule applied before anything is contacted. Delete: the hosts must be members, the last
 * master never goes, and when master0 goes the first remaining master becomes master0. Add: an
 * address already in the cluster in the same role is a resumed add (accepted, its steps check
 * before they act); in the other role it is refused.
 */
import { InputError } from "../errors.ts";
import type { ClusterInput } from "../cluster/validate.ts";
import { clusterHosts, hostGroups, parseHostIp, type Clusterfile } from "../cluster-state/clusterfile.ts";
import { parseHostAddresses } from "../ssh/host-pool.ts";

export interface Members {
  /** Canonical addresses; masters[0] is master0. */
  readonly masters: readonly string[];
  readonly nodes: readonly string[];
}

export interface HostList {
  readonly masters: readonly string[];
  readonly nodes: readonly string[];
}

/** The cluster's members and its one SSH port (refused when the file mixes several). */
export function membersOf(file: Clusterfile, defaultPort: number): Members & { readonly port: number } {
  const { masters, nodes } = clusterHosts(file.cluster);
  const ports = new Set([...masters, ...nodes].map((host) => host.port ?? file.cluster.spec.ssh.port ?? defaultPort));
  if (ports.size > 1) throw new InputError(`the Clusterfile's hosts use several SSH ports (${[...ports].join(", ")}); seal needs one`);
  return { masters: masters.map((host) => host.ip), nodes: nodes.map((host) => host.ip), port: [...ports][0] ?? defaultPort };
}

/** Flag values as canonical addresses; `$(reboot)` and duplicates refused. */
export function canonicalHosts(list: HostList, port: number): HostList {
  parseHostAddresses([...list.masters, ...list.nodes], port);
  const canonical = (flag: string) => (text: string) => parseHostIp(text, flag).ip;
  const result = { masters: list.masters.map(canonical("--masters")), nodes: list.nodes.map(canonical("--nodes")) };
  const all = [...result.masters, ...result.nodes];
  const twice = all.find((ip, index) => all.indexOf(ip) !== index);
  if (twice !== undefined) throw new InputError(`host ${twice} is listed twice`);
  if (all.length === 0) throw new InputError("no hosts given: use --masters and/or --nodes");
  return result;
}

export function membersAfterDelete(members: Members, remove: HostList, cluster: string): Members {
  for (const ip of remove.masters) {
    if (!members.masters.includes(ip)) throw new InputError(`${ip} is not a master of cluster "${cluster}"${members.nodes.includes(ip) ? " (it is a worker: --nodes)" : ""}; nothing was changed`);
  }
  for (const ip of remove.nodes) {
    if (!members.nodes.includes(ip)) throw new InputError(`${ip} is not a worker of cluster "${cluster}"${members.masters.includes(ip) ? " (it is a master: --masters)" : ""}; nothing was changed`);
  }
  const masters = members.masters.filter((ip) => !remove.masters.includes(ip));
  if (masters.length === 0) throw new InputError(`refusing to delete every master of cluster "${cluster}" (the last one holds etcd); use seal reset to remove the cluster; nothing was changed`);
  return { masters, nodes: members.nodes.filter((ip) => !remove.nodes.includes(ip)) };
}

export function membersAfterAdd(members: Members, add: HostList, cluster: string): Members {
  for (const ip of add.masters) if (members.nodes.includes(ip)) throw new InputError(`${ip} is already a worker of cluster "${cluster}"; delete it first to make it a master; nothing was changed`);
  for (const ip of add.nodes) if (members.masters.includes(ip)) throw new InputError(`${ip} is already a master of cluster "${cluster}"; nothing was changed`);
  return {
    masters: [...members.masters, ...add.masters.filter((ip) => !members.masters.includes(ip))],
    nodes: [...members.nodes, ...add.nodes.filter((ip) => !members.nodes.includes(ip))],
  };
}

/** `IP=NAME` pairs for the hosts still there, plus new ones (a different name for a member is refused). */
export function hostnamesFor(stored: readonly string[], added: readonly string[], members: Members): string[] {
  const keep = new Set([...members.masters, ...members.nodes]);
  const byIp = new Map<string, string>();
  for (const pair of stored) {
    const at = pair.indexOf("=");
    byIp.set(pair.slice(0, at), pair.slice(at + 1));
  }
  for (const pair of added) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new InputError(`--hostnames ${JSON.stringify(pair)}: expected IP=NAME`);
    const ip = parseHostIp(pair.slice(0, at), "--hostnames").ip;
    const name = pair.slice(at + 1);
    const known = byIp.get(ip);
    if (known !== undefined && known !== name) throw new InputError(`--hostnames: ${ip} is already named ${known} in the cluster; nothing was changed`);
    byIp.set(ip, name);
  }
  return [...byIp].filter(([ip]) => keep.has(ip)).map(([ip, name]) => `${ip}=${name}`);
}

/** The stored Clusterfile with other members (status kept). */
export function withMembers(file: Clusterfile, members: Members, port: number, hostnames: readonly string[]): Clusterfile {
  const { hostnames: _old, ...config } = file.config;
  return {
    cluster: { ...file.cluster, spec: { ...file.cluster.spec, hosts: hostGroups(members.masters, members.nodes, port) } },
    config: hostnames.length > 0 ? { ...config, hostnames } : config,
  };
}

/**
 * The render input of a stored cluster with these members. An even number of masters is
 * accepted: it is where adding or removing one master at a time passes through.
 */
export function clusterInputOf(file: Clusterfile, members: Members): ClusterInput & { cluster: string; kubernetesVersion: string } {
  const config = file.config;
  if (config.kubernetesVersion === undefined) throw new InputError(`cluster "${file.cluster.metadata.name}" has no recorded Kubernetes version: its seal run did not get past preflight; run it again first`);
  return {
    ...config,
    kubernetesVersion: config.kubernetesVersion,
    masters: members.masters,
    nodes: members.nodes,
    cluster: file.cluster.metadata.name,
    allowEvenMasters: true,
  };
}
