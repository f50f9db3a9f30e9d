/** kubeadm's CA pin: `sha256:` and the hex SHA-256 of the CA certificate's SubjectPublicKeyInfo. */
import { createHash } from "node:crypto";
import * as x509 from "./x509.ts";

export function caCertHash(certificate: x509.X509Certificate): string {
  const spki = Buffer.from(certificate.publicKey.rawData);
  return `sha256:${createHash("sha256").update(spki).digest("hex")}`;
}
