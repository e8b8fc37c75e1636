/**
 * The IPVS generic netlink codec: pure functions between lvsd's model (model.ts) and the
 * attributes of include/uapi/linux/ip_vs.h. Framing (netlink and genl headers, attribute
 * TLVs, alignment) is src/netlink's; which attribute carries what, and in which byte order,
 * is decided here, checked against net/netfilter/ipvs/ip_vs_ctl.c:
 *
 * - ports (service, dest, tunnel) are big-endian u16; the service flags are
 *   struct ip_vs_flags { u32 flags; u32 mask; } in host order;
 * - the service netmask is one u32 with two meanings: for IPv4 the mask in network order
 *   (255.255.255.0 = ff ff ff 00), for IPv6 the prefix length in host order;
 * - addresses are the 16-byte union nf_inet_addr (IPv4 in the first 4 bytes);
 * - stats come twice, as STATS (32-bit counters) and STATS64; STATS64 wins when present;
 * - unknown attributes (newer kernels) are skipped, so are STATS_ATTR_PAD fillers.
 */
import { NLA_ALIGNTO, NLA_HDRLEN, NLA_TYPE_MASK } from '../netlink/constants.js';
import { AF_INET, AF_INET6, bytesToAddress, prefixToIpv4MaskValue } from '../netlink/inet.js';
import {
  AttrCursor,
  attrOverrun,
  be16At,
  be32At,
  NetlinkDecodeError,
  shortValue,
  u16At,
  u32At,
  u64At,
} from '../netlink/reader.js';
import {
  AttrTemplate,
  NetlinkWriter,
  rememberIpv4,
  type PayloadWriter,
} from '../netlink/writer.js';
import {
  CmdAttr,
  ConnFwd,
  DaemonAttr,
  DaemonState,
  DestAttr,
  formatVersion,
  InfoAttr,
  IP_VS_CONN_F_FWD_MASK,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPVS_GENL_VERSION,
  StatsAttr,
  SvcAttr,
  SvcFlag,
  TunnelFlag,
  TunnelTypeNum,
} from './constants.js';
import type {
  Dest,
  DestKey,
  Family,
  Forwarding,
  IpvsInfo,
  LiveDest,
  LiveService,
  Protocol,
  Service,
  ServiceFlags,
  ServiceKey,
  Stats,
  SyncDaemon,
  Timeouts,
  TunnelType,
} from './model.js';
import { emptyStats, isFwmarkKey } from './model.js';

/** Bytes that are valid netlink but not a valid IPVS object (never merely unknown attributes). */
export class IpvsDecodeError extends NetlinkDecodeError {
  override readonly name = 'IpvsDecodeError';
}

// ---------------------------------------------------------------------------
// Enumerations

export function familyToAf(family: Family): number {
  return family === 'ipv6' ? AF_INET6 : AF_INET;
}
export function afToFamily(af: number): Family {
  if (af === AF_INET) return 'ipv4';
  if (af === AF_INET6) return 'ipv6';
  throw new IpvsDecodeError(`unknown address family ${af}`);
}

const protocolNumbers: Record<Protocol, number> = {
  tcp: IPPROTO_TCP,
  udp: IPPROTO_UDP,
  sctp: IPPROTO_SCTP,
};
export function protocolToNumber(protocol: Protocol): number {
  return protocolNumbers[protocol];
}
export function numberToProtocol(n: number): Protocol {
  if (n === IPPROTO_TCP) return 'tcp';
  if (n === IPPROTO_UDP) return 'udp';
  if (n === IPPROTO_SCTP) return 'sctp';
  throw new IpvsDecodeError(`unsupported IP protocol ${n}`);
}

const forwardingNumbers: Record<Forwarding, number> = {
  nat: ConnFwd.MASQ,
  local: ConnFwd.LOCALNODE,
  tun: ConnFwd.TUNNEL,
  dr: ConnFwd.DROUTE,
  bypass: ConnFwd.BYPASS,
};
export function forwardingToNumber(forwarding: Forwarding): number {
  return forwardingNumbers[forwarding];
}
export function numberToForwarding(n: number): Forwarding {
  switch (n & IP_VS_CONN_F_FWD_MASK) {
    case ConnFwd.MASQ:
      return 'nat';
    case ConnFwd.LOCALNODE:
      return 'local';
    case ConnFwd.TUNNEL:
      return 'tun';
    case ConnFwd.DROUTE:
      return 'dr';
    case ConnFwd.BYPASS:
      return 'bypass';
    default:
      throw new IpvsDecodeError(`unknown forwarding method ${n & IP_VS_CONN_F_FWD_MASK}`);
  }
}

