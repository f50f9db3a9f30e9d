// SO_NETNS_COOKIE of a socket: which network namespace it lives in, as a number that two sockets
// share exactly when their namespaces are the same. Only the tests ask, so the binding lives here.
import * as koffi from 'koffi';
import { SOL_SOCKET } from '../src/kernel-constants.ts';

/** asm-generic/socket.h; Linux 5.14 and later. */
const SO_NETNS_COOKIE = 71;

let getsockopt: ((fd: number, level: number, name: number, value: Buffer, len: Buffer) => number) | undefined;

export function netnsCookie(fd: number): bigint {
  getsockopt ??= koffi.load('libc.so.6').func('int getsockopt(int fd, int level, int name, void *value, void *len)');
  const value = Buffer.alloc(8);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(8, 0);
  if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, value, len) !== 0) {
    throw new Error(`getsockopt(SO_NETNS_COOKIE) failed: errno ${koffi.errno()} (needs Linux 5.14 or later)`);
  }
  return value.readBigUInt64LE(0);
}
