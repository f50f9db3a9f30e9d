/**
 * TCP sockets that live in another network namespace, for an in-process SSH client: the socket
 * is created inside the namespace (socket(2) while this thread is switched into it), then handed
 * to Node, which connects it. A socket belongs to the namespace it was created in for its whole
 * life, so nothing else in the process changes namespace.
 */
import { Socket } from "node:net";
import { isIPv6 } from "node:net";
import * as koffi from "koffi";
import { withNetns } from "@lvscare/ipvs-native";

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;

let socketCall: ((domain: number, type: number, protocol: number) => number) | undefined;

function libcSocket(domain: number): number {
  socketCall ??= koffi.load("libc.so.6").func("int socket(int domain, int type, int protocol)") as (domain: number, type: number, protocol: number) => number;
  const fd = socketCall(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`socket() failed in a network namespace: errno ${koffi.errno()}`);
  return fd;
}

/** An unconnected TCP socket in network namespace `netns`, for an address of `host`'s family. */
export function socketInNetns(netns: string, host: string): Socket {
  const fd = withNetns(netns, () => libcSocket(isIPv6(host) ? AF_INET6 : AF_INET));
  return new Socket({ fd, readable: true, writable: true });
}
