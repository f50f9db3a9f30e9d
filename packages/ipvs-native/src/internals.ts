// Building blocks below the public API, for benchmarks and advanced tooling. Not covered by the
// stability promise of the package's main entry point.

export { openIpvsChannel } from './client.ts';
export { GenlChannel, resolveFamily, type GenlFamily } from './genl.ts';
export { NETLINK_GENERIC, NETLINK_ROUTE, NetlinkSocket, type NetlinkSocketOptions, type ReceivedMessage, type RequestOptions } from './netlink.ts';
export * as ipvsCodec from './ipvs-codec.ts';
export { checkDestKey, checkDestSpec, checkServiceKey, checkServiceSpec, checkTimeouts } from './ipvs-wire.ts';