const tunnelTypeNumbers: Record<TunnelType, number> = {
  ipip: TunnelTypeNum.IPIP,
  gue: TunnelTypeNum.GUE,
  gre: TunnelTypeNum.GRE,
};
export function numberToTunnelType(n: number): TunnelType {
  if (n === TunnelTypeNum.IPIP) return 'ipip';
  if (n === TunnelTypeNum.GUE) return 'gue';
  if (n === TunnelTypeNum.GRE) return 'gre';
  throw new IpvsDecodeError(`unknown tunnel type ${n}`);
}

export function serviceFlagsToNumber(flags: ServiceFlags): number {
  return (
    (flags.persistent ? SvcFlag.PERSISTENT : 0) |
    (flags.onePacket ? SvcFlag.ONEPACKET : 0) |
    (flags.sched1 ? SvcFlag.SCHED1 : 0) |
    (flags.sched2 ? SvcFlag.SCHED2 : 0) |
    (flags.sched3 ? SvcFlag.SCHED3 : 0)
  );
}
/** HASHED (set by the kernel on every listed service) is dropped: it is not the user's. */
export function numberToServiceFlags(n: number): ServiceFlags {
  return {
    persistent: (n & SvcFlag.PERSISTENT) !== 0,
    onePacket: (n & SvcFlag.ONEPACKET) !== 0,
    sched1: (n & SvcFlag.SCHED1) !== 0,
    sched2: (n & SvcFlag.SCHED2) !== 0,
    sched3: (n & SvcFlag.SCHED3) !== 0,
  };
}

/** The prefix length a NETMASK attribute's 4 bytes stand for (see the header comment). */
export function netmaskPrefix(family: Family, bytes: Buffer): number {
  if (family === 'ipv6') return u32At(bytes, 0);
  const mask = be32At(bytes, 0);
  const hostBits = ~mask >>> 0;
  // Contiguous: the host bits are all ones at the bottom (their successor a power of two).
  if ((hostBits & (hostBits + 1)) !== 0)
    throw new IpvsDecodeError(
      `non-contiguous IPv4 netmask ${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`,
    );
  return 32 - Math.log2(hostBits + 1);
}

// ---------------------------------------------------------------------------
// Encoding: attribute writers. Each appends one top-level attribute to the message `w` is
// writing (src/netlink/writer.ts: straight into the sendmsg buffer, nothing allocated per
// attribute).

/** A service key's nest by address (protocol, address, port), as a template (see DEST below). */
const ADDRESS_KEY = new AttrTemplate((w) => {
  w.beginNested(CmdAttr.SERVICE);
  putServiceIdentity(w, { family: 'ipv6', protocol: 'tcp', address: '::', port: 0 });
  w.endNested();
});
const ADDRESS_KEY_AT = {
  family: ADDRESS_KEY.valueAt(CmdAttr.SERVICE, SvcAttr.AF),
  protocol: ADDRESS_KEY.valueAt(CmdAttr.SERVICE, SvcAttr.PROTOCOL),
  addr: ADDRESS_KEY.valueAt(CmdAttr.SERVICE, SvcAttr.ADDR),
  port: ADDRESS_KEY.valueAt(CmdAttr.SERVICE, SvcAttr.PORT),
};

/**
 * IPVS_CMD_ATTR_SERVICE with only the identifying attributes (for DEL, GET, ZERO, dests).
 * A key by address comes from its template: a read writes one for each of its 1000s of
 * dest dumps.
 */
export function putServiceKey(w: NetlinkWriter, key: ServiceKey): void {
  if (isFwmarkKey(key)) {
    w.beginNested(CmdAttr.SERVICE);
    putServiceIdentity(w, key);
    return w.endNested();
  }
  const t = ADDRESS_KEY;
  t.u16(ADDRESS_KEY_AT.family, familyToAf(key.family));
  t.u16(ADDRESS_KEY_AT.protocol, protocolToNumber(key.protocol));
  t.address(ADDRESS_KEY_AT.addr, key.address);
  t.be16(ADDRESS_KEY_AT.port, key.port);
  w.append(t.bytes);
}

