import { endianness } from 'node:os';
import { IpvsError, invalidInput, kernelError, malformed, syscallError } from './errors.ts';
import {
  AF_NETLINK,
  ERRNO,
  MSG_TRUNC,
  NETLINK_CAP_ACK,
  NETLINK_EXT_ACK,
  NLMSG,
  NLMSG_HDRLEN,
  NLM_F_DUMP_INTR,
  SOCK_CLOEXEC,
  SOCK_RAW,
  SOL_NETLINK,
  SOL_SOCKET,
  SO_RCVTIMEO,
} from './kernel-constants.ts';
import { checked, closeQuietly, lastErrno, libc, setsockoptInt } from './libc.ts';
import { withNetns } from './netns.ts';
import { decodeErrorPayload, forEachMessage, frameRequest, type NetlinkRequest, type ReceivedMessage } from './nlmsg.ts';

/** Size of our receive buffer. The kernel caps dump datagrams at 32 KiB; 64 KiB leaves room. */
const RECEIVE_BUFFER_SIZE = 64 * 1024;

export interface NetlinkSocketOptions {
  /** Create the socket inside network namespace /run/netns/<netns>. */
  netns?: string;
  /** Give up waiting for the kernel's answer after this long (default 10 s). */
  receiveTimeoutMs?: number;
}

/** One reply message handed to a request's `onMessage`; `buf` is reused after the callback returns. */
export type { ReceivedMessage } from './nlmsg.ts';

export interface RequestOptions {
  /** What the command was about, for error messages ("TCP 10.0.0.1:80"). */
  subject?: string;
  /** Called for each data message of the reply, in order. */
  onMessage?: (message: ReceivedMessage) => void;
}

/**
 * A netlink socket of any protocol (NETLINK_GENERIC, NETLINK_ROUTE, ...) that sends one request
 * at a time and reads its complete answer synchronously: the kernel processes a request inside
 * send(), so the answer is already queued when we read it.
 */
export class NetlinkSocket {
  readonly protocol: number;
  /** Our port id, as assigned by the kernel at bind(). Replies are addressed to it. */
  readonly portId: number;
  private descriptor: number;
  private seq: number;
  private readonly rxbuf = Buffer.alloc(RECEIVE_BUFFER_SIZE);
  // Requests are a few hundred bytes; a larger one gets a buffer of its own.
  private readonly txbuf = Buffer.alloc(4096);

  private constructor(fd: number, protocol: number, portId: number) {
    this.descriptor = fd;
    this.protocol = protocol;
    this.portId = portId;
    // Start from the clock (as libnl does) so a restarted process does not reuse the previous
    // run's sequence numbers on a long-lived shared kernel queue.
    this.seq = Date.now() >>> 0;
  }

