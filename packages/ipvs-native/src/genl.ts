import { absentOn, invalidInput, isIpvsError, malformed } from './errors.ts';
import { CTRL_ATTR, CTRL_CMD, GENL_HDRLEN, GENL_ID_CTRL, GENL_NAMSIZ, NLMSG_HDRLEN, ctrlCommandName } from './kernel-constants.ts';
import type { NetlinkSocket, RequestOptions } from './netlink.ts';
import { PayloadWriter, parseAttrs, type MessageHeader, type NetlinkRequest } from './nlmsg.ts';

// Generic netlink: a 4-byte genlmsghdr after the netlink header, and families whose numeric id
// is assigned at registration and must be looked up by name through the "nlctrl" family.

/** Family names are at most GENL_NAMSIZ - 1 characters. */
const MAX_FAMILY_NAME_LENGTH = GENL_NAMSIZ - 1;
/** The nlctrl version our lookups speak (as moby and libnl do). */
const NLCTRL_VERSION = 1;

export interface GenlFamily {
  id: number;
  name: string;
  version: number;
  hdrSize: number;
  maxAttr: number;
}

/** Starts a generic netlink payload: genlmsghdr {cmd, version, reserved 0}, attributes to follow. */
export function genlPayload(cmd: number, version: number): PayloadWriter {
  return new PayloadWriter().raw(Uint8Array.of(cmd, version, 0, 0));
}

/** CTRL_CMD_GETFAMILY for `name` (the request moby and libnl send), to family GENL_ID_CTRL. */
export function encodeGetFamily(name: string): NetlinkRequest {
  const payload = genlPayload(CTRL_CMD.GETFAMILY, NLCTRL_VERSION).string(CTRL_ATTR.FAMILY_NAME, name).finish();
  return { command: ctrlCommandName(CTRL_CMD.GETFAMILY), flags: 0, payload };
}

/** Decodes nlctrl's NEWFAMILY reply. */
export function decodeFamily(buf: Buffer, header: Pick<MessageHeader, 'offset' | 'length'>): GenlFamily {
  if (header.length < NLMSG_HDRLEN + GENL_HDRLEN || buf[header.offset + NLMSG_HDRLEN] !== CTRL_CMD.NEWFAMILY) {
    throw malformed('nlctrl family', 'expected a CTRL_CMD_NEWFAMILY message');
  }
  const start = header.offset + NLMSG_HDRLEN + GENL_HDRLEN;
  const attrs = parseAttrs(buf, start, header.offset + header.length, 'nlctrl family');
  return {
    id: attrs.u16(CTRL_ATTR.FAMILY_ID),
    name: attrs.string(CTRL_ATTR.FAMILY_NAME),
    version: attrs.has(CTRL_ATTR.VERSION) ? attrs.u32(CTRL_ATTR.VERSION) : 0,
    hdrSize: attrs.has(CTRL_ATTR.HDRSIZE) ? attrs.u32(CTRL_ATTR.HDRSIZE) : 0,
    maxAttr: attrs.has(CTRL_ATTR.MAXATTR) ? attrs.u32(CTRL_ATTR.MAXATTR) : 0,
  };
}

/** Looks a family up by name; undefined when the kernel has no such family (ENOENT). */
export function resolveFamily(socket: NetlinkSocket, name: string): GenlFamily | undefined {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_FAMILY_NAME_LENGTH || name.includes('\0')) {
    throw invalidInput('CTRL_CMD_GETFAMILY', `a generic netlink family name has 1-${MAX_FAMILY_NAME_LENGTH} characters, got ${JSON.stringify(name)}`);
  }
  return absentOn('ENOENT', () => {
    let family: GenlFamily | undefined;
    socket.request(GENL_ID_CTRL, encodeGetFamily(name), {
      subject: name,
      onMessage: (message) => {
        family ??= decodeFamily(message.buf, message);
      },
    });
    return family;
  });
}

/**
 * A socket bound to one generic netlink family. The family id is fixed until the family is
 * unregistered (module unloaded); then the kernel answers ENOENT and a reloaded module may
 * have another id. So on ENOENT we look the family up again once, and retry if it moved.
 */
export class GenlChannel {
  readonly socket: NetlinkSocket;
  private family: GenlFamily;
  private readonly lookup: () => GenlFamily;

  /** `lookup` resolves the family again and throws when it is gone. */
  constructor(socket: NetlinkSocket, family: GenlFamily, lookup: () => GenlFamily) {
    this.socket = socket;
    this.family = family;
    this.lookup = lookup;
  }

  get familyId(): number {
    return this.family.id;
  }

  /** Sends a request of this family (the message type is the family's current id). */
  request(request: NetlinkRequest, options: RequestOptions = {}): void {
    try {
      this.socket.request(this.family.id, request, options);
    } catch (err) {
      // ENOENT is also a legitimate answer (no such destination, no such scheduler); only a
      // changed id tells us the family itself had gone stale.
      if (!(isIpvsError(err, 'ENOENT') && err.kind === 'kernel')) throw err;
      const fresh = this.lookup();
      if (fresh.id === this.family.id) throw err;
      this.family = fresh;
      this.socket.request(fresh.id, request, options);
    }
  }

  /** Like NetlinkSocket.receiveDumpBytes, for this family. */
  receiveDumpBytes(request: NetlinkRequest): number {
    return this.socket.receiveDumpBytes(this.family.id, request);
  }
}
