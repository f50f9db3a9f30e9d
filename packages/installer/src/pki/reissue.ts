/**
 * Signs a new version of an existing leaf certificate with the CA that signed it: the same
 * subject (byte for byte), key usages, extended usages and other extensions, with only what the
 * caller changes (validity, extra SANs, the key). What `seal cert` builds on: kubeadm's own
 * `certs renew` rebuilds certificates from its defaults and loses the long validity (sealos#4312).
 */
import { webcrypto } from "node:crypto";
import { formatIp, parseIp } from "@lvscare/contracts/ip";
import { serialNumber, type Validity } from "./certificates.ts";
import type { StoredAuthority } from "./pki-dir.ts";
import * as x509 from "./x509.ts";

type CryptoProvider = NonNullable<Parameters<typeof x509.X509CertificateGenerator.create>[1]>;
const crypto = webcrypto as unknown as CryptoProvider;

/** A certificate that cannot be reissued with the given CA; the message names the problem. */
export class ReissueError extends Error {
  override readonly name = "ReissueError";
}

export interface AltNames {
  readonly dnsNames: readonly string[];
  /** Canonical IP text. */
  readonly ipAddresses: readonly string[];
}

export interface ReissueChanges {
  readonly validity?: Validity;
  /** The complete SAN list of the new certificate (none: the old one is kept). */
  readonly altNames?: AltNames;
  /** A new public key (the subject key identifier follows it); none: the certificate's own. */
  readonly publicKey?: webcrypto.CryptoKey;
}

export function parseCertificatePem(pem: string, label: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(pem);
  } catch {
    throw new ReissueError(`${label} is not a PEM certificate`);
  }
}

/** True when `authority` signed `certificate` (issuer name and signature both). */
export async function isSignedBy(certificate: x509.X509Certificate, authority: StoredAuthority): Promise<boolean> {
  if (certificate.issuer !== authority.certificate.subject) return false;
  return certificate.verify({ publicKey: authority.certificate.publicKey, signatureOnly: true }, crypto);
}

export function altNamesOf(certificate: x509.X509Certificate): AltNames {
  const extension = certificate.getExtension(x509.SubjectAlternativeNameExtension);
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const name of extension?.names.items ?? []) {
    if (name.type === "dns") dnsNames.push(name.value);
    if (name.type === "ip") {
      const ip = parseIp(name.value);
      ipAddresses.push(ip === undefined ? name.value : formatIp(ip));
    }
  }
  return { dnsNames, ipAddresses };
}

/**
 * The new certificate. Refuses (ReissueError) a certificate `authority` did not sign, a CA
 * certificate, and a validity that outlives the CA.
 */
export async function reissueCertificate(
  certificate: x509.X509Certificate,
  authority: StoredAuthority,
  changes: ReissueChanges,
  label: string,
): Promise<x509.X509Certificate> {
  if (!(await isSignedBy(certificate, authority))) {
    throw new ReissueError(`${label} was not signed by the CA ${authority.certificate.subject}`);
  }
  if (certificate.getExtension(x509.BasicConstraintsExtension)?.ca === true) {
    throw new ReissueError(`${label} is a CA certificate, not a leaf`);
  }
  const validity = changes.validity ?? { notBefore: certificate.notBefore, notAfter: certificate.notAfter };
  if (validity.notAfter > authority.certificate.notAfter) {
    throw new ReissueError(
      `${label} would end ${validity.notAfter.toISOString()}, after its CA (${authority.certificate.notAfter.toISOString()})`,
    );
  }
  const publicKey = changes.publicKey ?? certificate.publicKey;
  const extensions: x509.Extension[] = [];
  for (const extension of certificate.extensions) {
    if (extension instanceof x509.SubjectAlternativeNameExtension || extension instanceof x509.AuthorityKeyIdentifierExtension) {
      continue;
    }
    if (extension instanceof x509.SubjectKeyIdentifierExtension && changes.publicKey !== undefined) {
      extensions.push(await x509.SubjectKeyIdentifierExtension.create(publicKey, extension.critical, crypto));
      continue;
    }
    extensions.push(extension);
  }
  extensions.push(await x509.AuthorityKeyIdentifierExtension.create(authority.certificate.publicKey, false, crypto));
  const altNames = changes.altNames ?? altNamesOf(certificate);
  const names = [
    ...altNames.dnsNames.map((value) => ({ type: "dns" as const, value })),
    ...altNames.ipAddresses.map((value) => ({ type: "ip" as const, value })),
  ];
  const critical = certificate.getExtension(x509.SubjectAlternativeNameExtension)?.critical ?? false;
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, critical));
  return x509.X509CertificateGenerator.create(
    {
      serialNumber: serialNumber(),
      subject: certificate.subjectName,
      issuer: authority.certificate.subjectName,
      notBefore: validity.notBefore,
      notAfter: validity.notAfter,
      publicKey,
      signingKey: authority.keys.privateKey,
      signingAlgorithm: authority.keys.signingAlgorithm,
      extensions,
    },
    crypto,
  );
}
