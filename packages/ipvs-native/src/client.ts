import { IpvsError, absentOn } from './errors.ts';
import { GenlChannel, resolveFamily, type GenlFamily } from './genl.ts';
import {
  decodeConfigMessage,
  decodeDestinationMessage,
  decodeInfoMessage,
  decodeServiceMessage,
  encodeDelDest,
  encodeDelService,
  encodeFlush,
  encodeGetConfig,
  encodeGetDests,
  encodeGetInfo,
  encodeGetService,
  encodeGetServices,
  encodeNewDest,
  encodeNewService,
  encodeSetConfig,
  encodeSetDest,
  encodeSetService,
  encodeZero,
} from './ipvs-codec.ts';
import { checkDestKey, checkDestSpec, checkServiceKey, checkServiceSpec, checkTimeouts } from './ipvs-wire.ts';
import { ERRNO, IPVS_GENL_NAME, NETLINK_GENERIC } from './kernel-constants.ts';
import { modprobeOnce } from './modprobe.ts';
import { NetlinkSocket, type ReceivedMessage } from './netlink.ts';
import type { NetlinkRequest } from './nlmsg.ts';
import type { Destination, DestinationSpec, IpvsInfo, IpvsTimeouts, Service, ServiceKey, ServiceSpec } from './types.ts';

export interface IpvsClientOptions {
  /** Manage the IPVS table of network namespace /run/netns/<netns> instead of our own. */
  netns?: string;
}

function unavailable(detail: string): IpvsError {
  return new IpvsError({
    kind: 'ipvs-unavailable',
    errno: ERRNO.ENOENT,
    command: 'CTRL_CMD_GETFAMILY',
    message:
      `IPVS is not available in this kernel: it has no generic netlink family "${IPVS_GENL_NAME}" (${detail}). ` +
      'Load the ip_vs module (modprobe ip_vs) or use a kernel built with CONFIG_IP_VS.',
  });
}

/** Finds the IPVS family, trying `modprobe ip_vs` once before declaring IPVS unavailable. */
function lookupIpvsFamily(socket: NetlinkSocket): GenlFamily {
  const family = resolveFamily(socket, IPVS_GENL_NAME);
  if (family !== undefined) return family;
  const attempt = modprobeOnce('ip_vs');
  const retried = resolveFamily(socket, IPVS_GENL_NAME);
  if (retried !== undefined) return retried;
  throw unavailable(attempt);
}

/** Opens a generic netlink socket bound to the IPVS family (also used by the benchmarks). */
export function openIpvsChannel(options: IpvsClientOptions = {}): GenlChannel {
  const socket = NetlinkSocket.open(NETLINK_GENERIC, options.netns === undefined ? {} : { netns: options.netns });
  try {
    return new GenlChannel(socket, lookupIpvsFamily(socket), () => lookupIpvsFamily(socket));
  } catch (err) {
    socket.close();
    throw err;
  }
}

/**
 * Client for the kernel's IPVS table over generic netlink. Every method is synchronous: the
 * kernel answers inside the send, so a call costs one or two syscalls and no event-loop turn.
 * Methods throw IpvsError (see errors.ts); bad arguments are rejected before anything is sent.
 */
export class IpvsClient {
  private readonly channel: GenlChannel;

  private constructor(channel: GenlChannel) {
    this.channel = channel;
  }

  static open(opts: IpvsClientOptions = {}): IpvsClient {
    return new IpvsClient(openIpvsChannel(opts));
  }

  close(): void {
    this.channel.socket.close();
  }

  info(): { version: string; connTableSize: number } {
    let info: IpvsInfo | undefined;
    this.send(encodeGetInfo(), undefined, (m) => {
      info ??= decodeInfoMessage(m.buf, m);
    });
    return this.required(info, 'IPVS_CMD_GET_INFO');
  }

  listServices(): Service[] {
    const services: Service[] = [];
    this.send(encodeGetServices(), undefined, (m) => {
      services.push(decodeServiceMessage(m.buf, m));
    });
    return services;
  }

  /** The service with this identity, or undefined when there is none. */
  getService(key: ServiceKey): Service | undefined {
    const wire = checkServiceKey('IPVS_CMD_GET_SERVICE', key);
    return absentOn('ESRCH', () => {
      let service: Service | undefined;
      this.send(encodeGetService(wire), wire.label, (m) => {
        service ??= decodeServiceMessage(m.buf, m);
      });
      return service;
    });
  }

