/**
 * `seal cert`, first half: read each master's current certificates over SSH and compute what
 * replaces them (src/pki does the signing). Nothing is written here, so any problem on any
 * master (a missing file, a certificate of another CA, no curl for the health check) stops the
 * command before the first change.
 */
import type { KeyAlgorithm } from "../cluster/spec.ts";
import { InputError } from "../errors.ts";
import { addAltNames } from "../pki/alt-names.ts";
import { API_SERVER_LEAF, kubeconfigPath, leafCertificatePath, leafKeyPath, MASTER_KUBECONFIGS, MASTER_LEAVES } from "../pki/master-credentials.ts";
import type { PkiDirContents, StoredAuthority } from "../pki/pki-dir.ts";
import type { AuthorityName } from "../pki/profiles.ts";
import { ReissueError, type AltNames } from "../pki/reissue.ts";
import { renewKubeconfig, renewLeaf } from "../pki/renew.ts";
import { PUBLIC_MODE, SECRET_MODE, type HostFile } from "../plan/files.ts";
import type { RemoteHost } from "../ssh/index.ts";

export type CertChange =
  | { readonly kind: "alt-names"; readonly altNames: AltNames }
  | { readonly kind: "renew"; readonly newKeyAlgorithm?: KeyAlgorithm };

/** The control-plane static pods (manifest base names) to restart after the files change. */
export const ALT_NAMES_RESTARTS = ["kube-apiserver"] as const;
export const RENEW_RESTARTS = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const;

export interface MasterUpdate {
  readonly address: string;
  /** New contents; keys before their certificates. Empty: the master already has it all. */
  readonly files: readonly HostFile[];
  readonly restarts: readonly string[];
  /** Lines for the user: what changes on this master. */
  readonly summary: readonly string[];
}

function authorityOf(pki: PkiDirContents, name: AuthorityName, pkiDir: string): StoredAuthority {
  const authority = pki.authorities[name];
  if (authority === undefined) throw new InputError(`${pkiDir}: ${name}.crt and ${name}.key are missing; seal cert signs with the cluster's CAs`);
  return authority;
}

async function readText(host: RemoteHost, path: string): Promise<string | undefined> {
  const data = await host.readFile(path);
  return data?.toString("utf8");
}

async function mustRead(host: RemoteHost, path: string): Promise<string> {
  const text = await readText(host, path);
  if (text === undefined) throw new InputError(`${host.address}: ${path} does not exist; is this a master of the cluster?`);
  return text;
}

/** What `change` makes of one master's files; throws InputError naming the master and file. */
export async function prepareMasterUpdate(
  host: RemoteHost,
  pki: PkiDirContents,
  pkiDir: string,
  change: CertChange,
  now: Date,
): Promise<MasterUpdate> {
  try {
    return change.kind === "alt-names" ? await prepareAltNames(host, pki, pkiDir, change.altNames) : await prepareRenew(host, pki, pkiDir, change, now);
  } catch (error) {
    if (error instanceof ReissueError) throw new InputError(`${host.address}: ${error.message}`);
    throw error;
  }
}

async function prepareAltNames(host: RemoteHost, pki: PkiDirContents, pkiDir: string, altNames: AltNames): Promise<MasterUpdate> {
  const path = leafCertificatePath(API_SERVER_LEAF);
  const result = await addAltNames(await mustRead(host, path), authorityOf(pki, "ca", pkiDir), altNames, path);
  if (result.certificatePem === undefined) {
    return { address: host.address, files: [], restarts: [], summary: [`${path} already has every name`] };
  }
  const added = [...result.added.dnsNames, ...result.added.ipAddresses].join(", ");
  return {
    address: host.address,
    files: [{ path, mode: PUBLIC_MODE, content: result.certificatePem }],
    restarts: ALT_NAMES_RESTARTS,
    summary: [`${path}: adds ${added}`],
  };
}

async function prepareRenew(
  host: RemoteHost,
  pki: PkiDirContents,
  pkiDir: string,
  change: { readonly newKeyAlgorithm?: KeyAlgorithm },
  now: Date,
): Promise<MasterUpdate> {
  const options = { now, ...(change.newKeyAlgorithm === undefined ? {} : { newKeyAlgorithm: change.newKeyAlgorithm }) };
  const files: HostFile[] = [];
  const summary: string[] = [];
  for (const leaf of MASTER_LEAVES) {
    const path = leafCertificatePath(leaf.baseName);
    const renewed = await renewLeaf(await mustRead(host, path), authorityOf(pki, leaf.authority, pkiDir), options, path);
    if (renewed.keyPem !== undefined) files.push({ path: leafKeyPath(leaf.baseName), mode: SECRET_MODE, content: renewed.keyPem });
    files.push({ path, mode: PUBLIC_MODE, content: renewed.certificatePem });
    summary.push(`${path}: until ${renewed.notAfter.toISOString()}${renewed.cappedByCa ? " (the CA's end)" : ""}`);
  }
  for (const fileName of MASTER_KUBECONFIGS) {
    const path = kubeconfigPath(fileName);
    const text = await readText(host, path);
    // super-admin.conf is on the init node only, and only from 1.29.
    if (text === undefined) continue;
    const renewed = await renewKubeconfig(text, authorityOf(pki, "ca", pkiDir), options, path);
    if (renewed.renewedUsers.length === 0) {
      summary.push(`${path}: no embedded client certificate (the kubelet rotates its own)`);
      continue;
    }
    files.push({ path, mode: SECRET_MODE, content: renewed.content });
    summary.push(`${path}: until ${renewed.notAfter?.toISOString() ?? "?"}`);
  }
  return { address: host.address, files, restarts: RENEW_RESTARTS, summary };
}
