/**
 * Where a cluster's state lives on the workstation: `~/.seal/<cluster>/` (0700) with
 *   Clusterfile     what was asked and how far it got (status.phase, one condition per step and host)
 *   pki/            the CAs and sa.key (`seal render --pki-dir`), reused by every later run
 *   render/         the last rendered plan (plan.json + hosts/...), what each host received
 *   known_hosts     the hosts' SSH keys (the SSH layer's)
 *   lock            the running seal (lock.ts)
 * and, on every master, a copy of the Clusterfile without secrets at MASTER_CLUSTERFILE_PATH.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "@lvscare/contracts/atomic-write";
import { InputError } from "../errors.ts";
import { formatClusterfile, parseClusterfile, type Clusterfile } from "./clusterfile.ts";

/** The copy on every master: losing the workstation loses nothing (sealos#2589). */
export const MASTER_CLUSTERFILE_PATH = "/etc/seal/Clusterfile";

export interface StateDir {
  readonly cluster: string;
  readonly dir: string;
  readonly clusterfile: string;
  readonly pkiDir: string;
  readonly renderDir: string;
  readonly knownHosts: string;
  readonly lock: string;
}

export function checkClusterName(cluster: string): string {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(cluster)) throw new InputError(`invalid cluster name ${JSON.stringify(cluster)}: lowercase letters, digits and '-', at most 63`);
  return cluster;
}

export function stateDir(cluster: string, home = homedir()): StateDir {
  const dir = join(home, ".seal", checkClusterName(cluster));
  return { cluster, dir, clusterfile: join(dir, "Clusterfile"), pkiDir: join(dir, "pki"), renderDir: join(dir, "render"), knownHosts: join(dir, "known_hosts"), lock: join(dir, "lock") };
}

export function readClusterfile(path: string): Clusterfile | undefined {
  if (!existsSync(path)) return undefined;
  return parseClusterfile(readFileSync(path, "utf8"));
}

export function writeClusterfile(path: string, file: Clusterfile): void {
  writeFileAtomic(path, formatClusterfile(file), { mode: 0o600, parentMode: 0o700, writer: "seal" });
}
