/**
 * Everything the SSH layer is given that ends up on a wire or a remote command line (host, port,
 * user, remote paths) is checked here, before any connection: `$(reboot)` as a host is an
 * InputError, not a DNS lookup or a command.
 */
import { isDnsSubdomain } from "../cluster/names.ts";
import { InputError } from "../errors.ts";
import { formatIp, parseIp } from "@lvscare/contracts/ip";

export const DEFAULT_SSH_PORT = 22;

export interface SshTarget {
  /** The host as we connect to it: a canonical IP (no brackets) or a lower-case DNS name. */
  readonly host: string;
  readonly port: number;
  /** How logs and errors name it: `192.168.0.2`, `192.168.0.2:2222`, `[fd00::2]:2222`. */
  readonly label: string;
  /** OpenSSH's known_hosts name for it: `host` on port 22, `[host]:port` otherwise. */
  readonly knownHostsName: string;
}

export function checkPort(port: number, what = "SSH port"): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InputError(`${what} ${String(port)} is not a port (1-65535)`);
  return port;
}

function parsePort(text: string, whole: string): number {
  if (!/^[0-9]{1,5}$/.test(text)) throw new InputError(`invalid SSH host "${whole}": port "${text}" is not a number`);
  return checkPort(Number(text), `invalid SSH host "${whole}": port`);
}

function canonicalHost(text: string, whole: string): string {
  const ip = parseIp(text);
  if (ip !== undefined) return formatIp(ip);
  const name = text.toLowerCase();
  // A name must also not look like an option to ssh tools or resolvers.
  if (name.length > 0 && !name.startsWith("-") && isDnsSubdomain(name) && !/^[0-9.]+$/.test(name)) return name;
  throw new InputError(`invalid SSH host "${whole}": not an IP address or a DNS name`);
}

/**
 * Parses `HOST`, `HOST:PORT`, `IPV6`, `[IPV6]` or `[IPV6]:PORT` (sealos accepts `IP:PORT` in its
 * host lists). Throws an InputError naming the input for anything else.
 */
export function parseSshTarget(text: string, defaultPort = DEFAULT_SSH_PORT): SshTarget {
  if (typeof text !== "string" || text.length === 0 || text.length > 300) throw new InputError(`invalid SSH host ${JSON.stringify(text)}`);
  checkPort(defaultPort);
  let hostText = text;
  let port = defaultPort;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed !== null) {
    hostText = bracketed[1] ?? "";
    if (parseIp(hostText)?.family !== 6) throw new InputError(`invalid SSH host "${text}": only IPv6 addresses go in brackets`);
    if (bracketed[2] !== undefined) port = parsePort(bracketed[2], text);
  } else if (text.split(":").length === 2) {
    const [host = "", portText = ""] = text.split(":");
    hostText = host;
    port = parsePort(portText, text);
  }
  const host = canonicalHost(hostText, text);
  const isV6 = host.includes(":");
  const hostPort = isV6 ? `[${host}]:${port}` : `${host}:${port}`;
  return {
    host,
    port,
    label: port === DEFAULT_SSH_PORT ? host : hostPort,
    knownHostsName: port === DEFAULT_SSH_PORT ? host : `[${host}]:${port}`,
  };
}

/** Login names as useradd accepts them (and nothing a shell or sudo would read twice). */
export function checkSshUser(user: string): string {
  if (typeof user !== "string" || !/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(user)) {
    throw new InputError(`invalid SSH user ${JSON.stringify(user)}: letters, digits, '_', '.', '-', starting with a letter or '_'`);
  }
  return user;
}

/**
 * An absolute remote path without control characters or `..` components. Quoting would carry
 * them safely, but such a path is never what an installer means, and it would garble log lines.
 */
export function checkRemotePath(path: string): string {
  if (typeof path !== "string" || !path.startsWith("/") || path.length > 4096) {
    throw new InputError(`remote path ${JSON.stringify(path)} is not an absolute path`);
  }
  if (/[\x00-\x1f\x7f]/.test(path)) throw new InputError(`remote path ${JSON.stringify(path)} contains a control character`);
  if (path.split("/").some((part) => part === "..")) throw new InputError(`remote path ${JSON.stringify(path)} contains '..'`);
  if (path !== "/" && path.endsWith("/")) throw new InputError(`remote path ${JSON.stringify(path)} names a directory, not a file`);
  return path;
}

/** A file mode given as a number, 0 to 0o7777. */
export function checkMode(mode: number): number {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new InputError(`file mode ${String(mode)} is not between 0 and 07777`);
  return mode;
}

/** `user`, `user:group` or numeric ids, as chown takes them. */
export function checkOwner(owner: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})?$/.test(owner)) {
    throw new InputError(`invalid file owner ${JSON.stringify(owner)}: use USER or USER:GROUP`);
  }
  return owner;
}
