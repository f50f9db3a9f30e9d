/**
 * OpenSSH's known_hosts format, read and written the way ssh(1) and ssh-keygen(1) do, so that
 * `ssh -o UserKnownHostsFile=~/.seal/NAME/known_hosts` and `ssh-keygen -F HOST -f ...` agree
 * with us. Pure: the file's I/O lives in host-key-store.ts.
 *
 * Line: `[@marker] patterns keytype base64-key [comment]`. Patterns are comma-separated names
 * (`host`, or `[host]:port` off port 22) with `*`/`?` wildcards and `!` negation, or one hashed
 * name `|1|base64(salt)|base64(HMAC-SHA1(salt, name))` (HashKnownHosts).
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export interface KnownHostsEntry {
  /** 1-based, for messages that send the user to the line (`ssh-keygen -R` fixes it). */
  readonly line: number;
  readonly marker: "cert-authority" | "revoked" | undefined;
  readonly hosts: string;
  readonly keyType: string;
  readonly key: Buffer;
}

export function parseKnownHosts(text: string): KnownHostsEntry[] {
  const entries: KnownHostsEntry[] = [];
  for (const [index, raw] of text.split("\n").entries()) {
    const fields = raw.trim().split(/[ \t]+/);
    if (fields[0] === undefined || fields[0] === "" || fields[0].startsWith("#")) continue;
    let marker: KnownHostsEntry["marker"];
    if (fields[0] === "@cert-authority" || fields[0] === "@revoked") marker = fields.shift()?.slice(1) as KnownHostsEntry["marker"];
    const [hosts, keyType, keyText] = fields;
    if (hosts === undefined || keyType === undefined || keyText === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(keyText)) continue;
    const key = Buffer.from(keyText, "base64");
    // A line whose blob names another type than its second field is corrupt: ssh ignores it too.
    if (keyTypeOf(key) !== keyType) continue;
    entries.push({ line: index + 1, marker, hosts, keyType, key });
  }
  return entries;
}

/** The key type inside an SSH public key blob (its first string), or undefined if malformed. */
export function keyTypeOf(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || blob.length < 4 + length) return undefined;
  return blob.subarray(4, 4 + length).toString("latin1");
}

/** `SHA256:...` exactly as `ssh-keygen -l` and ssh's first-contact prompt print it. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

export function formatKnownHostsLine(name: string, blob: Buffer): string {
  const type = keyTypeOf(blob);
  if (type === undefined) throw new Error("malformed host key blob");
  return `${name} ${type} ${blob.toString("base64")}`;
}

function globToRegExp(pattern: string): RegExp {
  const body = [...pattern].map((char) => (char === "*" ? ".*" : char === "?" ? "." : char.replace(/[.+^${}()|[\]\\]/g, "\\$&"))).join("");
  return new RegExp(`^${body}$`, "i");
}

function hashedNameMatches(hashed: string, name: string): boolean {
  const [, magic, saltText, hashText] = hashed.split("|");
  if (magic !== "1" || saltText === undefined || hashText === undefined) return false;
  const salt = Buffer.from(saltText, "base64");
  const expected = Buffer.from(hashText, "base64");
  const actual = createHmac("sha1", salt).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** Whether an entry's host field names `name` (OpenSSH's match_hostname: a negation vetoes). */
export function hostsFieldMatches(hosts: string, name: string): boolean {
  if (hosts.startsWith("|")) return hashedNameMatches(hosts, name);
  let matched = false;
  for (const pattern of hosts.split(",")) {
    const negated = pattern.startsWith("!");
    if (globToRegExp(negated ? pattern.slice(1) : pattern).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

export type HostKeyCheck =
  | { readonly status: "known" }
  | { readonly status: "unknown" }
  | { readonly status: "revoked"; readonly line: number }
  /** The host is known with other keys: a changed key, or a man in the middle. */
  | { readonly status: "changed"; readonly known: readonly { line: number; keyType: string; fingerprint: string }[] };

/**
 * Checks the key a server offered against the entries for `name`. Stricter than ssh in one
 * place on purpose: a host known with a key of another type is "changed", not "new".
 */
export function checkHostKey(entries: readonly KnownHostsEntry[], name: string, offered: Buffer): HostKeyCheck {
  const forHost = entries.filter((entry) => hostsFieldMatches(entry.hosts, name));
  const revoked = forHost.find((entry) => entry.marker === "revoked" && entry.key.equals(offered));
  if (revoked !== undefined) return { status: "revoked", line: revoked.line };
  const plain = forHost.filter((entry) => entry.marker === undefined);
  if (plain.some((entry) => entry.key.equals(offered))) return { status: "known" };
  if (plain.length === 0) return { status: "unknown" };
  return { status: "changed", known: plain.map((entry) => ({ line: entry.line, keyType: entry.keyType, fingerprint: fingerprintOf(entry.key) })) };
}

/** Key types already known for `name`, so the handshake can ask the server for one of those. */
export function knownKeyTypes(entries: readonly KnownHostsEntry[], name: string): string[] {
  return [...new Set(entries.filter((entry) => entry.marker === undefined && hostsFieldMatches(entry.hosts, name)).map((entry) => entry.keyType))];
}
