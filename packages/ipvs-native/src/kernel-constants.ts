import { constants as osConstants } from 'node:os';

// Every number this package takes from the kernel's and libc's headers, in one place, so a reader
// can check each against its header and no number is written twice. Two shapes:
// - an enumeration (alternatives: message types, commands, attribute types, scopes) is one frozen
//   object named by its C prefix, so `IPVS_CMD.NEW_DEST` is C's IPVS_CMD_NEW_DEST, and the names
//   printed in errors are derived from it (see the end of this file);
// - flags, masks, sizes and single values are plain constants named exactly as in C.
// Only what the package uses is here (IPVS_DEST_ATTR lists the TUN_* types the kernel sends and
// the decoder skips). Linux x86_64/arm64 values, the only hosts the package supports.

// ---------------------------------------------------------------------------------------------
// Sockets, files, namespaces (sys/socket.h, fcntl.h, sched.h, netinet/in.h)

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;

export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_RCVTIMEO = 20;
export const MSG_TRUNC = 0x20;

export const O_RDONLY = 0;
export const O_CLOEXEC = 0o2000000;
export const CLONE_NEWNET = 0x40000000;

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_SCTP = 132;

/** IFNAMSIZ: a link name is at most 15 characters plus its NUL. */
export const IFNAMSIZ = 16;

/**
 * errno values, as the C library of this (Linux) platform defines them; Node ships the table, so
 * it is not copied here. The kernel's netlink errors use the same numbers.
 */
export const ERRNO = osConstants.errno;

// ---------------------------------------------------------------------------------------------
// Netlink (linux/netlink.h, linux/socket.h)

export const NETLINK_ROUTE = 0;
export const NETLINK_GENERIC = 16;
export const SOL_NETLINK = 270;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;

/** Message types below NLMSG_MIN_TYPE (0x10) are netlink's own control messages. */
export const NLMSG = Object.freeze({ NOOP: 1, ERROR: 2, DONE: 3, OVERRUN: 4 });
export const NLMSG_HDRLEN = 16;

export const NLM_F_REQUEST = 0x0001;
export const NLM_F_ACK = 0x0004;
export const NLM_F_DUMP_INTR = 0x0010;
/** Modifiers of GET requests. */
export const NLM_F_DUMP = 0x0300;
/** Modifiers of NEW requests. */
export const NLM_F_REPLACE = 0x0100;
export const NLM_F_EXCL = 0x0200;
export const NLM_F_CREATE = 0x0400;
/** Flags of an NLMSG_ERROR answer. */
export const NLM_F_CAPPED = 0x0100;
export const NLM_F_ACK_TLVS = 0x0200;

/** Extended-ACK attributes after an NLMSG_ERROR's echoed header. */
export const NLMSGERR_ATTR = Object.freeze({ MSG: 1, OFFS: 2, MISS_TYPE: 5, MISS_NEST: 6 });

export const NLA_HDRLEN = 4;
export const NLA_F_NESTED = 0x8000;
/** The type bits of nla_type, without NLA_F_NESTED and NLA_F_NET_BYTEORDER. */
export const NLA_TYPE_MASK = 0x3fff;

// ---------------------------------------------------------------------------------------------
// Generic netlink (linux/genetlink.h)

export const GENL_HDRLEN = 4;
export const GENL_NAMSIZ = 16;
/** The controller family ("nlctrl") has this fixed id; every other id is looked up through it. */
export const GENL_ID_CTRL = 0x10;
export const CTRL_CMD = Object.freeze({ NEWFAMILY: 1, GETFAMILY: 3 });
export const CTRL_ATTR = Object.freeze({ FAMILY_ID: 1, FAMILY_NAME: 2, VERSION: 3, HDRSIZE: 4, MAXATTR: 5 });

// ---------------------------------------------------------------------------------------------
// IPVS (linux/ip_vs.h)

export const IPVS_GENL_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 1;

export const IPVS_CMD = Object.freeze({
  NEW_SERVICE: 1,
  SET_SERVICE: 2,
  DEL_SERVICE: 3,
  GET_SERVICE: 4,
  NEW_DEST: 5,
  SET_DEST: 6,
  DEL_DEST: 7,
  GET_DEST: 8,
  SET_CONFIG: 12,
  GET_CONFIG: 13,
  SET_INFO: 14,
  GET_INFO: 15,
  ZERO: 16,
  FLUSH: 17,
});

export const IPVS_CMD_ATTR = Object.freeze({ SERVICE: 1, DEST: 2, TIMEOUT_TCP: 4, TIMEOUT_TCP_FIN: 5, TIMEOUT_UDP: 6 });

export const IPVS_SVC_ATTR = Object.freeze({
  AF: 1,
  PROTOCOL: 2,
  ADDR: 3,
  PORT: 4,
  FWMARK: 5,
  SCHED_NAME: 6,
  FLAGS: 7,
  TIMEOUT: 8,
  NETMASK: 9,
  STATS: 10,
  PE_NAME: 11,
  STATS64: 12,
});

