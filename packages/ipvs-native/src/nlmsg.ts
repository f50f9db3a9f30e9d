import { malformed, type ExtendedAck } from './errors.ts';
import {
  NLA_HDRLEN,
  NLA_TYPE_MASK,
  NLMSG,
  NLMSGERR_ATTR,
  NLMSG_HDRLEN,
  NLM_F_ACK,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLM_F_DUMP,
  NLM_F_REQUEST,
} from './kernel-constants.ts';

// Pure netlink message framing: the one writer of netlink headers, a payload writer for
// requests, and bounds-checked readers for replies. Header and attribute-header fields are host
// byte order; this package supports little-endian hosts only (x86_64, arm64), which
// NetlinkSocket.open checks, so the codec can use LE reads.

// Attribute-walking primitives, small enough for the JIT to inline into every decoder loop:
//   for (let off = start; off + NLA_HDRLEN <= end; off += align4(len)) { len = attrLength(...); ... }

/** The length field of the attribute at `off`, checked against its container's end. */
export function attrLength(buf: Buffer, off: number, end: number, context: string): number {
  const len = (buf[off] as number) | ((buf[off + 1] as number) << 8);
  if (len < NLA_HDRLEN || off + len > end) {
    throw malformed(context, `attribute length ${len} at offset ${off} overruns its container (ends at ${end})`);
  }
  return len;
}

/** The type of the attribute at `off`, without the NESTED/NET_BYTEORDER flags. */
function attrType(buf: Buffer, off: number): number {
  return ((buf[off + 2] as number) | ((buf[off + 3] as number) << 8)) & NLA_TYPE_MASK;
}

/** Little-endian u32 at a checked offset (the caller verified 4 bytes are there). */
export function readU32(buf: Buffer, at: number): number {
  return ((buf[at] as number) | ((buf[at + 1] as number) << 8) | ((buf[at + 2] as number) << 16)) + (buf[at + 3] as number) * 0x100_0000;
}

let lastBuffer: Buffer | undefined;
let lastWords: Uint32Array = new Uint32Array(0);

/**
 * `buf` as 32-bit words, for decoders on the dump path: one load per u32 instead of four.
 * `buf` must start 4-byte aligned in memory (see `alignedMessage`). The view of the last buffer
 * is kept, since a dump decodes thousands of messages out of the same receive buffer.
 */
export function wordsOf(buf: Buffer): Uint32Array {
  if (buf !== lastBuffer || lastWords.length !== buf.length >> 2) {
    if ((buf.byteOffset & 3) !== 0) throw new RangeError('wordsOf needs a 4-byte aligned buffer');
    lastWords = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >> 2);
    lastBuffer = buf;
  }
  return lastWords;
}

/** True when `wordsOf(buf)` can read the message at `offset` (always so in a receive buffer). */
export function isWordAligned(buf: Buffer, offset: number): boolean {
  return ((buf.byteOffset | offset) & 3) === 0;
}

/**
 * The message `buf[offset, offset + length)` where it lies if `isWordAligned`, else an aligned
 * copy of it starting at offset 0. The caller has checked that the message lies inside `buf`.
 */
export function alignedMessage<H extends { offset: number; length: number }>(buf: Buffer, header: H): { buf: Buffer; header: H } {
  if (isWordAligned(buf, header.offset)) return { buf, header };
  const copy = Buffer.alloc(align4(header.length));
  buf.copy(copy, 0, header.offset, Math.min(buf.length, header.offset + header.length));
  return { buf: copy, header: { ...header, offset: 0 } };
}

/** Highest attribute type `parseAttrs` records (IFLA_* is the largest family used, about 60). */
export const MAX_ATTR_TYPE = 127;

export function align4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * Builds the payload of one netlink message: the fixed family header (genlmsghdr, rtmsg...), then
 * (nested) attributes, each padded to 4 bytes. The netlink header is not its business: whoever
 * sends the payload frames it (`encodeMessage`). Grows its buffer as needed.
 */
