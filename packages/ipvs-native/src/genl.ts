import { absentOn, invalidInput, isIpvsError, malformed } from './errors.ts';
import type { NetlinkSocket, RequestOptions } from './netlink.ts';
import { MessageWriter, NLMSG_HDRLEN, NLM_F_ACK, NLM_F_REQUEST, parseAttrs, type MessageHeader } from './nlmsg.ts';

// Generic netlink: a 4-byte genlmsghdr after the netlink header, and families whose numeric id
// is assigned at registration and must be looked up by name through the "nlctrl" family.

export const GENL_HDRLEN = 4;
export const GENL_ID_CTRL = 0x10;
export const CTRL_CMD_NEWFAMILY = 1;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;
export const CTRL_ATTR_VERSION = 3;
export const CTRL_ATTR_HDRSIZE = 4;
export const CTRL_ATTR_MAXATTR = 5;
/** GENL_NAMSIZ - 1: family names are at most 15 characters. */
export const GENL_MAX_NAME_LENGTH = 15;

export interface GenlFamily {
  id: number;
  name: string;
  version: number;
  hdrSize: number;
  maxAttr: number;
}

/** Starts a generic netlink message: netlink header + genlmsghdr {cmd, version, reserved 0}. */
export function genlMessage(familyId: number, flags: number, cmd: number, version: number, seq = 0): MessageWriter {
  return new MessageWriter(familyId, flags, seq).raw(Uint8Array.of(cmd, version, 0, 0));
}

/** CTRL_CMD_GETFAMILY for `name` (the request moby and libnl send). */
export function encodeGetFamily(name: string, seq = 0): Buffer {
  return genlMessage(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, CTRL_CMD_GETFAMILY, 1, seq)
    .string(CTRL_ATTR_FAMILY_NAME, name)
    .finish();
}

/** Decodes nlctrl's NEWFAMILY reply. */
export function decodeFamily(buf: Buffer, header: Pick<MessageHeader, 'offset' | 'length'>): GenlFamily {
  if (header.length < NLMSG_HDRLEN + GENL_HDRLEN || buf[header.offset + NLMSG_HDRLEN] !== CTRL_CMD_NEWFAMILY) {
    throw malformed('nlctrl family', 'expected a CTRL_CMD_NEWFAMILY message');
  }
  const start = header.offset + NLMSG_HDRLEN + GENL_HDRLEN;
  const attrs = parseAttrs(buf, start, header.offset + header.length, 'nlctrl family');
  return {
    id: attrs.u16(CTRL_ATTR_FAMILY_ID),
    name: attrs.string(CTRL_ATTR_FAMILY_NAME),
    version: attrs.has(CTRL_ATTR_VERSION) ? attrs.u32(CTRL_ATTR_VERSION) : 0,
    hdrSize: attrs.has(CTRL_ATTR_HDRSIZE) ? attrs.u32(CTRL_ATTR_HDRSIZE) : 0,
    maxAttr: attrs.has(CTRL_ATTR_MAXATTR) ? attrs.u32(CTRL_ATTR_MAXATTR) : 0,
  };
}

/** Looks a family up by name; undefined when the kernel has no such family (ENOENT). */
export function resolveFamily(socket: NetlinkSocket, name: string): GenlFamily | undefined {
  if (typeof name !== 'string' || name.length === 0 || name.length > GENL_MAX_NAME_LENGTH || name.includes('\0')) {
    throw invalidInput('CTRL_CMD_GETFAMILY', `a generic netlink family name has 1-${GENL_MAX_NAME_LENGTH} characters, got ${JSON.stringify(name)}`);
  }
  return absentOn('ENOENT', () => {
    let family: GenlFamily | undefined;
    socket.request(encodeGetFamily(name), {
      command: 'CTRL_CMD_GETFAMILY',
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

  /** Sends a message built for this family (its nlmsg_type is set to the current family id). */
  request(message: Buffer, options: RequestOptions): void {
    message.writeUInt16LE(this.family.id, 4);
    try {
      this.socket.request(message, options);
    } catch (err) {
      // ENOENT is also a legitimate answer (no such destination, no such scheduler); only a
      // changed id tells us the family itself had gone stale.
      if (!(isIpvsError(err, 'ENOENT') && err.kind === 'kernel')) throw err;
      const fresh = this.lookup();
      if (fresh.id === this.family.id) throw err;
      this.family = fresh;
      message.writeUInt16LE(fresh.id, 4);
      this.socket.request(message, options);
    }
  }

  /** Like NetlinkSocket.receiveDumpBytes, for this family. */
  receiveDumpBytes(message: Buffer, command: string): number {
    message.writeUInt16LE(this.family.id, 4);
    return this.socket.receiveDumpBytes(message, command);
  }
}