function putServiceIdentity(w: NetlinkWriter, key: ServiceKey): void {
  w.u16(SvcAttr.AF, familyToAf(key.family));
  if (isFwmarkKey(key)) {
    w.u32(SvcAttr.FWMARK, key.fwmark);
  } else {
    w.u16(SvcAttr.PROTOCOL, protocolToNumber(key.protocol));
    w.address(SvcAttr.ADDR, key.address);
    w.be16(SvcAttr.PORT, key.port);
  }
}

/**
 * IPVS_CMD_ATTR_SERVICE with everything NEW_SERVICE / SET_SERVICE need: the kernel refuses
 * a "full entry" without SCHED_NAME, FLAGS, TIMEOUT and NETMASK. The flags mask is all ones:
 * every flag is set or cleared as the model says. No PE_NAME means no persistence engine
 * (on SET_SERVICE this unbinds one).
 */
export function putService(w: NetlinkWriter, service: Service): void {
  w.beginNested(CmdAttr.SERVICE);
  putServiceIdentity(w, service);
  w.string(SvcAttr.SCHED_NAME, service.scheduler);
  if (service.pe) w.string(SvcAttr.PE_NAME, service.pe);
  w.u32Pair(SvcAttr.FLAGS, serviceFlagsToNumber(service.flags), 0xffffffff);
  w.u32(SvcAttr.TIMEOUT, service.timeout);
  if (service.family === 'ipv6') w.u32(SvcAttr.NETMASK, service.netmask);
  else w.be32(SvcAttr.NETMASK, prefixToIpv4MaskValue(service.netmask));
  w.endNested();
}

/** A dest's identity nest, as a template (see DEST below): a mass failure deletes 1000s of dests. */
const DEST_KEY = new AttrTemplate((w) => {
  w.beginNested(CmdAttr.DEST);
  w.address(DestAttr.ADDR, '::');
  w.be16(DestAttr.PORT, 0);
  w.u16(DestAttr.ADDR_FAMILY, 0);
  w.endNested();
});
const DEST_KEY_AT = {
  addr: DEST_KEY.valueAt(CmdAttr.DEST, DestAttr.ADDR),
  port: DEST_KEY.valueAt(CmdAttr.DEST, DestAttr.PORT),
  family: DEST_KEY.valueAt(CmdAttr.DEST, DestAttr.ADDR_FAMILY),
};

/** IPVS_CMD_ATTR_DEST with the identity only (DEL_DEST). */
export function putDestKey(w: NetlinkWriter, dest: DestKey, family: Family): void {
  const t = DEST_KEY;
  t.address(DEST_KEY_AT.addr, dest.address);
  t.be16(DEST_KEY_AT.port, dest.port);
  t.u16(DEST_KEY_AT.family, familyToAf(family));
  w.append(t.bytes);
}

/**
 * IPVS_CMD_ATTR_DEST with everything NEW_DEST / SET_DEST read: always the same attributes
 * of the same sizes, so written once as a template (AttrTemplate says why) whose values
 * putDest sets per dest.
 */
const DEST = new AttrTemplate((w) => {
  w.beginNested(CmdAttr.DEST);
  w.address(DestAttr.ADDR, '::');
  w.be16(DestAttr.PORT, 0);
  w.u16(DestAttr.ADDR_FAMILY, 0);
  w.u32(DestAttr.FWD_METHOD, 0);
  w.u32(DestAttr.WEIGHT, 0);
  w.u32(DestAttr.U_THRESH, 0);
  w.u32(DestAttr.L_THRESH, 0);
  w.u8(DestAttr.TUN_TYPE, 0);
  w.be16(DestAttr.TUN_PORT, 0);
  w.u16(DestAttr.TUN_FLAGS, 0);
  w.endNested();
});
const destValueAt = (type: number) => DEST.valueAt(CmdAttr.DEST, type);
const DEST_AT = {
  addr: destValueAt(DestAttr.ADDR),
  port: destValueAt(DestAttr.PORT),
  family: destValueAt(DestAttr.ADDR_FAMILY),
  forwarding: destValueAt(DestAttr.FWD_METHOD),
  weight: destValueAt(DestAttr.WEIGHT),
  upper: destValueAt(DestAttr.U_THRESH),
  lower: destValueAt(DestAttr.L_THRESH),
  tunnelType: destValueAt(DestAttr.TUN_TYPE),
  tunnelPort: destValueAt(DestAttr.TUN_PORT),
  tunnelFlags: destValueAt(DestAttr.TUN_FLAGS),
};

