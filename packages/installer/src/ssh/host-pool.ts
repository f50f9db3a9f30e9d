/**
 * The hosts of one seal command: one SSH connection per host, reused for all its commands, at
 * most `concurrency` hosts worked on at once, each within its session limit. Every address is
 * validated before the first connection, so `$(reboot)` as a host fails the whole command with
 * nothing contacted.
 */
import { createHash } from "node:crypto";
import { stat } from "node:fs/promises";
import { Socket } from "node:net";
import type { Algorithms } from "ssh2";
import { InputError } from "../errors.ts";
import { DEFAULT_RETRY, SshConnection, type RetryPolicy, type SocketFactory } from "./connection.ts";
import { credentialSecrets, type SshCredentials } from "./credentials.ts";
import { SshError } from "./errors.ts";
import { KnownHostsStore, type HostKeyEvent, type HostKeyPolicy } from "./host-key-store.ts";
import { createLogger, type LogLevel, type SealLogger } from "./logger.ts";
import { LogProgressReporter, type HostProgress, type ProgressReporter } from "./progress.ts";
import { Redactor } from "./redact.ts";
import { SshHost, type HostContext, type RemoteHost } from "./remote-host.ts";
import { DEFAULT_SFTP_WRITE, sha256OfFile, type SftpWriteOptions } from "./sftp-write.ts";
import { DEFAULT_SSH_PORT, checkPort, parseSshTarget, type SshTarget } from "./targets.ts";

export interface HostPoolOptions {
  readonly credentials: SshCredentials;
  readonly hostKeys: HostKeyPolicy;
  /** Port for addresses given without one; default 22. */
  readonly port?: number;
  /** Hosts connected to or worked on at once by connect() and forEach(); default 10. */
  readonly concurrency?: number;
  /** Session channels per host at once; default 10, sshd's default MaxSessions. */
  readonly maxSessionsPerHost?: number;
  /** Default 10 s per TCP connect attempt. */
  readonly connectTimeoutMs?: number;
  /** Default 20 s for the SSH handshake and authentication. */
  readonly handshakeTimeoutMs?: number;
  /** Default timeout of a command (it is killed on the host after it); default 10 min. */
  readonly commandTimeoutMs?: number;
  readonly retry?: RetryPolicy;
  /** Default: a plain TCP socket. */
  readonly createSocket?: SocketFactory;
  /** ssh2 algorithm lists (e.g. `{ cipher: ["aes128-gcm@openssh.com"] }`); default ssh2's. */
  readonly algorithms?: Algorithms;
  readonly sftpWrite?: Partial<SftpWriteOptions>;
  readonly keepaliveIntervalMs?: number;
  /** Default: plain lines on stderr at info level. */
  readonly logger?: SealLogger;
  /** Default: lines through the logger. */
  readonly progress?: ProgressReporter;
  /** More secrets to keep out of logs and errors (the credentials' are always included). */
  readonly secrets?: readonly string[];
}

export type HostResult<T> =
  | { readonly address: string; readonly ok: true; readonly value: T }
  | { readonly address: string; readonly ok: false; readonly error: Error };

export interface ForEachOptions {
  /** Hosts at once; default the pool's concurrency. */
  readonly concurrency?: number;
  /** Shown as a phase of the progress view (one line per host); no view without it. */
  readonly title?: string;
}

const NO_PROGRESS: HostProgress = { step: () => undefined, succeed: () => undefined, fail: () => undefined, skip: () => undefined };

/** Parses and validates every address; throws one InputError naming the first bad one, and refuses duplicates. */
export function parseHostAddresses(addresses: readonly string[], port = DEFAULT_SSH_PORT): SshTarget[] {
  checkPort(port);
  const targets = addresses.map((address) => parseSshTarget(address, port));
  const seen = new Set<string>();
  for (const target of targets) {
    if (seen.has(target.label)) throw new InputError(`host ${target.label} is listed twice`);
    seen.add(target.label);
  }
  return targets;
}

export class HostPool implements AsyncDisposable {
  readonly redactor: Redactor;
  readonly logger: SealLogger;
  readonly progress: ProgressReporter;
  readonly hostKeys: KnownHostsStore;
  readonly #options: HostPoolOptions;
  readonly #hosts = new Map<string, SshHost>();
  readonly #hashes = new Map<string, Promise<string>>();
  readonly #context: HostContext;
  readonly #concurrency: number;
  #closed = false;