export class PayloadWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialSize = 128) {
    this.buf = Buffer.alloc(initialSize);
  }

  /** Appends raw bytes (a family header such as genlmsghdr or rtmsg), padded to 4 bytes. */
  raw(bytes: Uint8Array): this {
    const at = this.reserve(align4(bytes.length));
    this.buf.set(bytes, at);
    return this;
  }

  bytes(type: number, payload: Uint8Array): this {
    const at = this.attrHeader(type, payload.length);
    this.buf.set(payload, at);
    return this;
  }

  // Each writer takes the offset first: attrHeader() may replace this.buf when it grows.
  u16(type: number, value: number): this {
    const at = this.attrHeader(type, 2);
    this.buf.writeUInt16LE(value, at);
    return this;
  }

  /** 16-bit value in network byte order (ports). */
  be16(type: number, value: number): this {
    const at = this.attrHeader(type, 2);
    this.buf.writeUInt16BE(value, at);
    return this;
  }

  u32(type: number, value: number): this {
    const at = this.attrHeader(type, 4);
    this.buf.writeUInt32LE(value >>> 0, at);
    return this;
  }

  /** NUL-terminated string. */
  string(type: number, value: string): this {
    const encoded = Buffer.from(value, 'utf8');
    const at = this.attrHeader(type, encoded.length + 1);
    this.buf.set(encoded, at);
    this.buf[at + encoded.length] = 0;
    return this;
  }

  /** Opens a nested attribute; pass the returned token to `endNest`. */
  beginNest(type: number): number {
    const start = this.pos;
    this.reserve(NLA_HDRLEN);
    this.buf.writeUInt16LE(type, start + 2);
    return start;
  }

  endNest(token: number): this {
    this.buf.writeUInt16LE(this.pos - token, token);
    return this;
  }

  /** The payload written so far (a view of the writer's buffer). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  private attrHeader(type: number, payloadLength: number): number {
    const start = this.reserve(align4(NLA_HDRLEN + payloadLength));
    this.buf.writeUInt16LE(NLA_HDRLEN + payloadLength, start);
    this.buf.writeUInt16LE(type, start + 2);
    return start + NLA_HDRLEN;
  }

  /** Reserves `n` zeroed bytes and returns their offset. */
  private reserve(n: number): number {
    const start = this.pos;
    if (start + n > this.buf.length) {
      const grown = Buffer.alloc(Math.max(this.buf.length * 2, start + n));
      this.buf.copy(grown, 0, 0, start);
      this.buf = grown;
    }
    this.pos += n;
    return start;
  }
}

/** The struct nlmsghdr fields a sender chooses; nlmsg_len follows from the payload. */
export interface HeaderFields {
  type: number;
  flags: number;
  seq: number;
  /** The sender's port id; 0 in requests (the kernel knows who sent them). */
  pid: number;
}

/**
 * A whole message: struct nlmsghdr, then `payload`. This is the one place a netlink header is
 * written. Uses `into` when it is large enough (a socket's reused send buffer), else a new buffer.
 */
export function encodeMessage(fields: HeaderFields, payload: Uint8Array, into?: Buffer): Buffer {
  const length = NLMSG_HDRLEN + payload.length;
  const buf = into !== undefined && into.length >= length ? into.subarray(0, length) : Buffer.alloc(length);
  buf.writeUInt32LE(length, 0);
  buf.writeUInt16LE(fields.type, 4);
  buf.writeUInt16LE(fields.flags, 6);
  buf.writeUInt32LE(fields.seq >>> 0, 8);
  buf.writeUInt32LE(fields.pid >>> 0, 12);
  buf.set(payload, NLMSG_HDRLEN);
  return buf;
}

/** A request as the codecs build it: everything but the netlink header, which its sender writes. */
export interface NetlinkRequest {
  /** The request's name in errors: "IPVS_CMD_NEW_DEST", "RTM_NEWROUTE", "CTRL_CMD_GETFAMILY". */
  command: string;
  /** NLM_F_* flags the operation needs (NLM_F_DUMP, NLM_F_CREATE | NLM_F_EXCL...); see `frameRequest`. */
  flags: number;
  /** Everything after the netlink header: the family header, then the attributes. */
  payload: Buffer;
}

function isDump(flags: number): boolean {
  return (flags & NLM_F_DUMP) === NLM_F_DUMP;
}

/**
 * The request exactly as NetlinkSocket sends it with sequence number `seq`: the codec's flags
 * plus NLM_F_REQUEST, and NLM_F_ACK unless it is a dump (a dump ends with NLMSG_DONE; an ACK
 * ends every other answer, so the socket knows when it has read all of it). pid is 0.
 */
export function frameRequest(type: number, request: NetlinkRequest, seq: number, into?: Buffer): Buffer {
  const flags = request.flags | NLM_F_REQUEST | (isDump(request.flags) ? 0 : NLM_F_ACK);
  return encodeMessage({ type, flags, seq, pid: 0 }, request.payload, into);
}

