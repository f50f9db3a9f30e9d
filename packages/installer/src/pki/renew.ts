/**
 * `seal cert --renew`, the pure part: every leaf certificate of a master signed again with the
 * same subject, extensions and SANs, for the same lifetime it had (99 years stay 99 years,
 * counted from now), with the same key unless a new one is asked for. Kubeconfigs get their
 * embedded client certificate renewed the same way; the rest of the file is kept as it was.
 */
import { parseYamlDocuments, toKubernetesYaml } from "@lvscare/contracts/yaml";
import type { KeyAlgorithm } from "../cluster/spec.ts";
import { certificatePem, type Validity } from "./certificates.ts";
import { BACKDATE_MS } from "./cluster-pki.ts";
import { generateKeyPair, privateKeyPem } from "./keys.ts";
import type { StoredAuthority } from "./pki-dir.ts";
import { parseCertificatePem, reissueCertificate, ReissueError } from "./reissue.ts";
import type * as x509 from "./x509.ts";

export interface RenewOptions {
  readonly now: Date;
  /** A fresh key of this type for each certificate; none keeps every key. */
  readonly newKeyAlgorithm?: KeyAlgorithm;
}

export interface RenewedLeaf {
  readonly certificatePem: string;
  /** Only when a new key was made: the private key to install beside the certificate. */
  readonly keyPem?: string;
  readonly notAfter: Date;
  /** Set when the CA ends before the old lifetime would: the renewed certificate ends with the CA. */
  readonly cappedByCa: boolean;
}

const wholeSeconds = (ms: number) => new Date(Math.floor(ms / 1000) * 1000);

/** The old lifetime again, from now (backdated as at render time), never past the CA's end. */
export function renewedValidity(certificate: x509.X509Certificate, authority: StoredAuthority, now: Date): { validity: Validity; cappedByCa: boolean } {
  const lifetime = certificate.notAfter.getTime() - certificate.notBefore.getTime();
  const notBefore = wholeSeconds(now.getTime() - BACKDATE_MS);
  const wanted = new Date(notBefore.getTime() + lifetime);
  const caEnd = authority.certificate.notAfter;
  return wanted > caEnd ? { validity: { notBefore, notAfter: caEnd }, cappedByCa: true } : { validity: { notBefore, notAfter: wanted }, cappedByCa: false };
}

export async function renewLeaf(pem: string, authority: StoredAuthority, options: RenewOptions, label: string): Promise<RenewedLeaf> {
  const certificate = parseCertificatePem(pem, label);
  const { validity, cappedByCa } = renewedValidity(certificate, authority, options.now);
  if (options.newKeyAlgorithm === undefined) {
    const renewed = await reissueCertificate(certificate, authority, { validity }, label);
    return { certificatePem: certificatePem(renewed), notAfter: renewed.notAfter, cappedByCa };
  }
  const keys = await generateKeyPair(options.newKeyAlgorithm);
  const renewed = await reissueCertificate(certificate, authority, { validity, publicKey: keys.publicKey }, label);
  return { certificatePem: certificatePem(renewed), keyPem: await privateKeyPem(keys), notAfter: renewed.notAfter, cappedByCa };
}

export interface RenewedKubeconfig {
  readonly content: string;
  /** Users whose certificate was renewed, by name. */
  readonly renewedUsers: readonly string[];
  readonly notAfter: Date | undefined;
  readonly cappedByCa: boolean;
}

interface KubeconfigUser {
  name?: unknown;
  user?: Record<string, unknown>;
}

/**
 * Renews every embedded client certificate (`client-certificate-data`). Users that point at a
 * file instead (the kubelet's rotated `kubelet-client-current.pem`) are left alone: the kubelet
 * renews those itself.
 */
export async function renewKubeconfig(text: string, authority: StoredAuthority, options: RenewOptions, label: string): Promise<RenewedKubeconfig> {
  const { values, errors } = parseYamlDocuments(text);
  const config = values[0];
  if (errors.length > 0 || values.length !== 1 || typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new ReissueError(`${label} is not a kubeconfig (${errors[0] ?? "expected one YAML mapping"})`);
  }
  const users = (config as { users?: unknown }).users;
  if (!Array.isArray(users)) throw new ReissueError(`${label} is not a kubeconfig (no users list)`);
  const renewedUsers: string[] = [];
  let notAfter: Date | undefined;
  let cappedByCa = false;
  for (const entry of users as KubeconfigUser[]) {
    const data = entry.user?.["client-certificate-data"];
    if (entry.user === undefined || typeof data !== "string") continue;
    const name = typeof entry.name === "string" ? entry.name : "?";
    const pem = Buffer.from(data, "base64").toString("utf8");
    const renewed = await renewLeaf(pem, authority, options, `${label} user ${name}`);
    entry.user["client-certificate-data"] = Buffer.from(renewed.certificatePem, "utf8").toString("base64");
    if (renewed.keyPem !== undefined) entry.user["client-key-data"] = Buffer.from(renewed.keyPem, "utf8").toString("base64");
    renewedUsers.push(name);
    notAfter = renewed.notAfter;
    cappedByCa ||= renewed.cappedByCa;
  }
  return { content: toKubernetesYaml(config), renewedUsers, notAfter, cappedByCa };
}
