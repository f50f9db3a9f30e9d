// Decodes any IPVS message, request or reply, moby or libipvs layout, into everything it carries:
// the tests' way to look inside the requests the codec builds and the ones ipvsadm would send.
// The client itself only ever decodes replies of the kind it asked for.
import { decodeDestination, decodeInfoMessage, decodeService, genlAttrs } from '../src/ipvs-codec.ts';
import { IPVS_CMD, IPVS_CMD_ATTR, NLMSG_HDRLEN } from '../src/kernel-constants.ts';
import { Attrs, alignedMessage, isWordAligned, type MessageHeader } from '../src/nlmsg.ts';
import type { Destination, IpvsInfo, IpvsTimeouts, Service } from '../src/types.ts';

export interface IpvsMessage {
  familyId: number;
  flags: number;
  seq: number;
  cmd: number;
  version: number;
  service?: Service;
  destination?: Destination;
  timeouts?: Partial<IpvsTimeouts>;
  info?: IpvsInfo;
}

function decodeTimeouts(attrs: Attrs): Partial<IpvsTimeouts> {
  const timeouts: Partial<IpvsTimeouts> = {};
  if (attrs.has(IPVS_CMD_ATTR.TIMEOUT_TCP)) timeouts.tcp = attrs.u32(IPVS_CMD_ATTR.TIMEOUT_TCP);
  if (attrs.has(IPVS_CMD_ATTR.TIMEOUT_TCP_FIN)) timeouts.tcpFin = attrs.u32(IPVS_CMD_ATTR.TIMEOUT_TCP_FIN);
  if (attrs.has(IPVS_CMD_ATTR.TIMEOUT_UDP)) timeouts.udp = attrs.u32(IPVS_CMD_ATTR.TIMEOUT_UDP);
  return timeouts;
}

/** For a whole datagram, leave `header` out. Throws IpvsError (malformed-message) on bad input. */
export function decodeIpvsMessage(buf: Buffer, header: Pick<MessageHeader, 'offset' | 'length'> = { offset: 0, length: buf.length }): IpvsMessage {
  const attrs = new Attrs();
  const cmd = genlAttrs(buf, header, 'IPVS message', attrs); // checks both headers first
  if (!isWordAligned(buf, header.offset)) {
    // decodeDestination reads 32-bit words: decode an aligned copy instead.
    const aligned = alignedMessage(buf, header);
    return decodeIpvsMessage(aligned.buf, aligned.header);
  }
  const message: IpvsMessage = {
    familyId: buf.readUInt16LE(header.offset + 4),
    flags: buf.readUInt16LE(header.offset + 6),
    seq: buf.readUInt32LE(header.offset + 8),
    cmd,
    version: buf[header.offset + NLMSG_HDRLEN + 1] as number,
  };
  if (cmd === IPVS_CMD.SET_INFO) {
    message.info = decodeInfoMessage(buf, header);
    return message;
  }
  // An empty SERVICE nest (moby's GET_SERVICE dump) carries no service.
  if (attrs.lengthOf(IPVS_CMD_ATTR.SERVICE) > 0) message.service = decodeService(attrs.nested(IPVS_CMD_ATTR.SERVICE));
  if (attrs.has(IPVS_CMD_ATTR.DEST)) {
    const at = attrs.offsetOf(IPVS_CMD_ATTR.DEST, 0);
    message.destination = decodeDestination(buf, at, at + attrs.lengthOf(IPVS_CMD_ATTR.DEST), 'IPVS message', message.service?.family);
  }
  const timeouts = decodeTimeouts(attrs);
  if (Object.keys(timeouts).length > 0) message.timeouts = timeouts;
  return message;
}
