import { invalidInput } from './errors.ts';
import { formatAddress, ipv4MaskBytes, parseAddress, type AddressFamily } from './inet.ts';
import {
  AF_INET,
  AF_INET6,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IP_VS_CONN_F,
  IP_VS_SCHEDNAME_MAXLEN,
  IP_VS_SVC_F_PERSISTENT,
} from './kernel-constants.ts';
import {
  isFwmarkKey,
  type DestinationSpec,
  type ForwardMethod,
  type IpvsTimeouts,
  type Protocol,
  type ServiceKey,
} from './types.ts';

// Validation of the public, friendly inputs and their translation into wire-ready values.
// Everything here runs before the first byte is sent: bad input throws an IpvsError of kind
// "invalid-input" and changes nothing.

export const protocolNumbers: Readonly<Record<Protocol, number>> = { tcp: IPPROTO_TCP, udp: IPPROTO_UDP, sctp: IPPROTO_SCTP };
export const forwardNumbers: Readonly<Record<ForwardMethod, number>> = {
  masq: IP_VS_CONN_F.MASQ,
  local: IP_VS_CONN_F.LOCALNODE,
  tunnel: IP_VS_CONN_F.TUNNEL,
  route: IP_VS_CONN_F.DROUTE,
};

/** ipvsadm's defaults and limits. */
export const DEFAULT_SCHEDULER = 'rr';
export const DEFAULT_PERSISTENCE_TIMEOUT = 360;
export const MAX_PERSISTENCE_TIMEOUT = 86400 * 31;
export const MAX_WEIGHT = 65535;
export const MAX_THRESHOLD = 0x7fffffff;
/** The kernel rejects timeouts above INT_MAX / HZ; with HZ up to 1000 this bound is always safe. */
export const MAX_CONN_TIMEOUT = Math.floor(0x7fffffff / 1000);
/** A scheduler name and its NUL fit IP_VS_SCHEDNAME_MAXLEN. */
const MAX_SCHEDULER_LENGTH = IP_VS_SCHEDNAME_MAXLEN - 1;
const SCHEDULER_NAME = new RegExp(`^[A-Za-z0-9_-]{1,${MAX_SCHEDULER_LENGTH}}$`);

/** Identity of a service as it goes on the wire. */
export interface WireServiceKey {
  af: number;
  family: AddressFamily;
  /** Set for address-based services. */
  protocol?: number;
  /** 4 (IPv4) or 16 (IPv6) network-order bytes. */
  addr?: Buffer;
  port?: number;
  /** Set (non-zero) for fwmark services. */
  fwmark?: number;
  /** "TCP 10.0.0.1:80", for error messages. */
  label: string;
}

/** A complete service definition (NEW_SERVICE / SET_SERVICE). */
export interface WireService extends WireServiceKey {
  scheduler: string;
  flags: number;
  timeout: number;
  /** The NETMASK attribute as a host-order u32: IPv4 mask bytes read LE, or the IPv6 prefix length. */
  netmask: number;
}

/** Identity of a destination. */
export interface WireDestKey {
  af: number;
  family: AddressFamily;
  addr: Buffer;
  port: number;
  label: string;
}

/** A complete destination (NEW_DEST / SET_DEST). */
export interface WireDest extends WireDestKey {
  forward: number;
  weight: number;
  upperThreshold: number;
  lowerThreshold: number;
}