export function putDest(w: NetlinkWriter, dest: Dest): void {
  const t = DEST;
  t.address(DEST_AT.addr, dest.address);
  t.be16(DEST_AT.port, dest.port);
  t.u16(DEST_AT.family, familyToAf(dest.family));
  t.u32(DEST_AT.forwarding, forwardingToNumber(dest.forwarding));
  t.u32(DEST_AT.weight, dest.weight);
  t.u32(DEST_AT.upper, dest.upperThreshold);
  t.u32(DEST_AT.lower, dest.lowerThreshold);
  t.u8(DEST_AT.tunnelType, tunnelTypeNumbers[dest.tunnelType]);
  t.be16(DEST_AT.tunnelPort, dest.tunnelPort);
  t.u16(
    DEST_AT.tunnelFlags,
    (dest.tunnelFlags.csum ? TunnelFlag.CSUM : 0) |
      (dest.tunnelFlags.remcsum ? TunnelFlag.REMCSUM : 0),
  );
  w.append(t.bytes);
}

export function daemonStateToNumber(state: SyncDaemon['state']): number {
  return state === 'master' ? DaemonState.MASTER : DaemonState.BACKUP;
}

/** IPVS_CMD_ATTR_DAEMON for NEW_DAEMON; optional sync v1 settings only when given (0 = default). */
export function putDaemon(w: NetlinkWriter, daemon: SyncDaemon): void {
  w.beginNested(CmdAttr.DAEMON);
  w.u32(DaemonAttr.STATE, daemonStateToNumber(daemon.state));
  w.string(DaemonAttr.MCAST_IFN, daemon.interface);
  w.u32(DaemonAttr.SYNC_ID, daemon.syncId);
  if (daemon.syncMaxLen) w.u16(DaemonAttr.SYNC_MAXLEN, daemon.syncMaxLen);
  if (daemon.mcastGroup) {
    if (daemon.mcastGroup.includes(':')) w.address(DaemonAttr.MCAST_GROUP6, daemon.mcastGroup);
    else w.address(DaemonAttr.MCAST_GROUP, daemon.mcastGroup, 4);
  }
  if (daemon.mcastPort) w.u16(DaemonAttr.MCAST_PORT, daemon.mcastPort);
  if (daemon.mcastTtl) w.u8(DaemonAttr.MCAST_TTL, daemon.mcastTtl);
  w.endNested();
}

/** IPVS_CMD_ATTR_DAEMON for DEL_DAEMON: the state alone. */
export function putDaemonState(w: NetlinkWriter, state: SyncDaemon['state']): void {
  w.beginNested(CmdAttr.DAEMON);
  w.u32(DaemonAttr.STATE, daemonStateToNumber(state));
  w.endNested();
}

/** SET_CONFIG: only the timeouts given are sent (an absent one keeps its value, as does 0). */
export function putTimeouts(w: NetlinkWriter, timeouts: Partial<Timeouts>): void {
  if (timeouts.tcp !== undefined) w.u32(CmdAttr.TIMEOUT_TCP, timeouts.tcp);
  if (timeouts.tcpFin !== undefined) w.u32(CmdAttr.TIMEOUT_TCP_FIN, timeouts.tcpFin);
  if (timeouts.udp !== undefined) w.u32(CmdAttr.TIMEOUT_UDP, timeouts.udp);
}

/** Writes an IPVS message's payload: the genl header, then the attributes. */
export function genlBody(
  cmd: number,
  attrs?: PayloadWriter,
  version = IPVS_GENL_VERSION,
): PayloadWriter {
  return (w) => {
    w.genlHeader(cmd, version);
    if (attrs) attrs(w);
  };
}

/** The genl header plus attributes as bytes of their own: the payload of one netlink message. */
export function genlPayload(
  cmd: number,
  attrs?: PayloadWriter,
  version = IPVS_GENL_VERSION,
): Buffer {
  const w = new NetlinkWriter(256);
  genlBody(cmd, attrs, version)(w);
  return w.bytes();
}

// ---------------------------------------------------------------------------
// Decoding. The hot decoders (services and dests of a dump) walk attributes by offset
// (src/netlink/reader.ts): nothing is allocated per attribute, only the decoded objects.

