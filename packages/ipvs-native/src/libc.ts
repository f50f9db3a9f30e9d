import * as koffi from 'koffi';
import { syscallError } from './errors.ts';
import { ERRNO } from './kernel-constants.ts';

// Thin, typed koffi bindings to the few libc calls a netlink client needs. Buffers are passed
// straight through as pointers (koffi does not copy them), so callers own all memory.
// Every wrapper returns the raw C result; `lastErrno()` reads errno as koffi saved it right
// after the call, before any other JS could clobber it.

interface LibcFunctions {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Buffer, addrlen: number): number;
  connect(fd: number, addr: Buffer, addrlen: number): number;
  getsockname(fd: number, addr: Buffer, addrlen: Buffer): number;
  send(fd: number, buf: Buffer, len: number, flags: number): number;
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
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
    recv: lib.func('intptr_t recv(int fd, void *buf, size_t len, int flags)'),
    setsockopt: lib.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)'),
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
    if (errno !== ERRNO.EINTR) throw syscallError(call, errno, detail);
  }
}

/** Closes a descriptor, ignoring errors: used on cleanup paths that must not mask the real error. */
export function closeQuietly(fd: number): void {
  if (fd >= 0) libc().close(fd);
}

/** Sets an integer socket option. Returns the errno on failure instead of throwing. */
export function setsockoptInt(fd: number, level: number, name: number, value: number): number {
  const buf = Buffer.alloc(4);
  buf.writeInt32LE(value, 0);
  return libc().setsockopt(fd, level, name, buf, 4) === 0 ? 0 : lastErrno();
}