export function isFullService(service: WireServiceKey): service is WireService {
  return 'scheduler' in service;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function checkInteger(command: string, what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidInput(command, `${what} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function checkAddress(command: string, what: string, value: unknown): { family: AddressFamily; bytes: Buffer } {
  const parsed = typeof value === 'string' ? parseAddress(value) : undefined;
  if (parsed === undefined) throw invalidInput(command, `${what} ${JSON.stringify(value)} is not an IPv4 or IPv6 address`);
  return parsed;
}

/** "10.0.0.1:80" or "[2001:db8::1]:80", as ipvsadm prints them. */
export function hostPort(family: AddressFamily, bytes: Uint8Array, port: number): string {
  const address = formatAddress(family, bytes);
  return family === 'ipv6' ? `[${address}]:${port}` : `${address}:${port}`;
}

export function checkServiceKey(command: string, key: unknown): WireServiceKey {
  if (!isObject(key)) throw invalidInput(command, 'a service key object is required');
  if (isFwmarkKey(key as unknown as ServiceKey)) {
    const fwmark = checkInteger(command, 'fwmark', key['fwmark'], 1, 0xffffffff);
    const family = key['family'];
    if (family !== 'ipv4' && family !== 'ipv6') {
      throw invalidInput(command, `family must be "ipv4" or "ipv6" for a fwmark service, got ${JSON.stringify(family)}`);
    }
    return { af: family === 'ipv4' ? AF_INET : AF_INET6, family, fwmark, label: `FWM ${fwmark} ${family}` };
  }
  const protocolName = key['protocol'];
  if (protocolName !== 'tcp' && protocolName !== 'udp' && protocolName !== 'sctp') {
    throw invalidInput(command, `protocol must be "tcp", "udp" or "sctp", got ${JSON.stringify(protocolName)}`);
  }
  const { family, bytes } = checkAddress(command, 'service address', key['address']);
  const port = checkInteger(command, 'service port', key['port'], 0, 65535);
  const label = `${protocolName.toUpperCase()} ${hostPort(family, bytes, port)}`;
  return { af: family === 'ipv4' ? AF_INET : AF_INET6, family, protocol: protocolNumbers[protocolName], addr: bytes, port, label };
}

function checkNetmask(command: string, family: AddressFamily, value: unknown): number {
  if (family === 'ipv6') {
    if (value === undefined) return 128;
    return checkInteger(command, 'IPv6 netmask (prefix length)', value, 1, 128);
  }
  if (value === undefined) return 0xffffffff;
  if (typeof value === 'number') {
    return ipv4MaskBytes(checkInteger(command, 'IPv4 netmask prefix length', value, 0, 32)).readUInt32LE(0);
  }
  const parsed = typeof value === 'string' ? parseAddress(value) : undefined;
  if (parsed === undefined || parsed.family !== 'ipv4') {
    throw invalidInput(command, `IPv4 netmask must be a dotted mask or a prefix length, got ${JSON.stringify(value)}`);
  }
  return parsed.bytes.readUInt32LE(0);
}

export function checkServiceSpec(command: string, spec: unknown): WireService {
  const key = checkServiceKey(command, spec);
  const options = spec as Record<string, unknown>;
  const scheduler = options['scheduler'] ?? DEFAULT_SCHEDULER;
  if (typeof scheduler !== 'string' || !SCHEDULER_NAME.test(scheduler)) {
    throw invalidInput(command, `scheduler must be 1-${MAX_SCHEDULER_LENGTH} letters, digits, "_" or "-", got ${JSON.stringify(scheduler)}`);
  }
  const persistent = options['persistent'] ?? false;
  if (typeof persistent !== 'boolean') throw invalidInput(command, `persistent must be a boolean, got ${JSON.stringify(persistent)}`);
  let timeout = 0;
  if (options['timeout'] !== undefined) {
    timeout = checkInteger(command, 'persistence timeout', options['timeout'], 0, MAX_PERSISTENCE_TIMEOUT);
  }
  if (!persistent && timeout !== 0) {
    throw invalidInput(command, 'a persistence timeout needs persistent: true');
  }
  if (persistent && options['timeout'] === undefined) timeout = DEFAULT_PERSISTENCE_TIMEOUT;
  const netmask = checkNetmask(command, key.family, options['netmask']);
  const defaultNetmask = key.family === 'ipv4' ? 0xffffffff : 128;
  if (!persistent && netmask !== defaultNetmask) {
    throw invalidInput(command, 'a persistence netmask needs persistent: true');
  }
  return { ...key, scheduler, flags: persistent ? IP_VS_SVC_F_PERSISTENT : 0, timeout, netmask };
}

export function checkDestKey(command: string, service: WireServiceKey, dest: unknown): WireDestKey {
  if (!isObject(dest)) throw invalidInput(command, 'a destination object is required');
  const { family, bytes } = checkAddress(command, 'destination address', dest['address']);
  const port = checkInteger(command, 'destination port', dest['port'], 0, 65535);
  const label = `${service.label} -> ${hostPort(family, bytes, port)}`;
  return { af: family === 'ipv4' ? AF_INET : AF_INET6, family, addr: bytes, port, label };
}

export function checkDestSpec(command: string, service: WireServiceKey, dest: unknown): WireDest {
  const key = checkDestKey(command, service, dest);
  const spec = dest as DestinationSpec;
  const weight = spec.weight === undefined ? 1 : checkInteger(command, 'weight', spec.weight, 0, MAX_WEIGHT);
  const forwardName = spec.forward ?? 'masq';
  const forward = Object.hasOwn(forwardNumbers, forwardName) ? forwardNumbers[forwardName] : undefined;
  if (forward === undefined) {
    throw invalidInput(command, `forward must be "masq", "local", "tunnel" or "route", got ${JSON.stringify(forwardName)}`);
  }
  const upperThreshold = spec.upperThreshold === undefined ? 0 : checkInteger(command, 'upperThreshold', spec.upperThreshold, 0, MAX_THRESHOLD);
  const lowerThreshold = spec.lowerThreshold === undefined ? 0 : checkInteger(command, 'lowerThreshold', spec.lowerThreshold, 0, MAX_THRESHOLD);
  if (lowerThreshold > upperThreshold) {
    throw invalidInput(command, `lowerThreshold (${lowerThreshold}) must not exceed upperThreshold (${upperThreshold})`);
  }
  // The kernel accepts a destination of the other address family only for IP-in-IP tunnels.
  if (key.family !== service.family && forwardName !== 'tunnel') {
    throw invalidInput(command, `an ${key.family} destination in an ${service.family} service needs forward: "tunnel"`);
  }
  return { ...key, forward, weight, upperThreshold, lowerThreshold };
}

export function checkTimeouts(command: string, timeouts: unknown): Partial<IpvsTimeouts> {
  if (!isObject(timeouts)) throw invalidInput(command, 'a timeouts object is required');
  const result: Partial<IpvsTimeouts> = {};
  for (const name of ['tcp', 'tcpFin', 'udp'] as const) {
    const value = timeouts[name];
    if (value === undefined) continue;
    // 0 means "keep the current value" to the kernel, so it cannot be set; say so plainly.
    result[name] = checkInteger(command, `${name} timeout (seconds; omit it to keep the current value)`, value, 1, MAX_CONN_TIMEOUT);
  }
  for (const name of Object.keys(timeouts)) {
    if (name !== 'tcp' && name !== 'tcpFin' && name !== 'udp') throw invalidInput(command, `unknown timeout ${JSON.stringify(name)}`);
  }
  return result;
}
