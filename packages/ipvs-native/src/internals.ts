// What the benchmarks use below the public API: a raw IPVS channel, to time receiving a dump's
// bytes against decoding them. Not covered by the stability promise of the main entry point.

export { openIpvsChannel } from './client.ts';
export type { GenlChannel } from './genl.ts';
export { encodeGetDests } from './ipvs-codec.ts';
export { checkServiceKey } from './ipvs-wire.ts';
