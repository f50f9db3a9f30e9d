/**
 * How we log in, checked before any connection: the user name, and a private key that is read
 * and decrypted here (a wrong passphrase is an InputError, not twenty failed logins).
 * Sealos's inputs: user (root), password, key file, key passphrase.
 */
import { access, readFile, stat } from "node:fs/promises";
import { constants } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import ssh2 from "ssh2";
import { InputError } from "../errors.ts";
import { checkSshUser } from "./targets.ts";

export interface SshCredentialsInput {
  /** Default root. */
  readonly user?: string;
  readonly password?: string;
  /** Path of a private key file (OpenSSH or PEM: ed25519, RSA, ECDSA). */
  readonly privateKeyPath?: string;
  readonly passphrase?: string;
  /**
   * ssh-agent socket. Undefined: `SSH_AUTH_SOCK` is used when neither a password nor a key is
   * given; null: never use an agent.
   */
  readonly agentSocket?: string | null;
  /** Password for `sudo -S` when the user is not root; default: `password`. */
  readonly sudoPassword?: string;
}

export interface SshCredentials {
  readonly user: string;
  readonly password: string | undefined;
  readonly privateKey: { readonly path: string; readonly data: Buffer; readonly passphrase: string | undefined } | undefined;
  readonly agentSocket: string | undefined;
  readonly sudoPassword: string | undefined;
  /** Auth methods in the order they are tried. */
  readonly methods: readonly ("publickey" | "agent" | "password" | "keyboard-interactive")[];
}

/** Keys ssh(1) tries when none is named; sealos only ever tried id_rsa. */
const DEFAULT_KEY_FILES = ["id_ed25519", "id_ecdsa", "id_rsa"];

export async function loadCredentials(input: SshCredentialsInput, environment: NodeJS.ProcessEnv = process.env): Promise<SshCredentials> {
  const user = checkSshUser(input.user ?? "root");
  if (input.password === "") throw new InputError("the SSH password is empty");
  const privateKey = await loadPrivateKey(input);
  let agentSocket: string | undefined;
  if (input.agentSocket !== null) {
    agentSocket = input.agentSocket ?? (input.password === undefined && privateKey === undefined ? environment["SSH_AUTH_SOCK"] : undefined);
  }
  if (agentSocket === "") agentSocket = undefined;
  if (agentSocket !== undefined) {
    const info = await stat(agentSocket).catch(() => undefined);
    if (info === undefined || !info.isSocket()) throw new InputError(`ssh-agent socket ${agentSocket} does not exist (SSH_AUTH_SOCK)`);
  }
  const fallbackKey = privateKey ?? (input.password === undefined && agentSocket === undefined ? await defaultPrivateKey() : undefined);
  const methods: SshCredentials["methods"][number][] = [];
  if (fallbackKey !== undefined) methods.push("publickey");
  if (agentSocket !== undefined) methods.push("agent");
  if (input.password !== undefined) methods.push("password", "keyboard-interactive");
  if (methods.length === 0) {
    throw new InputError("no SSH credentials: give a password, a private key (~/.ssh/id_ed25519, id_ecdsa and id_rsa were not found) or an ssh-agent (SSH_AUTH_SOCK)");
  }
  return { user, password: input.password, privateKey: fallbackKey, agentSocket, sudoPassword: input.sudoPassword ?? input.password, methods };
}

async function loadPrivateKey(input: SshCredentialsInput): Promise<SshCredentials["privateKey"]> {
  if (input.privateKeyPath === undefined) {
    if (input.passphrase !== undefined) throw new InputError("a key passphrase was given without a private key");
    return undefined;
  }
  const path = input.privateKeyPath;
  const data = await readFile(path).catch((error: NodeJS.ErrnoException) => {
    throw new InputError(`cannot read private key ${path}: ${error.code ?? error.message}`);
  });
  checkPrivateKey(path, data, input.passphrase);
  return { path, data, passphrase: input.passphrase };
}

function checkPrivateKey(path: string, data: Buffer, passphrase: string | undefined): void {
  const parsed = ssh2.utils.parseKey(data, passphrase);
  if (parsed instanceof Error) {
    const reason = /no passphrase/i.test(parsed.message)
      ? "it is encrypted and no passphrase was given"
      : /decrypt|bad passphrase|integrity/i.test(parsed.message)
        ? "wrong passphrase"
        : parsed.message;
    throw new InputError(`cannot use private key ${path}: ${reason}`);
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined || !key.isPrivateKey()) throw new InputError(`${path} is not a private key`);
}

async function defaultPrivateKey(): Promise<SshCredentials["privateKey"]> {
  for (const name of DEFAULT_KEY_FILES) {
    const path = join(homedir(), ".ssh", name);
    const readable = await access(path, constants.R_OK).then(() => true, () => false);
    if (!readable) continue;
    const data = await readFile(path);
    // An encrypted default key needs a passphrase we do not have: skip it as ssh would.
    if (ssh2.utils.parseKey(data) instanceof Error) continue;
    return { path, data, passphrase: undefined };
  }
  return undefined;
}

/** Every secret in the credentials, for the Redactor. */
export function credentialSecrets(credentials: SshCredentials): string[] {
  return [credentials.password, credentials.sudoPassword, credentials.privateKey?.passphrase, credentials.privateKey?.data.toString("utf8")].filter(
    (secret): secret is string => secret !== undefined,
  );
}
