/**
 * The route-mode gateway comes from the hosts file, where sealos (and seal) write
 * `<node IP> lvscare.node.ip` on every worker. The reading rules are the shared contract.
 */
export { findHostsAddress } from "@lvscare/contracts/hosts";
export { NODE_IP_HOST_NAME } from "@lvscare/contracts/names";