  constructor(options: HostPoolOptions) {
    this.#options = options;
    this.#concurrency = positiveInteger(options.concurrency ?? 10, "concurrency");
    positiveInteger(options.maxSessionsPerHost ?? 10, "maxSessionsPerHost");
    checkPort(options.port ?? DEFAULT_SSH_PORT);
    this.redactor = options.logger?.redactor ?? new Redactor();
    for (const secret of [...credentialSecrets(options.credentials), ...(options.secrets ?? [])]) this.redactor.add(secret);
    this.logger = options.logger ?? createLogger({ redactor: this.redactor });
    this.progress = options.progress ?? new LogProgressReporter(this.logger);
    this.hostKeys = new KnownHostsStore(options.hostKeys, (event) => this.#hostKeyEvent(event));
    const createSocket = options.createSocket ?? (() => new Socket());
    const log = (level: LogLevel, host: string, message: string) => this.logger.log(level, this.redactor.redact(message), { host });
    this.#context = {
      credentials: options.credentials,
      redactor: this.redactor,
      commandTimeoutMs: options.commandTimeoutMs ?? 10 * 60_000,
      sftpWrite: { ...DEFAULT_SFTP_WRITE, ...options.sftpWrite },
      log,
      localSha256: (path) => this.#localSha256(path),
      openConnection: (target) =>
        SshConnection.open({
          target,
          credentials: options.credentials,
          hostKeys: this.hostKeys,
          connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
          handshakeTimeoutMs: options.handshakeTimeoutMs ?? 20_000,
          keepaliveIntervalMs: options.keepaliveIntervalMs ?? 15_000,
          maxSessions: options.maxSessionsPerHost ?? 10,
          retry: options.retry ?? DEFAULT_RETRY,
          createSocket,
          algorithms: options.algorithms,
          onRetry: (attempt, delayMs, cause) => log("info", target.label, `${cause}; retrying in ${delayMs} ms (attempt ${attempt + 1})`),
          onWarning: (message) => log("warn", target.label, message),
        }).catch((error: unknown) => {
          throw error instanceof Error ? this.redactor.redactError(error) : error;
        }),
    };
  }

  #hostKeyEvent(event: HostKeyEvent): void {
    if (event.kind === "recorded") {
      const how = event.pinned ? "matches --accept-host-key; recorded" : "first contact; recorded";
      this.logger.log("info", `host key ${event.keyType} ${event.fingerprint} (${how} in ${event.path})`, { host: event.target.label });
    } else {
      this.logger.log("warn", `HOST KEY CHANGED, accepted because of the insecure option: ${event.keyType} ${event.fingerprint} (not recorded)`, { host: event.target.label });
    }
  }

  /** A file uploaded to twenty hosts is hashed once (the cache key includes its size and mtime). */
  async #localSha256(path: string): Promise<string> {
    const info = await stat(path, { bigint: true });
    if (!info.isFile()) throw new InputError(`${path} is not a regular file`);
    const key = createHash("sha256").update(`${path}\0${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}`).digest("hex");
    let hash = this.#hashes.get(key);
    if (hash === undefined) {
      hash = sha256OfFile(path);
      this.#hashes.set(key, hash);
      hash.catch(() => this.#hashes.delete(key));
    }
    return hash;
  }

  /** The host for `address` (validated; the connection opens on first use). Same address, same host. */
  host(address: string): RemoteHost {
    if (this.#closed) throw new Error("the host pool is closed");
    const [target] = parseHostAddresses([address], this.#options.port);
    if (target === undefined) throw new InputError(`invalid SSH host ${JSON.stringify(address)}`);
    let host = this.#hosts.get(target.label);
    if (host === undefined) {
      host = new SshHost(target, this.#context);
      this.#hosts.set(target.label, host);
    }
    return host;
  }

  /** Connects to every host (all validated first), `concurrency` at a time; one result per host, in order. */
  async connect(addresses: readonly string[]): Promise<HostResult<void>[]> {
    return this.forEach(addresses, (host) => host.connect());
  }

  /**
   * Runs `fn` for every host, at most `concurrency` at once, and waits for all: a failing host
   * does not stop the others. Addresses are all validated before anything starts.
   */
  async forEach<T>(addresses: readonly string[], fn: (host: RemoteHost, progress: HostProgress) => Promise<T>, options: ForEachOptions = {}): Promise<HostResult<T>[]> {
    const targets = parseHostAddresses(addresses, this.#options.port);
    const hosts = targets.map((target) => this.host(target.label));
    const concurrency = positiveInteger(options.concurrency ?? this.#concurrency, "concurrency");
    const phase = options.title === undefined ? undefined : this.progress.phase(options.title, hosts.map((host) => host.address));
    const results = new Array<HostResult<T>>(hosts.length);
    let next = 0;
    const worker = async () => {
      for (let index = next++; index < hosts.length; index = next++) {
        const host = hosts[index] as RemoteHost;
        const progress = phase?.host(host.address) ?? NO_PROGRESS;
        try {
          const value = await fn(host, progress);
          progress.succeed();
          results[index] = { address: host.address, ok: true, value };
        } catch (error) {
          const failure = error instanceof Error ? this.redactor.redactError(error) : new Error(this.redactor.redact(String(error)));
          progress.fail(failure instanceof SshError ? failure.message.slice(host.address.length + 2) : failure.message);
          results[index] = { address: host.address, ok: false, error: failure };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, hosts.length) }, worker));
    await phase?.end();
    return results;
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#hosts.values()].map((host) => host.close()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Throws one error listing every failed host (one line each), or returns the values in order. */
export function valuesOrThrow<T>(results: readonly HostResult<T>[], what: string): T[] {
  const failed = results.filter((result): result is Extract<HostResult<T>, { ok: false }> => !result.ok);
  if (failed.length > 0) {
    const lines = failed.map((result) => `  ${result.error.message}`);
    throw new AggregateError(
      failed.map((result) => result.error),
      `${what} failed on ${failed.length} of ${results.length} host${results.length === 1 ? "" : "s"}:\n${lines.join("\n")}`,
    );
  }
  return results.map((result) => (result as Extract<HostResult<T>, { ok: true }>).value);
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new InputError(`${name} must be a positive integer, got ${value}`);
  return value;
}
