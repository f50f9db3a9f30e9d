/** kubeadm bootstrap tokens: `[a-z0-9]{6}.[a-z0-9]{16}`, the id public, the secret not. */
import { randomInt } from "node:crypto";

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
export const BOOTSTRAP_TOKEN_PATTERN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;

function randomString(length: number): string {
  return Array.from({ length }, () => ALPHABET[randomInt(ALPHABET.length)]).join("");
}

export function generateBootstrapToken(): string {
  return `${randomString(6)}.${randomString(16)}`;
}