/** A counter that is u32 in STATS and u64 in STATS64 (INBYTES/OUTBYTES are u64 in both). */
function counter(c: AttrCursor): number {
  if (c.valueLength >= 8) return u64At(c.buf, c.value);
  return c.u32('stats counter');
}

/** Which Stats field each IPVS_STATS_ATTR_* fills (PAD and newer attributes: none). */
const STATS_FIELDS: Readonly<Record<number, keyof Stats>> = {
  [StatsAttr.CONNS]: 'conns',
  [StatsAttr.INPKTS]: 'inPackets',
  [StatsAttr.OUTPKTS]: 'outPackets',
  [StatsAttr.INBYTES]: 'inBytes',
  [StatsAttr.OUTBYTES]: 'outBytes',
  [StatsAttr.CPS]: 'cps',
  [StatsAttr.INPPS]: 'inPps',
  [StatsAttr.OUTPPS]: 'outPps',
  [StatsAttr.INBPS]: 'inBps',
  [StatsAttr.OUTBPS]: 'outBps',
};

export function decodeStatsAt(buf: Buffer, start: number, end: number): Stats {
  const stats = emptyStats();
  const c = new AttrCursor(buf, start, end);
  while (c.next()) {
    const field = STATS_FIELDS[c.type];
    if (field) stats[field] = counter(c);
  }
  return stats;
}

/** An nf_inet_addr (or in_addr) value as text; IPv4 without a detour through a Buffer. */
function addressAt(c: AttrCursor, family: Family, what: string): string {
  return addressIn(c.buf, c.need(family === 'ipv4' ? 4 : 16, what), c.valueEnd, family, what);
}

/** The same for a value found earlier in a walk: `at` its first byte, `end` its end. */
function addressIn(b: Buffer, at: number, end: number, family: Family, what: string): string {
  const width = family === 'ipv4' ? 4 : 16;
  if (end - at < width)
    throw new IpvsDecodeError(`${what}: attribute of ${end - at} bytes, expected ${width}`);
  // Signed (| 0, not >>> 0): a 32-bit int stays a small integer in V8, an unsigned value of
  // 2^31 or more (any 128.0.0.0 and up) is a heap number, and meeting one after the code was
  // optimised for small integers threw the read back into the interpreter (--trace-deopt).
  if (family === 'ipv4')
    return ipv4Text(
      ((b[at] as number) << 24) |
        ((b[at + 1] as number) << 16) |
        ((b[at + 2] as number) << 8) |
        (b[at + 3] as number),
    );
  return bytesToAddress(b.subarray(at, at + 16), family);
}

/**
 * IPv4 addresses as text, remembered: a table names the same reals under many services
 * (50,000 dests may be 5,000 addresses), and a read would otherwise build each string anew.
 * Bounded, so a table of many distinct addresses does not keep them all.
 */