  /** Creates a service; EEXIST if one with the same identity exists. */
  addService(svc: ServiceSpec): void {
    const wire = checkServiceSpec('IPVS_CMD_NEW_SERVICE', svc);
    this.send(encodeNewService(wire), wire.label);
  }

  /** Replaces scheduler, persistence and netmask of an existing service; ESRCH if missing. */
  updateService(svc: ServiceSpec): void {
    const wire = checkServiceSpec('IPVS_CMD_SET_SERVICE', svc);
    this.send(encodeSetService(wire), wire.label);
  }

  /** Deletes a service with its destinations; ESRCH if missing. */
  deleteService(key: ServiceKey): void {
    const wire = checkServiceKey('IPVS_CMD_DEL_SERVICE', key);
    this.send(encodeDelService(wire), wire.label);
  }

  /** The destinations of a service; empty when the service does not exist (kernel behaviour). */
  listDestinations(key: ServiceKey): Destination[] {
    const wire = checkServiceKey('IPVS_CMD_GET_DEST', key);
    const destinations: Destination[] = [];
    this.send(encodeGetDests(wire), wire.label, (m) => {
      destinations.push(decodeDestinationMessage(m.buf, m, wire.family));
    });
    return destinations;
  }

  /** Adds a destination; ESRCH if the service is missing, EEXIST if the destination exists. */
  addDestination(key: ServiceKey, dest: DestinationSpec): void {
    const service = checkServiceKey('IPVS_CMD_NEW_DEST', key);
    const wire = checkDestSpec('IPVS_CMD_NEW_DEST', service, dest);
    this.send(encodeNewDest(service, wire), wire.label);
  }

  /** Changes weight, forwarding method and thresholds; ENOENT if the destination is missing. */
  updateDestination(key: ServiceKey, dest: DestinationSpec): void {
    const service = checkServiceKey('IPVS_CMD_SET_DEST', key);
    const wire = checkDestSpec('IPVS_CMD_SET_DEST', service, dest);
    this.send(encodeSetDest(service, wire), wire.label);
  }

  deleteDestination(key: ServiceKey, dest: { address: string; port: number }): void {
    const service = checkServiceKey('IPVS_CMD_DEL_DEST', key);
    const wire = checkDestKey('IPVS_CMD_DEL_DEST', service, dest);
    this.send(encodeDelDest(service, wire), wire.label);
  }

  /** Deletes every service of this network namespace. */
  flush(): void {
    this.send(encodeFlush(), undefined);
  }

  getTimeouts(): { tcp: number; tcpFin: number; udp: number } {
    let timeouts: IpvsTimeouts | undefined;
    this.send(encodeGetConfig(), undefined, (m) => {
      timeouts ??= decodeConfigMessage(m.buf, m);
    });
    return this.required(timeouts, 'IPVS_CMD_GET_CONFIG');
  }

  /** Sets the given timeouts (seconds, >= 1); omitted ones keep their value. */
  setTimeouts(t: Partial<{ tcp: number; tcpFin: number; udp: number }>): void {
    const timeouts = checkTimeouts('IPVS_CMD_SET_CONFIG', t);
    if (Object.keys(timeouts).length === 0) return;
    this.send(encodeSetConfig(timeouts), undefined);
  }

  /** Zeroes the counters of one service and its destinations, or of all services. */
  zero(key?: ServiceKey): void {
    const wire = key === undefined ? undefined : checkServiceKey('IPVS_CMD_ZERO', key);
    this.send(encodeZero(wire), wire?.label);
  }

  private send(request: NetlinkRequest, subject: string | undefined, onMessage?: (m: ReceivedMessage) => void): void {
    this.channel.request(request, {
      ...(subject === undefined ? {} : { subject }),
      ...(onMessage === undefined ? {} : { onMessage }),
    });
  }

  private required<T>(value: T | undefined, command: string): T {
    if (value !== undefined) return value;
    throw new IpvsError({
      kind: 'malformed-message',
      errno: ERRNO.EBADMSG,
      command,
      message: `${command}: the kernel acknowledged without sending the expected reply`,
    });
  }
}