export const IPVS_DEST_ATTR = Object.freeze({
  ADDR: 1,
  PORT: 2,
  FWD_METHOD: 3,
  WEIGHT: 4,
  U_THRESH: 5,
  L_THRESH: 6,
  ACTIVE_CONNS: 7,
  INACT_CONNS: 8,
  PERSIST_CONNS: 9,
  STATS: 10,
  ADDR_FAMILY: 11,
  STATS64: 12,
  TUN_TYPE: 13,
  TUN_PORT: 14,
  TUN_FLAGS: 15,
});

/** Counters of a STATS or STATS64 nest; the u64 STATS_ATTR_PAD (11) is skipped. */
export const IPVS_STATS_ATTR = Object.freeze({
  CONNS: 1,
  INPKTS: 2,
  OUTPKTS: 3,
  INBYTES: 4,
  OUTBYTES: 5,
  CPS: 6,
  INPPS: 7,
  OUTPPS: 8,
  INBPS: 9,
  OUTBPS: 10,
});

export const IPVS_INFO_ATTR = Object.freeze({ VERSION: 1, CONN_TAB_SIZE: 2 });

/** IP_VS_SVC_F_* service flags. */
export const IP_VS_SVC_F_PERSISTENT = 0x0001;
/** Set by the kernel on every live service; never part of a service's configuration. */
export const IP_VS_SVC_F_HASHED = 0x0002;
export const IP_VS_SVC_F_ONEPACKET = 0x0004;

/** Forwarding methods: the low bits (IP_VS_CONN_F_FWD_MASK) of a destination's conn flags. */
export const IP_VS_CONN_F = Object.freeze({ MASQ: 0, LOCALNODE: 1, TUNNEL: 2, DROUTE: 3 });
export const IP_VS_CONN_F_FWD_MASK = 0x0007;

export const IP_VS_SCHEDNAME_MAXLEN = 16;

// ---------------------------------------------------------------------------------------------
// rtnetlink (linux/rtnetlink.h, if_link.h, if_addr.h, if.h)

export const RTM = Object.freeze({
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
});

export const IFLA = Object.freeze({ ADDRESS: 1, IFNAME: 3, MTU: 4, LINKINFO: 18 });
export const IFLA_INFO = Object.freeze({ KIND: 1 });
export const IFF_UP = 0x1;

export const IFA = Object.freeze({ ADDRESS: 1, LOCAL: 2, FLAGS: 8 });
export const IFA_F_NODAD = 0x02;

export const RTA = Object.freeze({ DST: 1, OIF: 4, GATEWAY: 5, PRIORITY: 6, PREFSRC: 7, TABLE: 15 });
export const RT_TABLE = Object.freeze({ UNSPEC: 0, MAIN: 254 });
export const RT_SCOPE = Object.freeze({ UNIVERSE: 0, LINK: 253, NOWHERE: 255 });
export const RTPROT = Object.freeze({ BOOT: 3 });
export const RTN = Object.freeze({ UNICAST: 1 });

// ---------------------------------------------------------------------------------------------
// nf_tables over nfnetlink (linux/netlink.h, linux/netfilter/nfnetlink.h, nf_tables.h)

export const NETLINK_NETFILTER = 12;
export const NFNETLINK_V0 = 0;
/** The nfgenmsg header (family, version, res_id) before an nfnetlink message's attributes. */
export const NFGENMSG_LEN = 4;
/** An nfnetlink message type is (subsystem << 8) | message. */
export const NFNL_SUBSYS_NFTABLES = 10;
export const NFT_MSG = Object.freeze({ NEWGEN: 15, GETGEN: 16 });
export const NFTA_GEN = Object.freeze({ ID: 1, PROC_PID: 2, PROC_NAME: 3 });

// ---------------------------------------------------------------------------------------------
// Names for messages, derived from the enumerations above

/** value -> "PREFIX_KEY" over one enumeration; `unknown` names a value it does not have. */
function nameTable(prefix: string, values: Readonly<Record<string, number>>, unknown: (value: number) => string): (value: number) => string {
  const names = new Map(Object.entries(values).map(([key, value]) => [value, prefix + key]));
  return (value) => names.get(value) ?? unknown(value);
}

/** 5 -> "IPVS_CMD_NEW_DEST". */
export const ipvsCommandName = nameTable('IPVS_CMD_', IPVS_CMD, (cmd) => `IPVS command ${cmd}`);
/** 3 -> "CTRL_CMD_GETFAMILY". */
export const ctrlCommandName = nameTable('CTRL_CMD_', CTRL_CMD, (cmd) => `nlctrl command ${cmd}`);
/** 24 -> "RTM_NEWROUTE". */
export const rtmName = nameTable('RTM_', RTM, (type) => `rtnetlink ${type}`);
/** 17 -> "EEXIST"; a number the platform has no name for becomes "E<n>". */
export const errnoName = nameTable('', ERRNO, (errno) => `E${errno}`);
