/**
 * Verifies the host keys servers offer against a cluster's known_hosts file
 * (`~/.seal/<cluster>/known_hosts`) and records first contacts there. Policy:
 * - a known key passes; a host known with other keys is refused ("changed") unless the caller
 *   passed the explicit insecure option, and even then nothing is written;
 * - on first contact, if fingerprints were pinned for the host (or for any host) the key must
 *   match one; otherwise it is recorded (trust on first use) or refused, as configured;
 * - a key marked @revoked is always refused.
 */
import { mkdir, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { InputError } from "../errors.ts";
import { editFileAtomically } from "../fs/edit-file.ts";
import { SshError } from "./errors.ts";
import { checkHostKey, fingerprintOf, formatKnownHostsLine, keyTypeOf, knownKeyTypes, parseKnownHosts, type KnownHostsEntry } from "./known-hosts.ts";
import { quoteShellArg } from "./shell-quote.ts";
import { parseSshTarget, type SshTarget } from "./targets.ts";

export const KNOWN_HOSTS_MODE = 0o600;

/** `~/.seal/<cluster>/known_hosts`. */
export function clusterKnownHostsPath(cluster: string, home = homedir()): string {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(cluster)) throw new InputError(`invalid cluster name ${JSON.stringify(cluster)}`);
  return join(home, ".seal", cluster, "known_hosts");
}

export interface HostKeyPin {
  /** The host it is for (as given to the pool), or undefined for "any host on first contact". */
  readonly host: string | undefined;
  readonly fingerprint: string;
}

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

/**
 * Parses `--accept-host-key` values: `SHA256:...` (any host) or `HOST=SHA256:...` (that host;
 * `HOST` as in the host lists, so `[fd00::2]:2222=SHA256:...` works).
 */
export function parseHostKeyPin(text: string): HostKeyPin {
  const separator = text.lastIndexOf("=SHA256:");
  const host = separator < 0 ? undefined : parseSshTarget(text.slice(0, separator)).label;
  const fingerprint = separator < 0 ? text : text.slice(separator + 1);
  if (!FINGERPRINT.test(fingerprint)) {
    throw new InputError(`--accept-host-key ${JSON.stringify(text)}: expected SHA256:<43 base64 characters> as ssh-keygen -lf prints it, optionally HOST= before it`);
  }
  return { host, fingerprint };
}

export interface HostKeyPolicy {
  readonly knownHostsPath: string;
  readonly pins?: readonly HostKeyPin[];
  /** First contact without a pin: record the key (default) or refuse the host. */
  readonly unknownHosts?: "record" | "refuse";
  /** Accept a key that differs from the known one (never recorded). Off unless asked for by name. */
  readonly insecureAcceptChangedKeys?: boolean;
}

export type HostKeyEvent =
  | { readonly kind: "recorded"; readonly target: SshTarget; readonly keyType: string; readonly fingerprint: string; readonly pinned: boolean; readonly path: string }
  | { readonly kind: "accepted-changed"; readonly target: SshTarget; readonly keyType: string; readonly fingerprint: string };

export class KnownHostsStore {
  readonly policy: HostKeyPolicy;
  readonly #onEvent: (event: HostKeyEvent) => void;
  #entries: KnownHostsEntry[] | undefined;
  // Records are serialised, so twenty first contacts at once append twenty lines, not one.
  #writes: Promise<unknown> = Promise.resolve();

  constructor(policy: HostKeyPolicy, onEvent: (event: HostKeyEvent) => void = () => undefined) {
    this.policy = policy;
    this.#onEvent = onEvent;
  }

  async #load(): Promise<KnownHostsEntry[]> {
    this.#entries ??= parseKnownHosts(await readFile(this.policy.knownHostsPath, "utf8").catch(ignoreMissing));
    return this.#entries;
  }

  /** Key types known for the target, most useful first in the handshake's host key algorithms. */
  async knownKeyTypes(target: SshTarget): Promise<string[]> {
    return knownKeyTypes(await this.#load(), target.knownHostsName);
  }

  /** Resolves if the key may be used for `target` (recording it on first contact), else rejects with an SshError. */
  async verify(target: SshTarget, offered: Buffer): Promise<void> {
    const keyType = keyTypeOf(offered) ?? "unknown";
    const fingerprint = fingerprintOf(offered);
    const check = checkHostKey(await this.#load(), target.knownHostsName, offered);
    const path = this.policy.knownHostsPath;
    switch (check.status) {
      case "known":
        return;
      case "revoked":
        throw new SshError(target.label, "host-key-revoked", `host key ${keyType} ${fingerprint} is marked @revoked in ${path}:${check.line}; refusing to connect`);
      case "changed": {
        if (this.policy.insecureAcceptChangedKeys === true) {
          this.#onEvent({ kind: "accepted-changed", target, keyType, fingerprint });
          return;
        }
        const known = check.known.map((entry) => `${entry.keyType} ${entry.fingerprint} (line ${entry.line})`).join(", ");
        throw new SshError(
          target.label,
          "host-key-changed",
          `HOST KEY CHANGED: the server offered ${keyType} ${fingerprint} but ${path} has ${known}. ` +
            `Someone may be intercepting the connection, or the host was reinstalled. If you know why it changed, ` +
            `remove the old key with: ssh-keygen -R ${quoteShellArg(target.knownHostsName)} -f ${quoteShellArg(path)}`,
        );
      }
      case "unknown": {
        const pins = (this.policy.pins ?? []).filter((pin) => pin.host === undefined || pin.host === target.label);
        const pinned = pins.length > 0;
        if (pinned && !pins.some((pin) => pin.fingerprint === fingerprint)) {
          throw new SshError(
            target.label,
            "host-key-unknown",
            `host key ${keyType} ${fingerprint} matches none of the fingerprints given with --accept-host-key (${pins.map((pin) => pin.fingerprint).join(", ")}); refusing to connect`,
          );
        }
        if (!pinned && this.policy.unknownHosts === "refuse") {
          throw new SshError(target.label, "host-key-unknown", `unknown host key ${keyType} ${fingerprint}, not in ${path}; refusing to connect (pin it with --accept-host-key ${target.label}=${fingerprint})`);
        }
        await this.#record(target, offered);
        this.#onEvent({ kind: "recorded", target, keyType, fingerprint, pinned, path });
        return;
      }
    }
  }

  async #record(target: SshTarget, key: Buffer): Promise<void> {
    const write = this.#writes.then(async () => {
      await mkdir(dirname(this.policy.knownHostsPath), { recursive: true, mode: 0o700 });
      const line = formatKnownHostsLine(target.knownHostsName, key);
      await editFileAtomically(
        this.policy.knownHostsPath,
        (text) => {
          // Re-read on every attempt: lines others appended since are kept, and a key someone
          // else recorded meanwhile is not added twice.
          if (checkHostKey(parseKnownHosts(text), target.knownHostsName, key).status === "known") return { text, changed: false };
          const separator = text === "" || text.endsWith("\n") ? "" : "\n";
          return { text: `${text}${separator}${line}\n`, changed: true };
        },
        KNOWN_HOSTS_MODE,
      );
      this.#entries = undefined;
    });
    this.#writes = write.catch(() => undefined);
    await write;
  }
}

function ignoreMissing(error: unknown): string {
  if ((error as NodeJS.ErrnoException).code === "ENOENT") return "";
  throw error;
}
