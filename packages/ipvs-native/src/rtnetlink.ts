import { absentOn, invalidInput, isIpvsError } from './errors.ts';
import { formatAddress, parseAddress, parsePrefix, type AddressFamily } from './inet.ts';
import { IFA_F_NODAD, IFNAMSIZ, NETLINK_ROUTE, RTM, RT_TABLE } from './kernel-constants.ts';
import { NetlinkSocket, type ReceivedMessage } from './netlink.ts';
import {
  decodeAddress,
  decodeLink,
  decodeRoute,
  encodeAddress,
  encodeDelLink,
  encodeGetAddresses,
  encodeGetLinkByName,
  encodeGetRoutes,
  encodeNewLink,
  encodeRoute,
  encodeSetLinkUp,
  type Link,
  type LinkAddress,
  type Route,
  type RouteOperation,
  type RtnlRequest,
  type WirePrefix,
  type WireRoute,
} from './rtnetlink-codec.ts';

export type { Link, LinkAddress, Route } from './rtnetlink-codec.ts';

export interface RouteSpec {
  /** "10.103.97.2/32", "fd00::2/128"; a bare address means a host route. Host bits must be 0. */
  destination: string;
  /** Next hop, same family as the destination. Without it the route is on-link (needs `link`). */
  gateway?: string;
  /** Route priority (`metric` in `ip route`). */
  metric?: number;
  /** Routing table, default main (254). */
  table?: number;
  /** Output interface, by name or index. */
  link?: string | number;
  /** Preferred source address. */
  source?: string;
}

export interface RouteFilter {
  /** Only routes to exactly this prefix ("10.103.97.2/32"). */
  destination?: string;
  /** Only this table; default main (254); 0 = every table. */
  table?: number;
  family?: AddressFamily;
}

export interface AddressOptions {
  /** IPv6: skip duplicate address detection so the address is usable at once. */
  noDad?: boolean;
}

export interface RouteClientOptions {
  /** Work in network namespace /run/netns/<netns>. */
  netns?: string;
}

const MAX_LINK_NAME_LENGTH = IFNAMSIZ - 1;
/** At most IFNAMSIZ - 1 characters, none of those the kernel refuses in a device name. */
const LINK_NAME = new RegExp(`^[^\\s/:\\0]{1,${MAX_LINK_NAME_LENGTH}}$`);

function checkLinkName(command: string, name: unknown): string {
  if (typeof name !== 'string' || !LINK_NAME.test(name) || name === '.' || name === '..') {
    throw invalidInput(command, `link name must be 1-${MAX_LINK_NAME_LENGTH} characters without whitespace, "/" or ":", got ${JSON.stringify(name)}`);
  }
  return name;
}

function checkPrefix(command: string, what: string, text: unknown, requireNetwork: boolean): WirePrefix {
  const prefix = typeof text === 'string' ? parsePrefix(text) : undefined;
  if (prefix === undefined) throw invalidInput(command, `${what} ${JSON.stringify(text)} is not an address or ADDRESS/LENGTH prefix`);
  if (requireNetwork) {
    for (let bit = prefix.prefixLength; bit < prefix.bytes.length * 8; bit++) {
      if (((prefix.bytes[bit >> 3] as number) >> (7 - (bit & 7))) & 1) {
        throw invalidInput(command, `${what} ${text} has host bits set beyond /${prefix.prefixLength}`);
      }
    }
  }
  return prefix;
}

function checkAddressOfFamily(command: string, what: string, text: unknown, family: AddressFamily): Buffer {
  const parsed = typeof text === 'string' ? parseAddress(text) : undefined;
  if (parsed === undefined) throw invalidInput(command, `${what} ${JSON.stringify(text)} is not an IP address`);
  if (parsed.family !== family) throw invalidInput(command, `${what} ${text} is ${parsed.family}, the route is ${family}`);
  return parsed.bytes;
}

function checkUint32(command: string, what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw invalidInput(command, `${what} must be an integer from 0 to 4294967295, got ${JSON.stringify(value)}`);
  }
  return value;
}

