/**
 * One SSH connection to one host: TCP connect (with retries for transient failures only), the
 * handshake with host key verification, authentication, then session channels on demand within
 * the host's session limit. Nothing here runs a command; it only opens channels.
 */
import { Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import ssh2, { type Client, type Algorithms, type AuthHandlerResult, type AuthMethodName, type ClientChannel, type SFTPWrapper } from "ssh2";
import type { SshCredentials } from "./credentials.ts";
import { SshError } from "./errors.ts";
import type { KnownHostsStore } from "./host-key-store.ts";
import { SessionSlots } from "./session-slots.ts";
import type { SshTarget } from "./targets.ts";

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: string | undefined;
}

/** A running command's channel, with what ssh2 reported about its end from the very start. */
export interface ExecChannel {
  readonly channel: ClientChannel;
  /** Resolves when the channel has closed (its session slot is free again). */
  readonly closed: Promise<void>;
  /** The exit status or signal, once the server sent it (before `closed` resolves, if ever). */
  exitStatus(): ExitStatus | undefined;
}

/** Makes the (unconnected) TCP socket for a target; tests create it inside a network namespace. */
export type SocketFactory = (target: SshTarget) => Socket;

export interface RetryPolicy {
  /** Connection attempts in all, the first included. */
  readonly attempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, initialDelayMs: 250, maxDelayMs: 4000 };

export interface ConnectionOptions {
  readonly target: SshTarget;
  readonly credentials: SshCredentials;
  readonly hostKeys: KnownHostsStore;
  readonly connectTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly keepaliveIntervalMs: number;
  readonly maxSessions: number;
  readonly retry: RetryPolicy;
  readonly createSocket: SocketFactory;
  readonly algorithms: Algorithms | undefined;
  readonly onRetry: (attempt: number, delayMs: number, cause: string) => void;
  readonly onWarning: (message: string) => void;
}

const HOST_KEY_ALGORITHMS_BY_TYPE: Record<string, string[]> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
};
const DEFAULT_HOST_KEY_ALGORITHMS = Object.values(HOST_KEY_ALGORITHMS_BY_TYPE).flat();

/** A failure before authentication that a new attempt may cure (sshd still starting, a reset). */
class TransientFailure extends Error {
  readonly final: SshError;
  constructor(final: SshError) {
    super(final.message);
    this.final = final;
  }
}

const TCP_ERRORS: Record<string, string> = {
  ECONNREFUSED: "connection refused (is sshd running and listening there?)",
  ECONNRESET: "connection reset",
  ETIMEDOUT: "connect timed out",
  EHOSTUNREACH: "no route to host (unreachable)",
  ENETUNREACH: "network unreachable",
  EADDRNOTAVAIL: "address not available",
};
const TRANSIENT_TCP = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT"]);

export class SshConnection {
  readonly target: SshTarget;
  readonly #client: Client;
  readonly #slots: SessionSlots;
  readonly #onWarning: (message: string) => void;
  #closed = false;
  readonly #refusalsAt = new Map<number, number>();
  #openChannels = 0;
  /** Channels closed so far; a close is ours to count once our CHANNEL_CLOSE has been sent. */
  #closes = 0;
  /** Closes sshd has certainly processed: it has answered a request we sent after them. */
  #closesAnswered = 0;
  /** Opens sent and not yet answered, by the order they were sent in. */
  readonly #opensInFlight = new Set<number>();
  #opensSent = 0;
  readonly #closedPromise: Promise<void>;

