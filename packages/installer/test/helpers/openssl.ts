/** What openssl (the real one) reads from our certificates and keys. */
import { writeFile } from "node:fs/promises";
import { parseIp, formatIp } from "@lvscare/contracts/ip";
import { requireTool, run, runOk } from "./tools.ts";

export interface CertificateReading {
  /** RFC 2253 order, e.g. `CN=kubernetes-admin,O=kubeadm:cluster-admins`. */
  readonly subject: string;
  readonly issuer: string;
  /** ISO 8601, `2125-10-29 22:49:07Z`. */
  readonly notAfter: string;
  readonly notBefore: string;
  readonly keyUsage: string;
  readonly extendedKeyUsage: string;
  readonly basicConstraints: string;
  readonly dnsNames: string[];
  /** Canonical text (openssl prints IPv6 expanded). */
  readonly ipAddresses: string[];
}

export function openssl(): string {
  return requireTool("openssl");
}

function extension(text: string, name: string): string {
  const match = new RegExp(`${name}:(?: critical)?\\s*\\n\\s+(.*)`).exec(text);
  return match?.[1]?.trim() ?? "";
}

export async function readCertificate(path: string): Promise<CertificateReading> {
  const text = await runOk(openssl(), [
    "x509", "-in", path, "-noout", "-subject", "-issuer", "-startdate", "-enddate", "-dateopt", "iso_8601",
    "-nameopt", "RFC2253", "-ext", "subjectAltName,keyUsage,extendedKeyUsage,basicConstraints",
  ]);
  const line = (prefix: string) => new RegExp(`^${prefix}=(.*)$`, "m").exec(text)?.[1] ?? "";
  const sans = extension(text, "X509v3 Subject Alternative Name").split(", ").filter((san) => san !== "");
  return {
    subject: line("subject"),
    issuer: line("issuer"),
    notAfter: line("notAfter"),
    notBefore: line("notBefore"),
    keyUsage: extension(text, "X509v3 Key Usage"),
    extendedKeyUsage: extension(text, "X509v3 Extended Key Usage"),
    basicConstraints: extension(text, "X509v3 Basic Constraints"),
    dnsNames: sans.filter((san) => san.startsWith("DNS:")).map((san) => san.slice(4)),
    ipAddresses: sans
      .filter((san) => san.startsWith("IP Address:"))
      .map((san) => {
        const ip = parseIp(san.slice("IP Address:".length));
        return ip === undefined ? san : formatIp(ip);
      }),
  };
}

/** `openssl verify` of `leaf` against exactly one trusted CA file. */
export async function verify(caPath: string, leafPath: string): Promise<{ ok: boolean; output: string }> {
  const result = await run(openssl(), ["verify", "-x509_strict", "-CAfile", caPath, leafPath]);
  return { ok: result.code === 0 && result.stdout.trim() === `${leafPath}: OK`, output: result.stdout + result.stderr };
}

/** The public key (PEM) of a certificate, and of a private key, as openssl derives them. */
export async function certificatePublicKey(path: string): Promise<string> {
  return runOk(openssl(), ["x509", "-in", path, "-noout", "-pubkey"]);
}

export async function privateKeyPublicKey(path: string): Promise<string> {
  return runOk(openssl(), ["pkey", "-in", path, "-pubout"]);
}

export async function publicKeyFile(path: string): Promise<string> {
  return runOk(openssl(), ["pkey", "-pubin", "-in", path, "-pubout"]);
}

/** kubeadm's discovery pin computed the documented way: SHA-256 of the DER SubjectPublicKeyInfo. */
export async function spkiSha256(certificatePath: string, scratch: string): Promise<string> {
  const pem = await certificatePublicKey(certificatePath);
  await writeFile(scratch, pem);
  await runOk(openssl(), ["pkey", "-pubin", "-in", scratch, "-outform", "DER", "-out", `${scratch}.der`]);
  const digest = await runOk(openssl(), ["dgst", "-sha256", "-r", `${scratch}.der`]);
  return `sha256:${digest.split(" ")[0]}`;
}
