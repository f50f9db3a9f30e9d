import * as koffi from 'koffi';
import { syscallError } from './errors.ts';

// Thin, typed koffi bindings to the few libc calls a netlink client needs. Buffers are passed
// straight through as pointers (koffi does not copy them), so callers own all memory.
// Every wrapper returns the raw C result; `lastErrno()` reads errno as koffi saved it right
// after the call, before any other JS could clobber it.

export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_RCVTIMEO = 20;
export const SO_NETNS_COOKIE = 71;
export const SOL_NETLINK = 270;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;
export const MSG_TRUNC = 0x20;
export const O_RDONLY = 0;
export const O_CLOEXEC = 0o2000000;
export const CLONE_NEWNET = 0x40000000;
export const EINTR = 4;
export const EAGAIN = 11;

interface LibcFunctions {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Buffer, addrlen: number): number;
  connect(fd: number, addr: Buffer, addrlen: number): number;
  getsockname(fd: number, addr: Buffer, addrlen: Buffer): number;
  send(fd: number, buf: Buffer, len: number, flags: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer | null, addrlen: number): number;
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  recvfrom(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer | null, addrlen: Buffer | null): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
  getsockopt(fd: number, level: number, name: number, value: Buffer, len: Buffer): number;
  close(fd: number): number;
  open(path: string, flags: number): number;
  setns(fd: number, nstype: number): number;
}

let bound: LibcFunctions | undefined;

function bind(): LibcFunctions {
  const lib = koffi.load('libc.so.6');
  // `open` is variadic in C; declaring it so keeps the call ABI-correct on every architecture.
  const openVariadic = lib.func('int open(const char *path, int flags, ...)');
  return {
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    bind: lib.func('int bind(int fd, const void *addr, uint32_t addrlen)'),
    connect: lib.func('int connect(int fd, const void *addr, uint32_t addrlen)'),
    getsockname: lib.func('int getsockname(int fd, void *addr, void *addrlen)'),
    send: lib.func('intptr_t send(int fd, const void *buf, size_t len, int flags)'),
    sendto: lib.func('intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)'),
    recv: lib.func('intptr_t recv(int fd, void *buf, size_t len, int flags)'),
    recvfrom: lib.func('intptr_t recvfrom(int fd, void *buf, size_t len, int flags, void *addr, void *addrlen)'),
    setsockopt: lib.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)'),
    getsockopt: lib.func('int getsockopt(int fd, int level, int name, void *value, void *len)'),
    close: lib.func('int close(int fd)'),
    open: (path: string, flags: number): number => openVariadic(path, flags) as number,
    setns: lib.func('int setns(int fd, int nstype)'),
  };
}

/** The libc bindings, loaded on first use so importing this package never touches native code. */
export function libc(): LibcFunctions {
  bound ??= bind();
  return bound;
}

/** errno as saved by koffi after the most recent native call. */
export function lastErrno(): number {
  return koffi.errno();
}

/** Calls `fn` until it stops failing with EINTR; throws an IpvsError for any other failure. */
export function checked(call: string, fn: () => number, detail?: string): number {
  for (;;) {
    const result = fn();
    if (result >= 0) return result;
    const errno = lastErrno();
    if (errno !== EINTR) throw syscallError(call, errno, detail);
  }
}

/** Closes a descriptor, ignoring errors: used on cleanup paths that must not mask the real error. */
export function closeQuietly(fd: number): void {
  if (fd >= 0) libc().close(fd);
}

/** Reads an integer socket option (e.g. SO_NETNS_COOKIE as a 64-bit value). */
export function getsockoptU64(fd: number, level: number, name: number): bigint {
  const value = Buffer.alloc(8);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(8, 0);
  checked('getsockopt', () => libc().getsockopt(fd, level, name, value, len));
  return value.readBigUInt64LE(0);
}

/** Sets an integer socket option. Returns the errno on failure instead of throwing. */
export function setsockoptInt(fd: number, level: number, name: number, value: number): number {
  const buf = Buffer.alloc(4);
  buf.writeInt32LE(value, 0);
  return libc().setsockopt(fd, level, name, buf, 4) === 0 ? 0 : lastErrno();
}
