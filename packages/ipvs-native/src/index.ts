// Public API of @lvscare/ipvs-native: an IPVS client and an rtnetlink client over a native
// netlink layer (koffi-bound libc, no compile step).

export { IpvsClient, type IpvsClientOptions } from './client.ts';
export { IpvsError, isIpvsError, type ExtendedAck, type IpvsErrorKind } from './errors.ts';
export { withNetns } from './netns.ts';
export { canonicalAddress } from './inet.ts';
export { IP_VS_SVC_F_HASHED, IP_VS_SVC_F_ONEPACKET, IP_VS_SVC_F_PERSISTENT } from './kernel-constants.ts';
export { MAX_WEIGHT } from './ipvs-wire.ts';
export type {
  AddressFamily,
  AddressServiceKey,
  Destination,
  DestinationSpec,
  ForwardMethod,
  FwmarkServiceKey,
  IpvsInfo,
  IpvsTimeouts,
  Protocol,
  Service,
  ServiceKey,
  ServiceOptions,
  ServiceSpec,
  ServiceState,
  Stats,
} from './types.ts';
export { isFwmarkKey } from './types.ts';
export { NftGenerationClient, type NftGenerationClientOptions } from './nftables-generation.ts';
export { RouteClient, type AddressOptions, type Link, type LinkAddress, type Route, type RouteClientOptions, type RouteFilter, type RouteSpec } from './rtnetlink.ts';