/** The 16-byte header of one message inside a received datagram. */
export interface MessageHeader {
  /** Offset of the header in the datagram. */
  offset: number;
  /** nlmsg_len: header + payload, unpadded. */
  length: number;
  type: number;
  flags: number;
  seq: number;
  pid: number;
}

/** A message inside a received datagram: its header and the buffer holding it. */
export interface ReceivedMessage extends MessageHeader {
  buf: Buffer;
}

/**
 * Calls `visit` for every message in `buf[0, end)`. Stops early when `visit` returns false.
 * Throws a typed error when a length field points outside the datagram. The message object is
 * reused for each message of the datagram (a dump brings thousands): copy what you keep.
 */
export function forEachMessage(buf: Buffer, end: number, visit: (message: ReceivedMessage) => boolean): void {
  const message: ReceivedMessage = { offset: 0, length: 0, type: 0, flags: 0, seq: 0, pid: 0, buf };
  let off = 0;
  while (off + NLMSG_HDRLEN <= end) {
    const length = readU32(buf, off);
    if (length < NLMSG_HDRLEN || off + length > end) {
      throw malformed('nlmsghdr', `message length ${length} at offset ${off} does not fit the ${end}-byte datagram`);
    }
    message.offset = off;
    message.length = length;
    message.type = (buf[off + 4] as number) | ((buf[off + 5] as number) << 8);
    message.flags = (buf[off + 6] as number) | ((buf[off + 7] as number) << 8);
    message.seq = readU32(buf, off + 8);
    message.pid = readU32(buf, off + 12);
    if (!visit(message)) return;
    off += align4(length);
  }
  if (off < end) throw malformed('nlmsghdr', `${end - off} trailing bytes after the last message`);
}

/** Decoded NLMSG_ERROR payload (error 0 means ACK). */
export interface ErrorPayload {
  /** Positive errno, 0 for an ACK. */
  errno: number;
  extAck: ExtendedAck | undefined;
}

/** Decodes an NLMSG_ERROR or NLMSG_DONE message (both carry an s32 error, then maybe ext-ack TLVs). */
export function decodeErrorPayload(buf: Buffer, header: MessageHeader): ErrorPayload {
  const start = header.offset + NLMSG_HDRLEN;
  const end = header.offset + header.length;
  if (end - start < 4) {
    if (header.type === NLMSG.DONE) return { errno: 0, extAck: undefined };
    throw malformed('nlmsgerr', `payload of ${end - start} bytes is shorter than the error code`);
  }
  const error = buf.readInt32LE(start);
  let tlvStart: number;
  if (header.type === NLMSG.DONE) {
    tlvStart = start + 4;
  } else {
    // The kernel echoes our request's header; without NETLINK_CAP_ACK it echoes the whole request.
    if (end - start < 4 + NLMSG_HDRLEN) throw malformed('nlmsgerr', 'missing the echoed request header');
    const echoedLength = buf.readUInt32LE(start + 4);
    const capped = (header.flags & NLM_F_CAPPED) !== 0 || error === 0;
    tlvStart = start + 4 + (capped ? NLMSG_HDRLEN : align4(echoedLength));
  }
  let extAck: ExtendedAck | undefined;
  if ((header.flags & NLM_F_ACK_TLVS) !== 0 && tlvStart < end) extAck = decodeExtAck(buf, tlvStart, end);
  return { errno: error < 0 ? -error : error, extAck };
}

function decodeExtAck(buf: Buffer, start: number, end: number): ExtendedAck {
  const attrs = parseAttrs(buf, start, end, 'ext-ack');
  const ack: ExtendedAck = {};
  if (attrs.has(NLMSGERR_ATTR.MSG)) ack.message = attrs.string(NLMSGERR_ATTR.MSG);
  if (attrs.has(NLMSGERR_ATTR.OFFS)) ack.offset = attrs.u32(NLMSGERR_ATTR.OFFS);
  if (attrs.has(NLMSGERR_ATTR.MISS_TYPE)) ack.missingType = attrs.u32(NLMSGERR_ATTR.MISS_TYPE);
  if (attrs.has(NLMSGERR_ATTR.MISS_NEST)) ack.missingNestOffset = attrs.u32(NLMSGERR_ATTR.MISS_NEST);
  return ack;
}