function routeLabel(spec: RouteSpec): string {
  const parts = [spec.destination];
  if (spec.gateway !== undefined) parts.push(`via ${spec.gateway}`);
  if (spec.link !== undefined) parts.push(`dev ${spec.link}`);
  if (spec.metric !== undefined) parts.push(`metric ${spec.metric}`);
  if (spec.table !== undefined) parts.push(`table ${spec.table}`);
  return parts.join(' ');
}

/**
 * rtnetlink client for what the daemon needs: host routes to the VIP, a dummy link holding the
 * VIP, and that link's addresses. Synchronous like IpvsClient; errors are IpvsError.
 */
export class RouteClient {
  private readonly socket: NetlinkSocket;

  private constructor(socket: NetlinkSocket) {
    this.socket = socket;
  }

  static open(opts: RouteClientOptions = {}): RouteClient {
    return new RouteClient(NetlinkSocket.open(NETLINK_ROUTE, opts.netns === undefined ? {} : { netns: opts.netns }));
  }

  close(): void {
    this.socket.close();
  }

  /** Adds a route; fails with EEXIST when an identical one exists (callers may tolerate that). */
  addRoute(route: RouteSpec): void {
    this.routeCommand('add', route);
  }

  /** Adds the route or overwrites the one with the same destination, table and metric. */
  replaceRoute(route: RouteSpec): void {
    this.routeCommand('replace', route);
  }

  /** Deletes a matching route; ESRCH when there is none. */
  deleteRoute(route: RouteSpec): void {
    this.routeCommand('delete', route);
  }

  listRoutes(filter: RouteFilter = {}): Route[] {
    const command = 'RTM_GETROUTE';
    const wanted = filter.destination === undefined ? undefined : checkPrefix(command, 'destination', filter.destination, false);
    const table = filter.table === undefined ? RT_TABLE.MAIN : checkUint32(command, 'table', filter.table);
    if (filter.family !== undefined && filter.family !== 'ipv4' && filter.family !== 'ipv6') {
      throw invalidInput(command, `family must be "ipv4" or "ipv6", got ${JSON.stringify(filter.family)}`);
    }
    const family = filter.family ?? wanted?.family;
    const wantedText = wanted === undefined ? undefined : `${formatAddress(wanted.family, wanted.bytes)}/${wanted.prefixLength}`;
    return this.dump(encodeGetRoutes(family), (m) => {
      const route = decodeRoute(m.buf, m);
      if (route === undefined) return undefined;
      if (family !== undefined && route.family !== family) return undefined;
      if (table !== RT_TABLE.UNSPEC && route.table !== table) return undefined;
      if (wantedText !== undefined && route.destination !== wantedText) return undefined;
      return route;
    });
  }

  /** The link with this name, or undefined when there is none. */
  getLink(name: string): Link | undefined {
    const linkName = checkLinkName('RTM_GETLINK', name);
    return absentOn('ENODEV', () => {
      let link: Link | undefined;
      this.send(encodeGetLinkByName(linkName), linkName, (m) => {
        link ??= decodeLink(m.buf, m);
      });
      return link;
    });
  }

  /** Creates a dummy link (down, like kube-ipvs0); EEXIST if the name is taken. */
  addDummyLink(name: string): void {
    const linkName = checkLinkName('RTM_NEWLINK', name);
    this.send(encodeNewLink(linkName, 'dummy'), `dummy ${linkName}`);
  }

  deleteLink(link: string | number): void {
    const index = this.linkIndex('RTM_DELLINK', link);
    this.send(encodeDelLink(index), String(link));
  }

  setLinkUp(link: string | number): void {
    this.send(encodeSetLinkUp(this.linkIndex('RTM_NEWLINK', link), true), `${link} up`);
  }

  setLinkDown(link: string | number): void {
    this.send(encodeSetLinkUp(this.linkIndex('RTM_NEWLINK', link), false), `${link} down`);
  }

