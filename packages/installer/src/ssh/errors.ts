/**
 * One error type for everything that goes wrong with a host, with a `kind` a caller can branch
 * on (a preflight table shows "auth failed" and "unreachable" differently) and a message that
 * names the host and the cause in one line, already redacted.
 */

export type SshErrorKind =
  /** Nothing answered: no route, connection refused after retries, or the connect timed out. */
  | "unreachable"
  /** TCP worked but the SSH handshake did not (not an SSH server, dropped, timed out). */
  | "handshake"
  /** The server refused every authentication method we had. */
  | "auth"
  /** The host is known with another key: changed, or a man in the middle. */
  | "host-key-changed"
  /** First contact, and the policy (pins, or refusing unknown hosts) did not allow this key. */
  | "host-key-unknown"
  /** The offered key is marked @revoked in known_hosts. */
  | "host-key-revoked"
  /** The connection dropped while something was running on it. */
  | "disconnected"
  /** The command ran and exited with a status the caller did not allow. */
  | "command-failed"
  /** The command outlived its timeout and was killed on the host. */
  | "command-timeout"
  /** sudo refused: no sudo, not a sudoer, or the password was wrong. */
  | "sudo"
  /** A channel (session) could not be opened. */
  | "channel"
  /** An upload or a remote file operation failed (checksum mismatch, SFTP error). */
  | "transfer";

export class SshError extends Error {
  override readonly name = "SshError";
  readonly host: string;
  readonly kind: SshErrorKind;

  constructor(host: string, kind: SshErrorKind, message: string, options?: { cause?: unknown }) {
    super(`${host}: ${message}`, options);
    this.host = host;
    this.kind = kind;
  }
}

export function isSshError(error: unknown, kind?: SshErrorKind): error is SshError {
  return error instanceof SshError && (kind === undefined || error.kind === kind);
}

/** Result of a command that exited with a status the caller did not allow. */
export class RemoteCommandError extends SshError {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;

  constructor(host: string, message: string, result: { exitCode: number; stdout: string; stderr: string }) {
    super(host, "command-failed", message);
    this.exitCode = result.exitCode;
    this.stdout = result.stdout;
    this.stderr = result.stderr;
  }
}