const ipv4Texts = new Map<number, string>();
const IPV4_TEXTS_MAX = 1 << 16;
/** `value`: the address as a signed 32-bit integer. */
function ipv4Text(value: number): string {
  let text = ipv4Texts.get(value);
  if (text === undefined) {
    text = `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
    if (ipv4Texts.size >= IPV4_TEXTS_MAX) ipv4Texts.clear();
    ipv4Texts.set(value, text);
    rememberIpv4(text, value);
  }
  return text;
}

/** The four tunnel flag sets, shared (decoded dests are read, never changed in place). */
const TUNNEL_FLAGS = [
  Object.freeze({ csum: false, remcsum: false }),
  Object.freeze({ csum: true, remcsum: false }),
  Object.freeze({ csum: false, remcsum: true }),
  Object.freeze({ csum: true, remcsum: true }),
] as const;
function tunnelFlagsOf(bits: number): { csum: boolean; remcsum: boolean } {
  return TUNNEL_FLAGS[
    ((bits & TunnelFlag.CSUM) !== 0 ? 1 : 0) | ((bits & TunnelFlag.REMCSUM) !== 0 ? 2 : 0)
  ] as { csum: boolean; remcsum: boolean };
}

/**
 * A service from the attributes nested in IPVS_CMD_ATTR_SERVICE, between start and end
 * (dests left empty). `withStats: false` leaves the counters undecoded (the planner never
 * reads them).
 */
export function decodeServiceAt(
  buf: Buffer,
  start: number,
  end: number,
  withStats = true,
): LiveService {
  let af = -1;
  let protocol = -1;
  let addrAt = -1;
  let addrEnd = -1;
  let port = -1;
  let fwmark = 0;
  let scheduler = '';
  let pe: string | null = null;
  let flags = 0;
  let timeout = 0;
  let netmaskAt = -1;
  let stats = -1;
  let statsEnd = -1;
  let stats64 = -1;
  let stats64End = -1;
  // Written out like decodeDestAt's walk, for the same reason (5,000 services in a read).
  let at = start;
  while (at + NLA_HDRLEN <= end) {
    const length = u16At(buf, at);
    if (length < NLA_HDRLEN || at + length > end) throw attrOverrun(at, length);
    const v = at + NLA_HDRLEN;
    const size = length - NLA_HDRLEN;
    switch (u16At(buf, at + 2) & NLA_TYPE_MASK) {
      case SvcAttr.AF:
        if (size < 2) throw shortValue('IPVS_SVC_ATTR_AF', size, 2);
        af = u16At(buf, v);
        break;
      case SvcAttr.PROTOCOL:
        if (size < 2) throw shortValue('IPVS_SVC_ATTR_PROTOCOL', size, 2);
        protocol = u16At(buf, v);
        break;
      case SvcAttr.ADDR:
        addrAt = v;
        addrEnd = at + length;
        break;
      case SvcAttr.PORT:
        if (size < 2) throw shortValue('IPVS_SVC_ATTR_PORT', size, 2);
        port = be16At(buf, v);
        break;
      case SvcAttr.FWMARK:
        if (size < 4) throw shortValue('IPVS_SVC_ATTR_FWMARK', size, 4);
        fwmark = u32At(buf, v);
        break;
      case SvcAttr.SCHED_NAME:
        scheduler = stringIn(buf, v, at + length);
        break;
      case SvcAttr.PE_NAME:
        pe = stringIn(buf, v, at + length) || null;
        break;
      case SvcAttr.FLAGS:
        if (size < 4) throw shortValue('IPVS_SVC_ATTR_FLAGS', size, 4);
        flags = (u32At(buf, v) & (size >= 8 ? u32At(buf, v + 4) : 0xffffffff)) >>> 0;
        break;
      case SvcAttr.TIMEOUT:
        if (size < 4) throw shortValue('IPVS_SVC_ATTR_TIMEOUT', size, 4);
        timeout = u32At(buf, v);
        break;
      case SvcAttr.NETMASK:
        if (size < 4) throw shortValue('IPVS_SVC_ATTR_NETMASK', size, 4);
        netmaskAt = v;
        break;
      case SvcAttr.STATS:
        stats = v;
        statsEnd = at + length;
        break;
      case SvcAttr.STATS64:
        stats64 = v;
        stats64End = at + length;
        break;
      default:
        break;
    }
    // nlaAlign(), written out: one call less per attribute while this runs unoptimised.
    at += (length + NLA_ALIGNTO - 1) & ~(NLA_ALIGNTO - 1);
  }
  if (af === -1) throw new IpvsDecodeError('service without IPVS_SVC_ATTR_AF');
  const family = afToFamily(af);
  const netmask =
    netmaskAt >= 0
      ? netmaskPrefix(family, buf.subarray(netmaskAt, netmaskAt + 4))
      : family === 'ipv6'
        ? 128
        : 32;
  const service: LiveService =
    fwmark !== 0
      ? {
          family,
          fwmark,
          scheduler,
          flags: numberToServiceFlags(flags),
          timeout,
          netmask,
          pe,
          dests: [],
        }
      : {
          family,
          protocol: protocolOrThrow(protocol, addrAt, port),
          address: addressIn(buf, addrAt, addrEnd, family, 'IPVS_SVC_ATTR_ADDR'),
          port,
          scheduler,
          flags: numberToServiceFlags(flags),
          timeout,
          netmask,
          pe,
          dests: [],
        };
  if (withStats && stats64 >= 0) service.stats = decodeStatsAt(buf, stats64, stats64End);
  else if (withStats && stats >= 0) service.stats = decodeStatsAt(buf, stats, statsEnd);
  return service;
}

function protocolOrThrow(protocol: number, addrAt: number, port: number): Protocol {
  if (protocol === -1 || addrAt === -1 || port === -1)
    throw new IpvsDecodeError('service with neither fwmark nor protocol, address and port');
  return numberToProtocol(protocol);
}

/** A NUL-terminated (or unterminated) string value between `at` and `end`. */
function stringIn(buf: Buffer, at: number, end: number): string {
  let stop = at;
  while (stop < end && buf[stop] !== 0) stop++;
  return buf.toString('utf8', at, stop);
}

/**
 * A dest from the attributes nested in IPVS_CMD_ATTR_DEST, between start and end. Kernels
 * before 3.18 send no ADDR_FAMILY: the dest then has the service's family.
 */
export function decodeDestAt(
  buf: Buffer,
  start: number,
  end: number,
  serviceFamily: Family,
  withStats = true,
): LiveDest {
  let addrAt = -1;
  let addrEnd = -1;
  let port = 0;
  let af = -1;
  let fwd = 0;
  let weight = 0;
  let upper = 0;
  let lower = 0;
  let active = 0;
  let inactive = 0;
  let persist = 0;
  let tunType = 0;
  let tunPort = 0;
  let tunFlags = 0;
  let stats = -1;
  let statsEnd = -1;
  let stats64 = -1;
  let stats64End = -1;
  // The attribute walk is written out here, not through AttrCursor: this runs for every
  // dest of a dump, and call depth is what unoptimised code pays for (src/netlink/reader.ts).
  let at = start;
  while (at + NLA_HDRLEN <= end) {
    const length = u16At(buf, at);
    if (length < NLA_HDRLEN || at + length > end) throw attrOverrun(at, length);
    const v = at + NLA_HDRLEN;
    const size = length - NLA_HDRLEN;
    switch (u16At(buf, at + 2) & NLA_TYPE_MASK) {
      case DestAttr.ADDR:
        addrAt = v;
        addrEnd = at + length;
        break;
      case DestAttr.PORT:
        if (size < 2) throw shortValue('IPVS_DEST_ATTR_PORT', size, 2);
        port = be16At(buf, v);
        break;
      case DestAttr.FWD_METHOD:
        if (size < 4) throw shortValue('IPVS_DEST_ATTR_FWD_METHOD', size, 4);
        fwd = u32At(buf, v);
        break;
      case DestAttr.WEIGHT:
        if (size < 4) throw shortValue('IPVS_DEST_ATTR_WEIGHT', size, 4);
        weight = u32At(buf, v);
        break;
      case DestAttr.U_THRESH:
        if (size < 4) throw shortValue('IPVS_DEST_ATTR_U_THRESH', size, 4);
        upper = u32At(buf, v);
        break;
      case DestAttr.L_THRESH:
        if (size < 4) throw shortValue('IPVS_DEST_ATTR_L_THRESH', size, 4);
        lower = u32At(buf, v);
        break;
      case DestAttr.ACTIVE_CONNS:
        if (size < 4) throw shortValue('IPVS_DEST_ATTR_ACTIVE_CONNS', size, 4);
        active = u32At(buf, v);
        break;
      case DestAttr.INACT_CONNS:
        if (size < 4) throw shortValue('IPVS_DEST_ATTR_INACT_CONNS', size, 4);
        inactive = u32At(buf, v);
        break;
      case DestAttr.PERSIST_CONNS:
        if (size < 4) throw shortValue('IPVS_DEST_ATTR_PERSIST_CONNS', size, 4);
        persist = u32At(buf, v);
        break;
      case DestAttr.STATS:
        stats = v;
        statsEnd = at + length;
        break;
      case DestAttr.ADDR_FAMILY:
        if (size < 2) throw shortValue('IPVS_DEST_ATTR_ADDR_FAMILY', size, 2);
        af = u16At(buf, v);
        break;
      case DestAttr.STATS64:
        stats64 = v;
        stats64End = at + length;
        break;
      case DestAttr.TUN_TYPE:
        if (size < 1) throw shortValue('IPVS_DEST_ATTR_TUN_TYPE', size, 1);
        tunType = buf[v] as number;
        break;
      case DestAttr.TUN_PORT:
        if (size < 2) throw shortValue('IPVS_DEST_ATTR_TUN_PORT', size, 2);
        tunPort = be16At(buf, v);
        break;
      case DestAttr.TUN_FLAGS:
        if (size < 2) throw shortValue('IPVS_DEST_ATTR_TUN_FLAGS', size, 2);
        tunFlags = u16At(buf, v);
        break;
      default:
        break;
    }
    // nlaAlign(), written out: one call less per attribute while this runs unoptimised.
    at += (length + NLA_ALIGNTO - 1) & ~(NLA_ALIGNTO - 1);
  }
  if (addrAt === -1) throw new IpvsDecodeError('dest without IPVS_DEST_ATTR_ADDR');
  const family = af === -1 ? serviceFamily : afToFamily(af);
  const dest: LiveDest = {
    address: addressIn(buf, addrAt, addrEnd, family, 'IPVS_DEST_ATTR_ADDR'),
    port,
    family,
    forwarding: numberToForwarding(fwd),
    weight,
    upperThreshold: upper,
    lowerThreshold: lower,
    tunnelType: numberToTunnelType(tunType),
    tunnelPort: tunPort,
    tunnelFlags: tunnelFlagsOf(tunFlags),
    activeConns: active,
    inactiveConns: inactive,
    persistConns: persist,
  };
  if (withStats && stats64 >= 0) dest.stats = decodeStatsAt(buf, stats64, stats64End);
  else if (withStats && stats >= 0) dest.stats = decodeStatsAt(buf, stats, statsEnd);
  return dest;
}

export function decodeDaemon(nested: Buffer): SyncDaemon {
  let state = 0;
  let ifname = '';
  let syncId = 0;
  let maxLen: number | undefined;
  let group: string | null = null;
  let mcastPort: number | undefined;
  let ttl: number | undefined;
  const c = new AttrCursor(nested);
  while (c.next()) {
    switch (c.type) {
      case DaemonAttr.STATE:
        state = c.u32('IPVS_DAEMON_ATTR_STATE');
        break;
      case DaemonAttr.MCAST_IFN:
        ifname = c.string();
        break;
      case DaemonAttr.SYNC_ID:
        syncId = c.u32('IPVS_DAEMON_ATTR_SYNC_ID');
        break;
      case DaemonAttr.SYNC_MAXLEN:
        maxLen = c.u16('IPVS_DAEMON_ATTR_SYNC_MAXLEN');
        break;
      case DaemonAttr.MCAST_GROUP:
        group = addressAt(c, 'ipv4', 'IPVS_DAEMON_ATTR_MCAST_GROUP');
        break;
      case DaemonAttr.MCAST_GROUP6:
        group = addressAt(c, 'ipv6', 'IPVS_DAEMON_ATTR_MCAST_GROUP6');
        break;
      case DaemonAttr.MCAST_PORT:
        mcastPort = c.u16('IPVS_DAEMON_ATTR_MCAST_PORT');
        break;
      case DaemonAttr.MCAST_TTL:
        ttl = c.u8('IPVS_DAEMON_ATTR_MCAST_TTL');
        break;
      default:
        break;
    }
  }
  const daemon: SyncDaemon = {
    state: state === DaemonState.BACKUP ? 'backup' : 'master',
    interface: ifname,
    syncId,
  };
  if (maxLen !== undefined) daemon.syncMaxLen = maxLen;
  if (group !== null) daemon.mcastGroup = group;
  if (mcastPort !== undefined) daemon.mcastPort = mcastPort;
  if (ttl !== undefined) daemon.mcastTtl = ttl;
  return daemon;
}

/** The GET_CONFIG reply (first-level attributes). */
export function decodeTimeouts(attrs: Buffer): Timeouts {
  const t: Timeouts = { tcp: 0, tcpFin: 0, udp: 0 };
  const c = new AttrCursor(attrs);
  while (c.next()) {
    if (c.type === CmdAttr.TIMEOUT_TCP) t.tcp = c.u32('IPVS_CMD_ATTR_TIMEOUT_TCP');
    else if (c.type === CmdAttr.TIMEOUT_TCP_FIN) t.tcpFin = c.u32('IPVS_CMD_ATTR_TIMEOUT_TCP_FIN');
    else if (c.type === CmdAttr.TIMEOUT_UDP) t.udp = c.u32('IPVS_CMD_ATTR_TIMEOUT_UDP');
  }
  return t;
}

/** The GET_INFO reply (first-level attributes). */
export function decodeInfo(attrs: Buffer): IpvsInfo {
  let version = 0;
  let size = 0;
  const c = new AttrCursor(attrs);
  while (c.next()) {
    if (c.type === InfoAttr.VERSION) version = c.u32('IPVS_INFO_ATTR_VERSION');
    else if (c.type === InfoAttr.CONN_TAB_SIZE) size = c.u32('IPVS_INFO_ATTR_CONN_TAB_SIZE');
  }
  return { version: formatVersion(version), connTableSize: size };
}
