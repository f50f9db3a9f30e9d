/**
 * The installer's SSH layer: validated targets, verified host keys, one reused connection per
 * host, commands as argv, atomic checked uploads, redacted logs, progress. See the README's
 * "SSH layer" section for the contract.
 */
export { HostPool, parseHostAddresses, valuesOrThrow, type HostPoolOptions, type HostResult, type ForEachOptions } from "./host-pool.ts";
export type { RemoteHost, RunOptions, CommandResult, FileOptions, UploadOptions } from "./remote-host.ts";
export { loadCredentials, type SshCredentials, type SshCredentialsInput } from "./credentials.ts";
export { clusterKnownHostsPath, parseHostKeyPin, KnownHostsStore, KNOWN_HOSTS_MODE, type HostKeyPolicy, type HostKeyPin, type HostKeyEvent } from "./host-key-store.ts";
export { fingerprintOf, parseKnownHosts, checkHostKey, type KnownHostsEntry, type HostKeyCheck } from "./known-hosts.ts";
export { SshError, RemoteCommandError, isSshError, type SshErrorKind } from "./errors.ts";
export { shellCommand, quoteShellArg, checkArgv, ArgvError } from "./shell-quote.ts";
export { parseSshTarget, checkRemotePath, checkSshUser, DEFAULT_SSH_PORT, type SshTarget } from "./targets.ts";
export { Redactor, REDACTED } from "./redact.ts";
export { createLogger, LOG_FORMATS, type SealLogger, type LogLevel, type LogFormat, type LogFields, type LoggerOptions } from "./logger.ts";
export { createProgressReporter, LogProgressReporter, LiveProgressReporter, type ProgressReporter, type PhaseProgress, type HostProgress, type ProgressOptions } from "./progress.ts";
export { DEFAULT_RETRY, type RetryPolicy, type SocketFactory } from "./connection.ts";
export { DEFAULT_SFTP_WRITE, type SftpWriteOptions } from "./sftp-write.ts";