  static open(protocol: number, options: NetlinkSocketOptions = {}): NetlinkSocket {
    if (endianness() !== 'LE') {
      throw new IpvsError({
        kind: 'syscall',
        errno: ERRNO.EAFNOSUPPORT,
        command: 'socket',
        message: 'this netlink client supports little-endian hosts only',
      });
    }
    const timeoutMs = options.receiveTimeoutMs ?? 10_000;
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
      throw invalidInput('socket', `receiveTimeoutMs must be a positive integer, got ${String(timeoutMs)}`);
    }
    const fd = withNetns(options.netns, () =>
      checked('socket', () => libc().socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol), `AF_NETLINK protocol ${protocol}`),
    );
    try {
      const kernel = sockaddrNl(0);
      checked('bind', () => libc().bind(fd, sockaddrNl(0), kernel.length));
      // Connecting to the kernel (port 0) makes the kernel refuse datagrams to us from any other
      // sender, so another local process cannot inject forged replies.
      checked('connect', () => libc().connect(fd, kernel, kernel.length));
      // Extended ACKs give us the kernel's error text; CAP_ACK stops it echoing whole requests.
      // Both are optional (kernels before 4.12 lack them), so failures are ignored.
      setsockoptInt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);
      setsockoptInt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
      setReceiveTimeout(fd, timeoutMs);
      return new NetlinkSocket(fd, protocol, localPortId(fd));
    } catch (err) {
      closeQuietly(fd);
      throw err;
    }
  }

  /**
   * The descriptor, for getsockopt-style inspection (e.g. SO_NETNS_COOKIE) and tests. Reading
   * from or writing to it directly would desynchronise request/answer matching.
   */
  get fd(): number {
    return this.descriptor;
  }

  get closed(): boolean {
    return this.descriptor < 0;
  }

  close(): void {
    if (this.descriptor < 0) return;
    closeQuietly(this.descriptor);
    this.descriptor = -1;
  }

  /**
   * Sends `request` as a message of `type` (an rtnetlink message type, or a generic netlink
   * family id), framed by `frameRequest` with the next sequence number, and consumes the
   * kernel's complete answer:
   * - dump requests (NLM_F_DUMP): every data message until NLMSG_DONE;
   * - other requests: data messages until the ACK.
   * Messages with another sequence number (stale ACKs of earlier requests) are skipped.
   * An NLMSG_ERROR answer throws an IpvsError of kind "kernel".
   */
  request(type: number, request: NetlinkRequest, options: RequestOptions = {}): void {
    const fd = this.requireOpen(request.command);
    const seq = this.send(fd, type, request);
    this.receiveAnswer(fd, seq, request.command, options);
  }

  /**
   * Sends a dump request and only counts the bytes of the answer until NLMSG_DONE, without
   * looking at the data messages: the cost of the kernel producing the dump plus the copies.
   * Exists to measure decoding overhead against.
   */
  receiveDumpBytes(type: number, request: NetlinkRequest): number {
    const { command } = request;
    const fd = this.requireOpen(command);
    const seq = this.send(fd, type, request);
    let total = 0;
    for (;;) {
      const n = this.receiveDatagram(fd, command);
      total += n;
      // NLMSG_DONE is always the last message of the last datagram; a cheap check of the
      // final header is enough here.
      let last = 0;
      let off = 0;
      while (off + NLMSG_HDRLEN <= n) {
        last = off;
        off += (this.rxbuf.readUInt32LE(off) + 3) & ~3;
      }
      const answer = this.rxbuf.readUInt16LE(last + 4);
      if (this.rxbuf.readUInt32LE(last + 8) === seq && (answer === NLMSG.DONE || answer === NLMSG.ERROR)) return total;
    }
  }

  /** Frames `request` with the next sequence number, sends it, and returns that number. */
  private send(fd: number, type: number, request: NetlinkRequest): number {
    this.seq = (this.seq + 1) >>> 0;
    if (this.seq === 0) this.seq = 1;
    const message = frameRequest(type, request, this.seq, this.txbuf);
    checked('send', () => libc().send(fd, message, message.length, 0), request.command);
    return this.seq;
  }

  private requireOpen(command: string): number {
    if (this.descriptor < 0) {
      throw new IpvsError({ kind: 'syscall', errno: ERRNO.EBADF, command, message: `${command}: the netlink socket is closed` });
    }
    return this.descriptor;
  }

  private receiveAnswer(fd: number, seq: number, command: string, options: RequestOptions): void {
    let finished = false;
    let interrupted = false;
    let failure: IpvsError | undefined;
    let callbackError: unknown;
    const handle = (header: ReceivedMessage): boolean => {
      if (header.seq !== seq || header.pid !== this.portId) return true; // not ours: stale or foreign
      if ((header.flags & NLM_F_DUMP_INTR) !== 0) interrupted = true;
      switch (header.type) {
        case NLMSG.NOOP:
          return true;
        case NLMSG.ERROR:
        case NLMSG.DONE: {
          const { errno, extAck } = decodeErrorPayload(this.rxbuf, header);
          if (errno !== 0) failure = kernelError(command, errno, options.subject, extAck);
          finished = true;
          return false;
        }
        case NLMSG.OVERRUN:
          failure = malformed(command, 'the kernel reported NLMSG_OVERRUN (data lost)');
          finished = true;
          return false;
        default:
          // A decoding failure must not abandon a dump halfway: the kernel would keep the dump
          // open and refuse the next one with EBUSY. Remember it and drain to the end.
          if (callbackError === undefined && options.onMessage !== undefined) {
            try {
              options.onMessage(header);
            } catch (err) {
              callbackError = err;
            }
          }
          return true;
      }
    };
    while (!finished) {
      const n = this.receiveDatagram(fd, command);
      forEachMessage(this.rxbuf, n, handle);
    }
    if (failure !== undefined) throw failure;
    if (callbackError !== undefined) throw callbackError;
    if (interrupted) {
      // rtnetlink marks dumps during which the table changed; the result may miss or repeat
      // entries. (IPVS never sets it.) Callers that can, dump again.
      throw new IpvsError({
        kind: 'kernel',
        errno: ERRNO.EINTR,
        command,
        message: `${command}: the dump was interrupted by a concurrent change and may be inconsistent`,
      });
    }
  }

  private receiveDatagram(fd: number, command: string): number {
    for (;;) {
      const n = libc().recv(fd, this.rxbuf, this.rxbuf.length, MSG_TRUNC);
      if (n >= 0) {
        if (n > this.rxbuf.length) {
          throw malformed(command, `a ${n}-byte datagram did not fit the ${this.rxbuf.length}-byte receive buffer`);
        }
        return n;
      }
      const errno = lastErrno();
      if (errno === ERRNO.EINTR) continue;
      if (errno === ERRNO.EAGAIN) {
        throw new IpvsError({
          kind: 'syscall',
          errno: ERRNO.ETIMEDOUT,
          command,
          message: `${command}: no answer from the kernel before the receive timeout`,
        });
      }
      throw syscallError('recv', errno, command);
    }
  }
}

/** struct sockaddr_nl for port `pid`, no multicast groups. */
function sockaddrNl(pid: number): Buffer {
  const addr = Buffer.alloc(12);
  addr.writeUInt16LE(AF_NETLINK, 0);
  addr.writeUInt32LE(pid, 4);
  return addr;
}

function localPortId(fd: number): number {
  const addr = Buffer.alloc(12);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(addr.length, 0);
  checked('getsockname', () => libc().getsockname(fd, addr, len));
  return addr.readUInt32LE(4);
}

function setReceiveTimeout(fd: number, ms: number): void {
  // struct timeval { long tv_sec; long tv_usec; } on 64-bit Linux.
  const tv = Buffer.alloc(16);
  tv.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), 0);
  tv.writeBigInt64LE(BigInt((ms % 1000) * 1000), 8);
  checked('setsockopt', () => libc().setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv, tv.length), 'SO_RCVTIMEO');
}
