/**
 * Every number of the IPVS generic netlink family, in one place: commands, attributes,
 * flags and sizes from the kernel's include/uapi/linux/ip_vs.h (checked against
 * net/netfilter/ipvs/ip_vs_ctl.c, which decides what each command reads and answers), the IP
 * protocol numbers a service carries, and the schedulers and persistence engines a stock
 * kernel ships. Netlink's own numbers and errno values are in src/netlink/constants.ts.
 */

export const IPVS_GENL_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 1;

/** The version the kernel reports (GET_INFO), 0x010201 -> "1.2.1". */
export const IP_VS_VERSION_CODE = 0x010201;

export function formatVersion(code: number): string {
  return `${(code >> 16) & 0xff}.${(code >> 8) & 0xff}.${code & 0xff}`;
}

/** enum IPVS_CMD_* */
export const IpvsCmd = {
  UNSPEC: 0,
  NEW_SERVICE: 1,
  SET_SERVICE: 2,
  DEL_SERVICE: 3,
  GET_SERVICE: 4,
  NEW_DEST: 5,
  SET_DEST: 6,
  DEL_DEST: 7,
  GET_DEST: 8,
  NEW_DAEMON: 9,
  DEL_DAEMON: 10,
  GET_DAEMON: 11,
  SET_CONFIG: 12,
  GET_CONFIG: 13,
  SET_INFO: 14,
  GET_INFO: 15,
  ZERO: 16,
  FLUSH: 17,
} as const;
export type IpvsCmd = (typeof IpvsCmd)[keyof typeof IpvsCmd];

/** enum IPVS_CMD_ATTR_*: first-level attributes. */
export const CmdAttr = {
  SERVICE: 1,
  DEST: 2,
  DAEMON: 3,
  TIMEOUT_TCP: 4,
  TIMEOUT_TCP_FIN: 5,
  TIMEOUT_UDP: 6,
} as const;

/** enum IPVS_SVC_ATTR_*: inside CmdAttr.SERVICE. */
export const SvcAttr = {
  AF: 1, // u16
  PROTOCOL: 2, // u16
  ADDR: 3, // 16 bytes, union nf_inet_addr
  PORT: 4, // be16
  FWMARK: 5, // u32
  SCHED_NAME: 6, // NUL string, max 15 chars
  FLAGS: 7, // struct ip_vs_flags { u32 flags; u32 mask; }
  TIMEOUT: 8, // u32 seconds
  NETMASK: 9, // be32 (IPv4 mask) or host-order u32 prefix length (IPv6)
  STATS: 10, // nested, StatsAttr (32-bit counters)
  PE_NAME: 11, // NUL string, max 15 chars
  STATS64: 12, // nested, StatsAttr (64-bit counters)
} as const;

/** enum IPVS_DEST_ATTR_*: inside CmdAttr.DEST. */
export const DestAttr = {
  ADDR: 1, // 16 bytes
  PORT: 2, // be16
  FWD_METHOD: 3, // u32, IP_VS_CONN_F_FWD_MASK bits
  WEIGHT: 4, // u32 (s32 in the kernel)
  U_THRESH: 5, // u32
  L_THRESH: 6, // u32
  ACTIVE_CONNS: 7, // u32
  INACT_CONNS: 8, // u32
  PERSIST_CONNS: 9, // u32
  STATS: 10, // nested
  ADDR_FAMILY: 11, // u16
  STATS64: 12, // nested
  TUN_TYPE: 13, // u8
  TUN_PORT: 14, // be16
  TUN_FLAGS: 15, // u16
} as const;

/** enum IPVS_DAEMON_ATTR_*: inside CmdAttr.DAEMON. */
export const DaemonAttr = {
  STATE: 1, // u32
  MCAST_IFN: 2, // NUL string, max 15 chars
  SYNC_ID: 3, // u32
  SYNC_MAXLEN: 4, // u16
  MCAST_GROUP: 5, // 4 bytes, network order (nla_get_in_addr)
  MCAST_GROUP6: 6, // 16 bytes
  MCAST_PORT: 7, // u16 (host order)
  MCAST_TTL: 8, // u8
} as const;

/** enum IPVS_STATS_ATTR_*: inside SvcAttr.STATS / STATS64 and DestAttr.STATS / STATS64. */
export const StatsAttr = {
  CONNS: 1,
  INPKTS: 2,
  OUTPKTS: 3,
  INBYTES: 4, // u64 in both
  OUTBYTES: 5, // u64 in both
  CPS: 6,
  INPPS: 7,
  OUTPPS: 8,
  INBPS: 9,
  OUTBPS: 10,
  PAD: 11, // alignment padding for u64 attributes; skipped
} as const;

/** enum IPVS_INFO_ATTR_*: first level of the GET_INFO reply. */
export const InfoAttr = {
  VERSION: 1, // u32
  CONN_TAB_SIZE: 2, // u32
} as const;

/** IP_VS_SVC_F_* */
export const SvcFlag = {
  PERSISTENT: 0x0001,
  HASHED: 0x0002,
  ONEPACKET: 0x0004,
  SCHED1: 0x0008,
  SCHED2: 0x0010,
  SCHED3: 0x0020,
} as const;

/** IP_VS_CONN_F_* forwarding methods (IP_VS_CONN_F_FWD_MASK = 7). */
export const ConnFwd = {
  MASQ: 0,
  LOCALNODE: 1,
  TUNNEL: 2,
  DROUTE: 3,
  BYPASS: 4,
} as const;
export const IP_VS_CONN_F_FWD_MASK = 0x7;

/** IP_VS_CONN_F_TUNNEL_TYPE_* */
export const TunnelTypeNum = { IPIP: 0, GUE: 1, GRE: 2 } as const;

/** IP_VS_TUNNEL_ENCAP_FLAG_* */
export const TunnelFlag = { CSUM: 1 << 0, REMCSUM: 1 << 1 } as const;

/** IP_VS_STATE_* (sync daemon). */
export const DaemonState = { NONE: 0, MASTER: 1, BACKUP: 2 } as const;

/** Sizes from ip_vs.h. Names are NUL-terminated inside these. */
export const IP_VS_SCHEDNAME_MAXLEN = 16;
export const IP_VS_PENAME_MAXLEN = 16;
export const IP_VS_IFNAME_MAXLEN = 16;

/** IP protocol numbers. */
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_SCTP = 132;

/**
 * The schedulers a stock Debian 6.1 kernel ships (ip_vs_<name>.ko); "twos" came in 6.2.
 * The fake accepts these plus "none" (a service without scheduler, accepted since 4.x).
 */
export const KNOWN_SCHEDULERS = [
  'rr',
  'wrr',
  'lc',
  'wlc',
  'lblc',
  'lblcr',
  'dh',
  'sh',
  'sed',
  'nq',
  'fo',
  'ovf',
  'mh',
] as const;

/** Persistence engines a stock kernel ships (ip_vs_pe_<name>.ko). */
export const KNOWN_PERSISTENCE_ENGINES = ['sip'] as const;
