/**
 * X.509 certificates as kubeadm makes them (pkiutil): CAs with keyCertSign and a subject key id;
 * leaves signed by a CA with the authority key id, the extended usages of their role and, for RSA
 * keys, keyEncipherment next to digitalSignature.
 */
import { randomBytes, webcrypto } from "node:crypto";
import * as x509 from "./x509.ts";
import type { KeyPair } from "./keys.ts";

// @peculiar/x509 types its provider as the DOM Crypto; node's webcrypto is that object.
type CryptoProvider = NonNullable<Parameters<typeof x509.X509CertificateGenerator.create>[1]>;
const crypto = webcrypto as unknown as CryptoProvider;

export interface Validity {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface Subject {
  readonly commonName: string;
  readonly organizations?: readonly string[];
}

export type ExtendedUsage = "serverAuth" | "clientAuth";

export interface LeafRequest {
  readonly subject: Subject;
  readonly usages: readonly ExtendedUsage[];
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly keys: KeyPair;
  readonly validity: Validity;
}

export interface Authority {
  readonly certificate: x509.X509Certificate;
  readonly keys: KeyPair;
}

/** Go's pkix.Name order: O before CN, so `openssl x509 -subject` reads like kubeadm's certs. */
function name(subject: Subject): x509.JsonName {
  const rdns: x509.JsonName = [];
  if (subject.organizations !== undefined && subject.organizations.length > 0) {
    rdns.push({ O: [...subject.organizations] });
  }
  rdns.push({ CN: [subject.commonName] });
  return rdns;
}

/** 128 random bits, positive (top bit clear) and never zero, as RFC 5280 asks. */
export function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString("hex");
}

function keyUsages(keys: KeyPair, ca: boolean): x509.KeyUsageFlags {
  let flags = x509.KeyUsageFlags.digitalSignature;
  if (keys.kind === "rsa") flags |= x509.KeyUsageFlags.keyEncipherment;
  if (ca) flags |= x509.KeyUsageFlags.keyCertSign;
  return flags;
}

export async function createAuthority(commonName: string, keys: KeyPair, validity: Validity): Promise<Authority> {
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: name({ commonName }),
      notBefore: validity.notBefore,
      notAfter: validity.notAfter,
      keys: { privateKey: keys.privateKey, publicKey: keys.publicKey },
      signingAlgorithm: keys.signingAlgorithm,
      extensions: [
        new x509.KeyUsagesExtension(keyUsages(keys, true), true),
        new x509.BasicConstraintsExtension(true, undefined, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certificate, keys };
}

export async function signLeaf(authority: Authority, request: LeafRequest): Promise<x509.X509Certificate> {
  const extensions: x509.Extension[] = [
    new x509.KeyUsagesExtension(keyUsages(request.keys, false), true),
    new x509.ExtendedKeyUsageExtension(
      request.usages.map((usage) => x509.ExtendedKeyUsage[usage]),
      false,
    ),
    new x509.BasicConstraintsExtension(false, undefined, true),
    await x509.AuthorityKeyIdentifierExtension.create(authority.certificate.publicKey, false, crypto),
  ];
  const altNames = [
    ...(request.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(request.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  if (altNames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(altNames, false));
  return x509.X509CertificateGenerator.create(
    {
      serialNumber: serialNumber(),
      subject: name(request.subject),
      issuer: authority.certificate.subjectName,
      notBefore: request.validity.notBefore,
      notAfter: request.validity.notAfter,
      publicKey: request.keys.publicKey,
      signingKey: authority.keys.privateKey,
      signingAlgorithm: authority.keys.signingAlgorithm,
      extensions,
    },
    crypto,
  );
}

export function certificatePem(certificate: x509.X509Certificate): string {
  return `${certificate.toString("pem")}\n`;
}
