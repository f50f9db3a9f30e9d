/**
 * Every certificate judgement the fakes make is openssl's, never the installer's code: chains
 * (`openssl verify`), key pairs (public keys derived from both sides), names, dates, the CA pin,
 * and the signing the stand-in API server does in the controller-manager's place.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export class OpensslError extends Error {}

function openssl(args: readonly string[], input?: string | Buffer): string {
  const result = spawnSync("openssl", [...args], { input: typeof input === "string" ? Buffer.from(input) : input, maxBuffer: 16 * 1024 * 1024 });
  if (result.error !== undefined) throw new OpensslError(`openssl could not run (install the Debian package openssl): ${result.error.message}`);
  if (result.status !== 0) throw new OpensslError(`${result.stderr.toString().trim() || result.stdout.toString().trim()}`);
  return result.stdout.toString();
}

/** Runs `fn` with PEM texts written to files in a private scratch directory, removed afterwards. */
export function withPemFiles<T>(pems: readonly (string | Buffer)[], fn: (paths: string[]) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "seal-fake-pem-"));
  try {
    const paths = pems.map((pem, index) => {
      const path = join(dir, `${index}.pem`);
      writeFileSync(path, pem, { mode: 0o600 });
      return path;
    });
    return fn(paths);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** undefined when `certPath` chains to `caPath`, else openssl's reason. */
export function chainError(caPath: string, certPath: string): string | undefined {
  const result = spawnSync("openssl", ["verify", "-CAfile", caPath, certPath], { encoding: "utf8" });
  if (result.error !== undefined) throw new OpensslError(`openssl could not run: ${result.error.message}`);
  if (result.status === 0 && result.stdout.trim() === `${certPath}: OK`) return undefined;
  const lines = `${result.stdout}\n${result.stderr}`.split("\n").filter((line) => line.trim() !== "");
  const reason = lines.find((line) => /^error \d+/.test(line)) ?? lines.at(-1) ?? "verification failed";
  return reason.replace(/^error \d+ at \d+ depth lookup: /, "");
}

export function certificatePublicKey(certPath: string): string {
  return openssl(["x509", "-in", certPath, "-noout", "-pubkey"]);
}

export function privateKeyPublicKey(keyPath: string): string {
  return openssl(["pkey", "-in", keyPath, "-pubout"]);
}

export function publicKeyFile(path: string): string {
  return openssl(["pkey", "-pubin", "-in", path, "-pubout"]);
}

export interface CertificateNames {
  readonly subject: string;
  readonly commonName: string;
  readonly organizations: string[];
  readonly dnsNames: string[];
  readonly ipAddresses: string[];
  readonly notAfter: Date;
  readonly isCA: boolean;
}

export function readCertificate(certPath: string): CertificateNames {
  const text = openssl(["x509", "-in", certPath, "-noout", "-subject", "-enddate", "-nameopt", "RFC2253", "-ext", "subjectAltName,basicConstraints"]);
  const subject = /^subject=(.*)$/m.exec(text)?.[1]?.trim() ?? "";
  const parts = subject.split(/,(?=[A-Z]+=)/);
  const sanLine = /X509v3 Subject Alternative Name:.*\n\s+(.*)/.exec(text)?.[1] ?? "";
  const sans = sanLine.split(", ").map((san) => san.trim()).filter((san) => san !== "");
  return {
    subject,
    commonName: parts.find((part) => part.startsWith("CN="))?.slice(3) ?? "",
    organizations: parts.filter((part) => part.startsWith("O=")).map((part) => part.slice(2)),
    dnsNames: sans.filter((san) => san.startsWith("DNS:")).map((san) => san.slice(4)),
    ipAddresses: sans.filter((san) => san.startsWith("IP Address:")).map((san) => canonicalIp(san.slice("IP Address:".length))),
    notAfter: new Date(/^notAfter=(.*)$/m.exec(text)?.[1] ?? ""),
    isCA: /CA:TRUE/.test(text),
  };
}

/** openssl prints IPv6 SANs expanded (`0:0:0:0:0:0:0:1`); WHATWG URL parsing compresses them. */
export function canonicalIp(text: string): string {
  const trimmed = text.trim();
  if (!trimmed.includes(":")) return trimmed;
  return new URL(`http://[${trimmed}]/`).hostname.slice(1, -1);
}

/** kubeadm's CA pin, computed by openssl: sha256 over the DER SubjectPublicKeyInfo. */
export function spkiPin(certPem: string | Buffer): string {
  const publicKeyPem = openssl(["x509", "-noout", "-pubkey"], certPem);
  const der = spawnSync("openssl", ["pkey", "-pubin", "-outform", "DER"], { input: publicKeyPem });
  if (der.status !== 0) throw new OpensslError(der.stderr.toString());
  const digest = openssl(["dgst", "-sha256", "-r"], der.stdout);
  return `sha256:${digest.split(" ")[0]}`;
}

export function certificatePemFromFile(path: string): string {
  return openssl(["x509", "-in", path]);
}

/** A P-256 key (SEC1 PEM), as the kubelet generates for its client certificate. */
export function generateEcKey(): string {
  return openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout"]);
}

export function certificateRequest(keyPem: string, subject: string): string {
  return withPemFiles([keyPem], ([keyPath]) => openssl(["req", "-new", "-key", keyPath ?? "", "-subj", subject]));
}

export interface CsrReading {
  readonly commonName: string;
  readonly organizations: string[];
}

/** Checks the request's self-signature and reads its subject. */
export function readCertificateRequest(csrPem: string): CsrReading {
  const text = withPemFiles([csrPem], ([path]) => openssl(["req", "-in", path ?? "", "-noout", "-verify", "-subject", "-nameopt", "RFC2253"]));
  const subject = /^subject=(.*)$/m.exec(text)?.[1]?.trim() ?? "";
  const parts = subject.split(/,(?=[A-Z]+=)/);
  return {
    commonName: parts.find((part) => part.startsWith("CN="))?.slice(3) ?? "",
    organizations: parts.filter((part) => part.startsWith("O=")).map((part) => part.slice(2)),
  };
}

/** Signs a client certificate request with the cluster CA, as the controller-manager's csrsigning does. */
export function signClientCertificate(csrPem: string, caCertPath: string, caKeyPath: string, validityHours: number): string {
  const extensions = [
    "[v3]",
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "extendedKeyUsage=clientAuth",
    "authorityKeyIdentifier=keyid",
    "",
  ].join("\n");
  const serial = `0x${Buffer.from(Array.from({ length: 16 }, () => Math.floor(Math.random() * 256))).toString("hex")}`;
  const days = Math.max(1, Math.floor(validityHours / 24));
  return withPemFiles([csrPem, extensions], ([csrPath, extPath]) =>
    openssl(["x509", "-req", "-in", csrPath ?? "", "-CA", caCertPath, "-CAkey", caKeyPath, "-set_serial", serial, "-days", String(days), "-extfile", extPath ?? "", "-extensions", "v3"]),
  );
}