/**
 * The attributes of one attribute stream, indexed by type (flags masked off). When a type
 * repeats, the last one wins, as in the kernel's nla_parse. Every accessor checks the payload
 * size and throws a typed error instead of reading out of bounds.
 *
 * A table can be refilled for the next message (`fill`), so a decoder on the dump path
 * allocates nothing per attribute; `parseAttrs` makes a fresh one.
 */
export class Attrs {
  buf: Buffer = EMPTY;
  context = '';
  // Payload offset (-1 = absent) and length, per type. Types above maxType are ignored.
  private readonly offsets: Int32Array;
  private readonly lengths: Int32Array;

  constructor(maxType = MAX_ATTR_TYPE) {
    this.offsets = new Int32Array(maxType + 1);
    this.lengths = new Int32Array(maxType + 1);
  }

  /** Parses `buf[start, end)` into this table, replacing what it held. */
  fill(buf: Buffer, start: number, end: number, context: string): this {
    if (start < 0 || end > buf.length || start > end) {
      throw malformed(context, `attribute range ${start}..${end} outside the ${buf.length}-byte buffer`);
    }
    this.buf = buf;
    this.context = context;
    const offsets = this.offsets;
    const lengths = this.lengths;
    offsets.fill(-1);
    const maxType = offsets.length - 1;
    for (let off = start; off + NLA_HDRLEN <= end; ) {
      const len = attrLength(buf, off, end, context);
      // Types above the table's size are not ours to read (the kernel ignores them too).
      const type = attrType(buf, off);
      if (type <= maxType) {
        offsets[type] = off + NLA_HDRLEN;
        lengths[type] = len - NLA_HDRLEN;
      }
      off += align4(len);
    }
    // Fewer than 4 bytes left over are tolerated, as the kernel's nla_parse does.
    return this;
  }

  has(type: number): boolean {
    return type < this.offsets.length && (this.offsets[type] as number) >= 0;
  }

  /** Payload length of an attribute, or -1 when absent. */
  lengthOf(type: number): number {
    return this.has(type) ? (this.lengths[type] as number) : -1;
  }

  u16(type: number): number {
    const at = this.at(type, 2);
    return (this.buf[at] as number) | ((this.buf[at + 1] as number) << 8);
  }

  be16(type: number): number {
    const at = this.at(type, 2);
    return ((this.buf[at] as number) << 8) | (this.buf[at + 1] as number);
  }

  u32(type: number): number {
    return readU32(this.buf, this.at(type, 4));
  }

  /** 32-bit value in network byte order (nfnetlink's counters and ids). */
  be32(type: number): number {
    return this.buf.readUInt32BE(this.at(type, 4));
  }

  /** Offset of the payload in `buf`, which must be at least `size` bytes long. */
  offsetOf(type: number, size: number): number {
    return this.at(type, size);
  }

  /** The payload, as a view into the received buffer (copy it to keep it). */
  bytes(type: number): Buffer {
    const at = this.at(type, 0);
    return this.buf.subarray(at, at + (this.lengths[type] as number));
  }

  /** A string up to its first NUL (or the payload end if the sender left it out). */
  string(type: number): string {
    const at = this.at(type, 0);
    const end = at + (this.lengths[type] as number);
    let stop = at;
    while (stop < end && this.buf[stop] !== 0) stop++;
    return this.buf.toString('utf8', at, stop);
  }

  /** The attributes nested in `type`, in a new table (or in `into`, reused). */
  nested(type: number, into: Attrs = new Attrs()): Attrs {
    const at = this.at(type, 0);
    return into.fill(this.buf, at, at + (this.lengths[type] as number), this.context);
  }

  /** Offset of the payload of `type`, which must be present and at least `size` bytes long. */
  private at(type: number, size: number): number {
    const off = type < this.offsets.length ? (this.offsets[type] as number) : -1;
    if (off < 0) throw malformed(this.context, `attribute ${type} is missing`);
    const len = this.lengths[type] as number;
    if (len < size) throw malformed(this.context, `attribute ${type} has ${len} bytes, needs ${size}`);
    return off;
  }
}

const EMPTY = Buffer.alloc(0);

/** Parses the attribute stream `buf[start, end)` into a new table. */
export function parseAttrs(buf: Buffer, start: number, end: number, context: string, maxType = MAX_ATTR_TYPE): Attrs {
  return new Attrs(maxType).fill(buf, start, end, context);
}
