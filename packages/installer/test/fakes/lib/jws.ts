/**
 * The detached JWS (RFC 7515 appendix F) that kubeadm's bootstrap signer puts on cluster-info:
 * HS256 keyed with the token secret, protected header `{"alg":"HS256","kid":"<token id>"}`,
 * serialized as `header..signature`. Verification recomputes and compares, as kubeadm does.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

const base64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

export function detachedSignature(content: string, tokenId: string, tokenSecret: string): string {
  const header = base64url(JSON.stringify({ alg: "HS256", kid: tokenId }));
  const signature = createHmac("sha256", tokenSecret).update(`${header}.${base64url(content)}`).digest("base64url");
  return `${header}..${signature}`;
}

export function detachedSignatureIsValid(signature: string, content: string, tokenId: string, tokenSecret: string): boolean {
  const expected = Buffer.from(detachedSignature(content, tokenId, tokenSecret));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