  private constructor(target: SshTarget, client: Client, maxSessions: number, onWarning: (message: string) => void) {
    this.target = target;
    this.#client = client;
    this.#slots = new SessionSlots(maxSessions);
    this.#onWarning = onWarning;
    this.#closedPromise = new Promise((resolve) => {
      client.once("close", () => {
        this.#closed = true;
        resolve();
      });
    });
    // Errors after the handshake (a reset, a keepalive timeout) surface as 'close' on the
    // connection and on every open channel; handshake() left a listener that keeps them from
    // being thrown.
  }

  static async open(options: ConnectionOptions): Promise<SshConnection> {
    const { retry } = options;
    for (let attempt = 1; ; attempt++) {
      try {
        const client = await connectOnce(options);
        return new SshConnection(options.target, client, options.maxSessions, options.onWarning);
      } catch (error) {
        if (!(error instanceof TransientFailure)) throw error;
        if (attempt >= retry.attempts) throw error.final;
        const base = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (attempt - 1));
        const delay = Math.round(base / 2 + Math.random() * (base / 2));
        options.onRetry(attempt, delay, error.final.message);
        await sleep(delay);
      }
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  get sessionLimit(): number {
    return this.#slots.limit;
  }

  /** Opens an exec channel for `command`; its session slot is freed when the channel closes. */
  exec(command: string): Promise<ExecChannel> {
    return this.#openSession<ClientChannel, ExecChannel>(
      (done) => this.#client.exec(command, {}, done),
      (channel, closed) => {
        // Attached in ssh2's own callback: the exit status and the close may already be in the
        // packets it is parsing, and would be emitted before an awaiting caller could listen.
        let exit: ExitStatus | undefined;
        channel.once("exit", (code: number | null, signal?: string) => {
          exit = { code, signal };
        });
        return { channel, closed, exitStatus: () => exit };
      },
    );
  }

  /** Opens an SFTP session; `end()` it when done, which frees its slot. */
  sftp(): Promise<SFTPWrapper> {
    return this.#openSession<SFTPWrapper, SFTPWrapper>((done) => this.#client.sftp(done), (sftp) => sftp);
  }

  async #openSession<T extends { once(event: "close", listener: () => void): unknown }, R>(
    open: (done: (error: Error | undefined, channel: T) => void) => void,
    prepare: (channel: T, closed: Promise<void>) => R,
  ): Promise<R> {
    for (let refusals = 0; ; ) {
      if (this.#closed) throw new SshError(this.target.label, "disconnected", "the connection is closed");
      await this.#slots.acquire();
      const closesAtSend = this.#closes;
      const closesUnanswered = closesAtSend - this.#closesAnswered;
      const sent = this.#opensSent++;
      this.#opensInFlight.add(sent);
      try {
        return await new Promise<R>((resolve, reject) => {
          try {
            open((error, opened) => {
              this.#opensInFlight.delete(sent);
              this.#closesAnswered = Math.max(this.#closesAnswered, closesAtSend);
              if (error !== undefined) return reject(error);
              this.#openChannels++;
              const closed = new Promise<void>((resolveClosed) =>
                opened.once("close", () => {
                  this.#openChannels--;
                  this.#closes++;
                  this.#slots.release();
                  resolveClosed();
                }),
              );
              resolve(prepare(opened, closed));
            });
          } catch (error) {
            this.#opensInFlight.delete(sent);
            reject(error as Error); // ssh2 throws synchronously when the socket is gone
          }
        });
      } catch (error) {
        this.#slots.release();
        if (this.#closed) throw new SshError(this.target.label, "disconnected", "the connection closed", { cause: error });
        if (isSessionRefused(error) && refusals < MAX_SESSION_REFUSALS) {
          refusals++;
          if (closesUnanswered === 0) this.#noteRefusal(this.#sessionsCountedAt(sent, closesAtSend));
          // Opening right after a close can reach sshd before it has freed the closed session:
          // a refusal is worth another try once some channel closes, or after a short wait.
          await this.#slots.nextRelease(Math.min(1000, 10 * 2 ** refusals));
          continue;
        }
        throw new SshError(this.target.label, "channel", `cannot open a session: ${(error as Error).message}`, { cause: error });
      }
    }
  }

  /**
   * How many sessions sshd counted when it refused the open we sent as number `sent`, given that
   * it had freed every channel closed before that (see #noteRefusal). sshd answers opens in the
   * order sent, so an earlier open still unanswered here was accepted (a refusal would have come
   * first; ssh2 reports an exec only after its request's reply too); channels that closed after
   * the send were still counted; later opens were not yet read.
   */
  #sessionsCountedAt(sent: number, closesAtSend: number): number {
    let acceptedBefore = 0;
    for (const other of this.#opensInFlight) if (other < sent) acceptedBefore++;
    return this.#openChannels + (this.#closes - closesAtSend) + acceptedBefore;
  }

  /**
   * sshd frees a closed session only in the main-loop pass after the one that read our
   * CHANNEL_CLOSE, so an open read in the same pass is refused although the limit is not
   * reached. A refusal is evidence of a lower MaxSessions only when every close before the open
   * had already been answered (sshd replied to a later request, so a later pass freed it); no
   * clock is involved, so neither a slow link nor a slow sshd on a loaded host can fake it.
   * Three such refusals at the same count, and the limit drops to it.
   */
  #noteRefusal(serverOpen: number): void {
    if (serverOpen === 0 || serverOpen >= this.#slots.limit) return;
    const count = (this.#refusalsAt.get(serverOpen) ?? 0) + 1;
    this.#refusalsAt.set(serverOpen, count);
    if (count < 3) return;
    this.#onWarning(`the server refused a session with ${serverOpen} open; using at most ${serverOpen} at once (sshd MaxSessions)`);
    this.#slots.lowerTo(serverOpen);
    this.#refusalsAt.clear();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#client.end();
    const timer = setTimeout(() => this.#client.destroy(), 2000);
    await this.#closedPromise;
    clearTimeout(timer);
  }

  /** Cuts the connection at once (tests use it to interrupt a transfer). */
  destroy(): void {
    this.#client.destroy();
  }
}

const MAX_SESSION_REFUSALS = 100;

function isSessionRefused(error: unknown): boolean {
  // sshd answers a session past MaxSessions with "open failed" (SSH_OPEN_CONNECT_FAILED in
  // OpenSSH 9; older versions used ADMINISTRATIVELY_PROHIBITED).
  const reason = (error as { reason?: unknown } | undefined)?.reason;
  return error instanceof Error && (reason === 1 || reason === 2) && /open failed/.test(error.message);
}

async function connectOnce(options: ConnectionOptions): Promise<Client> {
  // Read before connecting: between the connect and ssh2's listeners nothing may await I/O.
  const knownTypes = await options.hostKeys.knownKeyTypes(options.target);
  const socket = await tcpConnect(options);
  return handshake(socket, knownTypes, options);
}

function tcpConnect(options: ConnectionOptions): Promise<Socket> {
  const { target } = options;
  return new Promise((resolve, reject) => {
    const socket = options.createSocket(target);
    const fail = (code: string, cause: unknown) => {
      clearTimeout(timer);
      socket.destroy();
      const reason = TCP_ERRORS[code] ?? (cause instanceof Error ? cause.message : code);
      const error = new SshError(target.label, "unreachable", `cannot connect to port ${target.port}: ${reason}`, { cause });
      reject(TRANSIENT_TCP.has(code) ? new TransientFailure(error) : error);
    };
    const timer = setTimeout(() => fail("ETIMEDOUT", undefined), options.connectTimeoutMs);
    socket.once("error", (error: NodeJS.ErrnoException) => fail(error.code ?? "error", error));
    socket.connect({ host: target.host, port: target.port }, () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      socket.on("error", () => undefined); // ssh2 adds its own; this one only keeps an early error from throwing
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

function handshake(socket: Socket, knownTypes: readonly string[], options: ConnectionOptions): Promise<Client> {
  const { target, credentials } = options;
  const preferred = knownTypes.flatMap((type) => HOST_KEY_ALGORITHMS_BY_TYPE[type] ?? []);
  const serverHostKey = [...new Set([...preferred, ...DEFAULT_HOST_KEY_ALGORITHMS])];
  const auth = authPlan(credentials);

  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let hostKeyError: SshError | undefined;
    let settled = false;
    const settle = (error: Error | undefined) => {
      if (settled) return;
      settled = true;
      if (error === undefined) {
        resolve(client);
        return;
      }
      client.removeAllListeners("ready");
      client.on("error", () => undefined);
      client.destroy();
      reject(error);
    };

    client.once("ready", () => {
      client.removeAllListeners("error");
      // Until SshConnection takes over: an 'error' without a listener would throw.
      client.on("error", () => undefined);
      settle(undefined);
    });
    client.on("error", (error: Error & { level?: string; code?: string }) => {
      if (error.level === "agent") return; // ssh2 goes on with the next method
      if (hostKeyError !== undefined) return settle(hostKeyError);
      if (error.level === "client-authentication") {
        return settle(new SshError(target.label, "auth", auth.describeFailure(), { cause: error }));
      }
      const handshakeError = new SshError(target.label, "handshake", `SSH handshake failed: ${error.message}`, { cause: error });
      const transient = error.level === "client-timeout" || error.code === "ECONNRESET" || error.code === "EPIPE";
      settle(transient ? new TransientFailure(handshakeError) : handshakeError);
    });
    client.once("close", () => {
      if (hostKeyError !== undefined) return settle(hostKeyError);
      // sshd drops connections beyond MaxStartups before the banner: worth another try.
      settle(new TransientFailure(new SshError(target.label, "handshake", "the server closed the connection during the SSH handshake")));
    });

    client.connect({
      sock: socket,
      username: credentials.user,
      readyTimeout: options.handshakeTimeoutMs,
      keepaliveInterval: options.keepaliveIntervalMs,
      keepaliveCountMax: 3,
      algorithms: { ...options.algorithms, serverHostKey },
      hostVerifier: (key, verify) => {
        options.hostKeys.verify(target, key).then(
          () => verify(true),
          (error: unknown) => {
            hostKeyError = error instanceof SshError ? error : new SshError(target.label, "handshake", `host key check failed: ${String(error)}`);
            verify(false);
          },
        );
      },
      authHandler: auth.handler,
    });
  });
}

interface AuthPlan {
  readonly handler: (methodsLeft: AuthMethodName[] | null, partialSuccess: boolean | null, next: (result: AuthHandlerResult) => void) => void;
  describeFailure(): string;
}

/** Tries our methods in order, skipping those the server does not offer, and remembers what happened. */
function authPlan(credentials: SshCredentials): AuthPlan {
  const queue = [...credentials.methods];
  const tried: string[] = [];
  let offered: AuthMethodName[] | null = null;
  const username = credentials.user;
  return {
    handler(methodsLeft, _partial, next) {
      if (methodsLeft !== null) offered = methodsLeft;
      for (let method = queue.shift(); method !== undefined; method = queue.shift()) {
        if (methodsLeft !== null && !methodsLeft.includes(method)) continue;
        tried.push(method === "publickey" ? `publickey ${credentials.privateKey?.path ?? ""}`.trim() : method);
        switch (method) {
          case "publickey": {
            const key = credentials.privateKey;
            if (key === undefined) continue;
            return next({ type: "publickey", username, key: key.data, ...(key.passphrase === undefined ? {} : { passphrase: key.passphrase }) });
          }
          case "agent":
            if (credentials.agentSocket === undefined) continue;
            return next({ type: "agent", username, agent: credentials.agentSocket });
          case "password":
            if (credentials.password === undefined) continue;
            return next({ type: "password", username, password: credentials.password });
          case "keyboard-interactive": {
            const password = credentials.password;
            if (password === undefined) continue;
            return next({
              type: "keyboard-interactive",
              username,
              // Only a single hidden prompt is a password prompt; anything else gets no answer.
              prompt: (_name, _instructions, _lang, prompts, finish) => finish(prompts.length === 1 && prompts[0]?.echo === false ? [password] : []),
            });
          }
        }
      }
      next(false);
    },
    describeFailure() {
      const attempted = tried.length === 0 ? "none of our methods was offered" : `tried ${tried.join(", ")}`;
      const accepts = offered === null ? "" : `; the server accepts ${offered.join(", ")}`;
      return `authentication failed for user ${username} (${attempted}${accepts})`;
    },
  };
}
