/**
 * The persistent CA directory (--pki-dir, laid out like /etc/kubernetes/pki): CAs and the
 * service-account key found there are reused; nothing there is ever overwritten. Reading checks
 * everything (pairs complete, key matches certificate, CA flag, not expired) before any write.
 */
import { createPublicKey } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "../errors.ts";
import type { Authority } from "./certificates.ts";
import { importPrivateKeyPem, publicKeySpki, type KeyPair } from "./keys.ts";
import { AUTHORITIES, type AuthorityName } from "./profiles.ts";
import * as x509 from "./x509.ts";

export interface StoredAuthority extends Authority {
  readonly certificatePem: string;
  readonly keyPem: string;
}

export interface StoredServiceAccountKey {
  readonly keys: KeyPair;
  readonly privatePem: string;
  /** Undefined when only sa.key exists; the public half is then derived and added. */
  readonly publicPem: string | undefined;
}

export interface PkiDirContents {
  readonly authorities: Partial<Record<AuthorityName, StoredAuthority>>;
  readonly serviceAccount: StoredServiceAccountKey | undefined;
}

export const EMPTY_PKI_DIR: PkiDirContents = { authorities: {}, serviceAccount: undefined };

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new InputError(`--pki-dir: cannot read ${path}: ${(error as Error).message}`);
  }
}

export async function readPkiDir(dir: string, now: Date): Promise<PkiDirContents> {
  try {
    const info = await stat(dir);
    if (!info.isDirectory()) throw new InputError(`--pki-dir: ${dir} is not a directory`);
  } catch (error) {
    if (error instanceof InputError) throw error;
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return EMPTY_PKI_DIR;
    throw new InputError(`--pki-dir: ${dir}: ${(error as Error).message}`);
  }
  const authorities: Partial<Record<AuthorityName, StoredAuthority>> = {};
  for (const { name } of AUTHORITIES) {
    const stored = await readAuthority(dir, name, now);
    if (stored !== undefined) authorities[name] = stored;
  }
  return { authorities, serviceAccount: await readServiceAccountKey(dir) };
}

async function readAuthority(dir: string, name: AuthorityName, now: Date): Promise<StoredAuthority | undefined> {
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  const [certificatePem, keyPem] = await Promise.all([readOptional(certPath), readOptional(keyPath)]);
  if (certificatePem === undefined && keyPem === undefined) return undefined;
  if (certificatePem === undefined || keyPem === undefined) {
    const [present, missing] = certificatePem === undefined ? [keyPath, certPath] : [certPath, keyPath];
    throw new InputError(`--pki-dir: ${present} exists but ${missing} does not; a CA needs both to sign`);
  }
  let certificate: x509.X509Certificate;
  try {
    certificate = new x509.X509Certificate(certificatePem);
  } catch {
    throw new InputError(`--pki-dir: ${certPath} is not a PEM certificate`);
  }
  const constraints = certificate.getExtension(x509.BasicConstraintsExtension);
  if (constraints === null || !constraints.ca) {
    throw new InputError(`--pki-dir: ${certPath} is not a CA certificate (basicConstraints CA:TRUE missing)`);
  }
  if (certificate.notAfter.getTime() <= now.getTime()) {
    throw new InputError(`--pki-dir: ${certPath} expired on ${certificate.notAfter.toISOString()}`);
  }
  const keys = await importPrivateKeyPem(keyPem);
  if ("error" in keys) throw new InputError(`--pki-dir: ${keyPath}: ${keys.error}`);
  const keySpki = await publicKeySpki(keys);
  if (!keySpki.equals(Buffer.from(certificate.publicKey.rawData))) {
    throw new InputError(`--pki-dir: ${keyPath} is not the key of ${certPath}`);
  }
  return { certificate, keys, certificatePem, keyPem };
}

async function readServiceAccountKey(dir: string): Promise<StoredServiceAccountKey | undefined> {
  const keyPath = join(dir, "sa.key");
  const pubPath = join(dir, "sa.pub");
  const [privatePem, publicPem] = await Promise.all([readOptional(keyPath), readOptional(pubPath)]);
  if (privatePem === undefined) {
    if (publicPem !== undefined) throw new InputError(`--pki-dir: ${pubPath} exists but ${keyPath} does not`);
    return undefined;
  }
  const keys = await importPrivateKeyPem(privatePem);
  if ("error" in keys) throw new InputError(`--pki-dir: ${keyPath}: ${keys.error}`);
  if (publicPem !== undefined) {
    let spki: Buffer;
    try {
      spki = createPublicKey({ key: publicPem, format: "pem" }).export({ format: "der", type: "spki" });
    } catch {
      throw new InputError(`--pki-dir: ${pubPath} is not a PEM public key`);
    }
    if (!spki.equals(await publicKeySpki(keys))) throw new InputError(`--pki-dir: ${pubPath} does not match ${keyPath}`);
  }
  return { keys, privatePem, publicPem };
}
