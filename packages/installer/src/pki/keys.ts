/**
 * Key pairs for the cluster PKI. Keys are made and used through WebCrypto (what @peculiar/x509
 * signs with) and written in the PEM forms kubeadm writes itself: PKCS#1 "RSA PRIVATE KEY",
 * SEC1 "EC PRIVATE KEY", PKIX "PUBLIC KEY".
 */
import { createPrivateKey, createPublicKey, webcrypto, type KeyObject } from "node:crypto";
import type { KeyAlgorithm } from "../cluster/spec.ts";

export const subtle = webcrypto.subtle;
export type CryptoKey = webcrypto.CryptoKey;

export interface KeyPair {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  /** What certificates signed with this key declare as signature algorithm. */
  readonly signingAlgorithm: RsaHashedImportParams | EcdsaParams;
  readonly kind: "rsa" | "ec";
}

interface RsaHashedImportParams {
  name: "RSASSA-PKCS1-v1_5";
  hash: "SHA-256";
}
interface EcdsaParams {
  name: "ECDSA";
  hash: "SHA-256";
}

const RSA: RsaHashedImportParams = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
const ECDSA: EcdsaParams = { name: "ECDSA", hash: "SHA-256" };

export async function generateKeyPair(algorithm: KeyAlgorithm): Promise<KeyPair> {
  if (algorithm === "rsa-2048") {
    const keys = await subtle.generateKey(
      { ...RSA, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) },
      true,
      ["sign", "verify"],
    );
    return { privateKey: keys.privateKey, publicKey: keys.publicKey, signingAlgorithm: RSA, kind: "rsa" };
  }
  const keys = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  return { privateKey: keys.privateKey, publicKey: keys.publicKey, signingAlgorithm: ECDSA, kind: "ec" };
}

async function toKeyObject(keys: KeyPair): Promise<KeyObject> {
  const pkcs8 = Buffer.from(await subtle.exportKey("pkcs8", keys.privateKey));
  return createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
}

export async function privateKeyPem(keys: KeyPair): Promise<string> {
  const key = await toKeyObject(keys);
  return key.export({ format: "pem", type: keys.kind === "rsa" ? "pkcs1" : "sec1" }).toString();
}

export async function publicKeyPem(keys: KeyPair): Promise<string> {
  const spki = Buffer.from(await subtle.exportKey("spki", keys.publicKey));
  return createPublicKey({ key: spki, format: "der", type: "spki" }).export({ format: "pem", type: "spki" }).toString();
}

/** DER SubjectPublicKeyInfo, for comparing a key with a certificate. */
export async function publicKeySpki(keys: KeyPair): Promise<Buffer> {
  return Buffer.from(await subtle.exportKey("spki", keys.publicKey));
}

/**
 * Reads a PEM private key (PKCS#1, SEC1 or PKCS#8) as kubeadm or openssl wrote it. Only RSA of
 * 2048 bits or more and ECDSA P-256 are accepted: what kubeadm itself can use for its CAs.
 */
export async function importPrivateKeyPem(pem: string): Promise<KeyPair | { error: string }> {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch {
    return { error: "not a PEM private key (or an encrypted one)" };
  }
  const pkcs8 = key.export({ format: "der", type: "pkcs8" });
  const spki = createPublicKey(key).export({ format: "der", type: "spki" });
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === "rsa") {
    if ((details?.modulusLength ?? 0) < 2048) return { error: "RSA key shorter than 2048 bits" };
    return {
      privateKey: await subtle.importKey("pkcs8", pkcs8, RSA, true, ["sign"]),
      publicKey: await subtle.importKey("spki", spki, RSA, true, ["verify"]),
      signingAlgorithm: RSA,
      kind: "rsa",
    };
  }
  if (key.asymmetricKeyType === "ec" && details?.namedCurve === "prime256v1") {
    const params = { name: "ECDSA", namedCurve: "P-256" };
    return {
      privateKey: await subtle.importKey("pkcs8", pkcs8, params, true, ["sign"]),
      publicKey: await subtle.importKey("spki", spki, params, true, ["verify"]),
      signingAlgorithm: ECDSA,
      kind: "ec",
    };
  }
  return { error: `unsupported key type ${key.asymmetricKeyType ?? "unknown"} (use RSA >= 2048 or ECDSA P-256)` };
}