  /** Adds ADDRESS/LENGTH to a link; EEXIST if it is already there. */
  addAddress(link: string | number, address: string, opts: AddressOptions = {}): void {
    const prefix = checkPrefix('RTM_NEWADDR', 'address', address, false);
    const index = this.linkIndex('RTM_NEWADDR', link);
    const flags = opts.noDad === true && prefix.family === 'ipv6' ? IFA_F_NODAD : 0;
    this.send(encodeAddress(RTM.NEWADDR, index, prefix, flags), `${address} dev ${link}`);
  }

  /** Removes ADDRESS/LENGTH from a link; EADDRNOTAVAIL if it is not there. */
  deleteAddress(link: string | number, address: string): void {
    const prefix = checkPrefix('RTM_DELADDR', 'address', address, false);
    const index = this.linkIndex('RTM_DELADDR', link);
    this.send(encodeAddress(RTM.DELADDR, index, prefix), `${address} dev ${link}`);
  }

  /** Addresses of one link, or of every link. */
  listAddresses(link?: string | number, family?: AddressFamily): LinkAddress[] {
    const index = link === undefined ? undefined : this.linkIndex('RTM_GETADDR', link);
    return this.dump(encodeGetAddresses(family), (m) => {
      const address = decodeAddress(m.buf, m);
      return address !== undefined && (index === undefined || address.linkIndex === index) ? address : undefined;
    });
  }

  /**
   * Runs a dump and collects what `pick` keeps. A dump the kernel marks as interrupted by a
   * concurrent change (EINTR) is repeated, up to three times in all.
   */
  private dump<T>(request: RtnlRequest, pick: (m: ReceivedMessage) => T | undefined): T[] {
    for (let attempt = 1; ; attempt++) {
      const results: T[] = [];
      try {
        this.send(request, undefined, (m) => {
          const value = pick(m);
          if (value !== undefined) results.push(value);
        });
        return results;
      } catch (err) {
        if (!(isIpvsError(err, 'EINTR') && attempt < 3)) throw err;
      }
    }
  }

  private routeCommand(operation: RouteOperation, spec: RouteSpec): void {
    const command = operation === 'delete' ? 'RTM_DELROUTE' : 'RTM_NEWROUTE';
    if (typeof spec !== 'object' || spec === null) throw invalidInput(command, 'a route object is required');
    const destination = checkPrefix(command, 'destination', spec.destination, true);
    const route: WireRoute = {
      destination,
      table: spec.table === undefined ? RT_TABLE.MAIN : checkUint32(command, 'table', spec.table),
    };
    if (spec.gateway !== undefined) route.gateway = checkAddressOfFamily(command, 'gateway', spec.gateway, destination.family);
    if (spec.metric !== undefined) route.metric = checkUint32(command, 'metric', spec.metric);
    if (spec.source !== undefined) route.source = checkAddressOfFamily(command, 'source', spec.source, destination.family);
    if (operation !== 'delete' && spec.gateway === undefined && spec.link === undefined) {
      throw invalidInput(command, 'a route needs a gateway or a link');
    }
    if (spec.link !== undefined) route.linkIndex = this.linkIndex(command, spec.link);
    this.send(encodeRoute(operation, route), routeLabel(spec));
  }

  /** Resolves a link name to its index (ENODEV error when missing); numbers pass through. */
  private linkIndex(command: string, link: string | number): number {
    if (typeof link === 'number') {
      if (!Number.isInteger(link) || link <= 0 || link > 0x7fffffff) throw invalidInput(command, `link index must be a positive integer, got ${link}`);
      return link;
    }
    const name = checkLinkName(command, link);
    let index: number | undefined;
    this.send(encodeGetLinkByName(name), name, (m) => {
      index ??= decodeLink(m.buf, m).index;
    });
    if (index === undefined) throw invalidInput(command, `no link named ${name}`);
    return index;
  }

  private send(request: RtnlRequest, subject: string | undefined, onMessage?: (m: ReceivedMessage) => void): void {
    this.socket.request(request.type, request, {
      ...(subject === undefined ? {} : { subject }),
      ...(onMessage === undefined ? {} : { onMessage }),
    });
  }
}
