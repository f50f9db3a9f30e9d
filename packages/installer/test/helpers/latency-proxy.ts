/**
 * A TCP proxy that adds a fixed one-way delay in both directions, for an SSH client against a
 * test host as if across a slow WAN link (this kernel has no netem). It listens on 127.0.0.1 in
 * the test process's namespace and connects to the host from the hosts' client namespace; bytes
 * keep their order, only their arrival is late.
 */
import { createServer, Socket, type AddressInfo, type Server } from "node:net";
import { socketInNetns } from "../hosts/netns-socket.ts";
import type { TestHost, TestHosts } from "../hosts/test-hosts.ts";

export interface LatencyProxy extends AsyncDisposable {
  /** What to give the pool as the host's address: 127.0.0.1:<port>. */
  readonly address: string;
  /** A SocketFactory for HostPool: a plain socket in this namespace, to reach the proxy. */
  readonly createSocket: () => Socket;
  close(): Promise<void>;
}

export async function latencyProxy(hosts: TestHosts, host: TestHost, oneWayDelayMs: number): Promise<LatencyProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = socketInNetns(hosts.clientNetns, host.address);
    sockets.add(client).add(upstream);
    const forward = (from: Socket, to: Socket) => {
      from.on("data", (chunk: Buffer) => setTimeout(() => to.destroyed || to.write(chunk), oneWayDelayMs));
      from.on("end", () => setTimeout(() => to.end(), oneWayDelayMs));
      from.on("error", () => to.destroy());
      from.on("close", () => sockets.delete(from));
    };
    forward(client, upstream);
    forward(upstream, client);
    upstream.connect({ host: host.address, port: 22 });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const close = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { address: `127.0.0.1:${port}`, createSocket: () => new Socket(), close, [Symbol.asyncDispose]: close };
}
