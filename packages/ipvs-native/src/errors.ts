import { getSystemErrorMessage } from 'node:util';
import { ERRNO, errnoName } from './kernel-constants.ts';

/**
 * Where an error came from, so callers can tell "the kernel refused" from "we refused before
 * sending anything" without parsing messages.
 * - `kernel`: the kernel answered NLMSG_ERROR (errno is what it returned).
 * - `syscall`: a libc call (socket, bind, setns, recv...) failed.
 * - `invalid-input`: validation rejected the arguments; nothing was sent.
 * - `malformed-message`: a netlink message could not be decoded.
 * - `ipvs-unavailable`: the running kernel has no IPVS (generic netlink family "IPVS" missing).
 */
export type IpvsErrorKind = 'kernel' | 'syscall' | 'invalid-input' | 'malformed-message' | 'ipvs-unavailable';

/** Details the kernel attaches to an error when extended ACKs are enabled (NETLINK_EXT_ACK). */
export interface ExtendedAck {
  message?: string;
  /** Byte offset of the offending attribute from the start of our request. */
  offset?: number;
  missingType?: number;
  missingNestOffset?: number;
}

export interface IpvsErrorInit {
  kind: IpvsErrorKind;
  errno: number;
  command: string;
  message: string;
  extAck?: ExtendedAck;
  cause?: unknown;
}

/** The C library's description of an errno ("file already exists"). */
export function errnoText(errno: number): string {
  try {
    return getSystemErrorMessage(-errno);
  } catch {
    return `error ${errno}`;
  }
}

/**
 * The one error type this package throws: for IPVS commands, rtnetlink commands, libc calls,
 * rejected input and undecodable messages alike.
 */
export class IpvsError extends Error {
  readonly kind: IpvsErrorKind;
  /** Positive errno value (EEXIST = 17). */
  readonly errno: number;
  /** Symbolic errno name, e.g. "EEXIST". */
  readonly code: string;
  /** The netlink command or libc call that failed, e.g. "IPVS_CMD_NEW_SERVICE", "RTM_NEWROUTE", "setns". */
  readonly command: string;
  readonly extAck: ExtendedAck | undefined;

  constructor(init: IpvsErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'IpvsError';
    this.kind = init.kind;
    this.errno = init.errno;
    this.code = errnoName(init.errno);
    this.command = init.command;
    this.extAck = init.extAck;
  }
}

/** True when `err` is an IpvsError with the given errno name (e.g. "EEXIST"). */
export function isIpvsError(err: unknown, code?: string): err is IpvsError {
  return err instanceof IpvsError && (code === undefined || err.code === code);
}

/**
 * Runs `fn`; the kernel answering with errno `code` (its way of saying "no such object":
 * ESRCH for a service, ENODEV for a link, ENOENT for a genl family) becomes undefined.
 */
export function absentOn<T>(code: string, fn: () => T | undefined): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (isIpvsError(err, code) && err.kind === 'kernel') return undefined;
    throw err;
  }
}

/** Argument validation failure: thrown before anything is sent to the kernel. */
export function invalidInput(command: string, message: string): IpvsError {
  return new IpvsError({ kind: 'invalid-input', errno: ERRNO.EINVAL, command, message: `${command}: ${message}` });
}

/** A message that does not follow the netlink/IPVS layout. */
export function malformed(context: string, message: string): IpvsError {
  return new IpvsError({
    kind: 'malformed-message',
    errno: ERRNO.EBADMSG,
    command: context,
    message: `malformed netlink message (${context}): ${message}`,
  });
}

/** A failed libc call; `errno` is the value koffi captured right after the call. */
export function syscallError(call: string, errno: number, detail?: string): IpvsError {
  const code = errnoName(errno);
  const suffix = detail === undefined ? '' : ` (${detail})`;
  return new IpvsError({ kind: 'syscall', errno, command: call, message: `${call} failed: ${errnoText(errno)} [${code}]${suffix}` });
}

// ipvsadm's wording (libipvs ipvs_strerror), keyed by command then errno name; "*" applies to all
// commands. Users know these sentences from ipvsadm, so we reuse them verbatim.
const ipvsadmMessages: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  IPVS_CMD_NEW_SERVICE: { EEXIST: 'Service already exists', ENOENT: 'Scheduler or persistence engine not found' },
  IPVS_CMD_SET_SERVICE: { ESRCH: 'No such service', ENOENT: 'Scheduler or persistence engine not found' },
  IPVS_CMD_DEL_SERVICE: { ESRCH: 'No such service' },
  IPVS_CMD_GET_SERVICE: { ESRCH: 'No such service' },
  IPVS_CMD_ZERO: { ESRCH: 'No such service' },
  IPVS_CMD_NEW_DEST: { ESRCH: 'Service not defined', EEXIST: 'Destination already exists' },
  IPVS_CMD_SET_DEST: { ESRCH: 'Service not defined', ENOENT: 'No such destination' },
  IPVS_CMD_DEL_DEST: { ESRCH: 'Service not defined', ENOENT: 'No such destination' },
  '*': {
    EPERM: 'Permission denied (you must be root)',
    EINVAL: 'Invalid operation.  Possibly wrong module version, address not unicast, ...',
    ENOPROTOOPT: 'Protocol not available',
    ENOMEM: 'Memory allocation problem',
    EOPNOTSUPP: 'Operation not supported with IPv6',
    EAFNOSUPPORT: 'Operation not supported with specified address family',
    EMSGSIZE: 'Module is wrong version',
    ERANGE: 'Numerical result out of range (weight or threshold)',
  },
};

/** Human text for a kernel errno on an IPVS command, in ipvsadm's words where it has some. */
export function ipvsErrorText(command: string, errno: number): string {
  const code = errnoName(errno);
  return ipvsadmMessages[command]?.[code] ?? ipvsadmMessages['*']?.[code] ?? errnoText(errno);
}

/**
 * Error for an NLMSG_ERROR reply. `subject` names the object the command was about
 * ("TCP 10.0.0.1:80") so a log line is useful on its own.
 */
export function kernelError(command: string, errno: number, subject: string | undefined, extAck: ExtendedAck | undefined): IpvsError {
  const isIpvs = command.startsWith('IPVS_CMD_');
  const text = isIpvs ? ipvsErrorText(command, errno) : errnoText(errno);
  const about = subject === undefined ? '' : ` ${subject}`;
  const kernelSays = extAck?.message === undefined ? '' : ` (kernel: ${extAck.message})`;
  return new IpvsError({
    kind: 'kernel',
    errno,
    command,
    message: `${command}${about}: ${text} [${errnoName(errno)}]${kernelSays}`,
    ...(extAck === undefined ? {} : { extAck }),
  });
}
