/**
 * The IPVS generic netlink codec: pure functions between lvsd's model (model.ts) and the
 * attributes of include/uapi/linux/ip_vs.h. Framing (netlink header, attribute TLVs,
 * alignment) comes from the `netlink` package; which attribute carries what, and in which
 * byte order, is decided here, checked against net/netfilter/ipvs/ip_vs_ctl.c:
 *
 * - ports (service, dest, tunnel) are big-endian u16; the service flags are
 *   struct ip_vs_flags { u32 flags; u32 mask; } in host order;
 * - the service netmask is one u32 with two meanings: for IPv4 the mask in network order
 *   (255.255.255.0 = ff ff ff 00), for IPv6 the prefix length in host order;
 * - addresses are the 16-byte union nf_inet_addr (IPv4 in the first 4 bytes);
 * - stats come twice, as STATS (32-bit counters) and STATS64; STATS64 wins when present;
 * - unknown attributes (newer kernels) are skipped, so are STATS_ATTR_PAD fillers.
 */
import {
  AttrStream,
  formatMessage,
  parseAttributes,
  parseMessages,
  type NetlinkMessage,
  type StreamData,
} from 'netlink';
import { addressToBytes, bytesToAddress, ipv4MaskToPrefix, prefixToIpv4MaskValue } from './address.js';
import {
  AF_INET,
  AF_INET6,
  CmdAttr,
  ConnFwd,
  CTRL_ATTR_FAMILY_ID,
  CTRL_ATTR_FAMILY_NAME,
  CTRL_CMD_GETFAMILY,
  DaemonAttr,
  DaemonState,
  DestAttr,
  formatVersion,
  GENL_HDRLEN,
  GENL_ID_CTRL,
  InfoAttr,
  IP_VS_CONN_F_FWD_MASK,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPVS_GENL_VERSION,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLMSG_HDRLEN,
  NLMSGERR_ATTR_MSG,
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
import { isFwmarkKey } from './model.js';

/** A reply or request whose payload is a genl header plus attributes. */
export interface GenlPayload {
  cmd: number;
  version: number;
  /** The attributes after the 4-byte genl header. */
  attrs: Buffer;
}

/** The codec met bytes it cannot turn into the model (never for merely unknown attributes). */
export class IpvsDecodeError extends Error {
  override readonly name = 'IpvsDecodeError';
}

// ---------------------------------------------------------------------------
// Scalars. Host order is what the kernel's nla_get_u16/u32 read; little-endian hosts only
// would be a hidden assumption, so the host order comes from os.endianness() through the
// netlink package's own putU32/getU32 convention (we write with these helpers below).

const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function u8(value: number): Buffer {
  const b = Buffer.alloc(1);
  b.writeUInt8(value);
  return b;
}
function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  if (LE) b.writeUInt16LE(value);
  else b.writeUInt16BE(value);
  return b;
}
function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  if (LE) b.writeUInt32LE(value >>> 0);
  else b.writeUInt32BE(value >>> 0);
  return b;
}
function be16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
}
function be32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}
function str(value: string): Buffer {
  const b = Buffer.alloc(Buffer.byteLength(value) + 1);
  b.write(value);
  return b;
}

function getU8(b: Buffer): number {
  return b.readUInt8(0);
}
function getU16(b: Buffer): number {
  return LE ? b.readUInt16LE(0) : b.readUInt16BE(0);
}
function getU32(b: Buffer): number {
  return LE ? b.readUInt32LE(0) : b.readUInt32BE(0);
}
function getU64(b: Buffer): number {
  return Number(LE ? b.readBigUInt64LE(0) : b.readBigUInt64BE(0));
}
/** A counter that is u32 in STATS and u64 in STATS64 (INBYTES/OUTBYTES are u64 in both). */
function getCounter(b: Buffer): number {
  if (b.length >= 8) return getU64(b);
  if (b.length >= 4) return getU32(b);
  throw new IpvsDecodeError(`counter attribute of ${b.length} bytes`);
}
function getString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.toString('utf8', 0, end === -1 ? b.length : end);
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

const protocolNumbers: Record<Protocol, number> = { tcp: IPPROTO_TCP, udp: IPPROTO_UDP, sctp: IPPROTO_SCTP };
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

/** The NETMASK attribute's bytes for a prefix length (see the header comment). */
export function netmaskBytes(family: Family, prefix: number): Buffer {
  return family === 'ipv6' ? u32(prefix) : be32(prefixToIpv4MaskValue(prefix));
}
export function netmaskPrefix(family: Family, bytes: Buffer): number {
  if (family === 'ipv6') return getU32(bytes);
  const mask = `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const prefix = ipv4MaskToPrefix(mask);
  if (prefix === null) throw new IpvsDecodeError(`non-contiguous IPv4 netmask ${mask}`);
  return prefix;
}

// ---------------------------------------------------------------------------
// Encoding: attribute writers. Each appends one top-level attribute to `out`.

/** IPVS_CMD_ATTR_SERVICE with only the identifying attributes (for DEL, GET, ZERO, dests). */
export function putServiceKey(out: AttrStream, key: ServiceKey): void {
  out.push(CmdAttr.SERVICE, (s: AttrStream) => putServiceIdentity(s, key));
}

function putServiceIdentity(s: AttrStream, key: ServiceKey): void {
  s.push(SvcAttr.AF, u16(familyToAf(key.family)));
  if (isFwmarkKey(key)) {
    s.push(SvcAttr.FWMARK, u32(key.fwmark));
  } else {
    s.push(SvcAttr.PROTOCOL, u16(protocolToNumber(key.protocol)));
    s.push(SvcAttr.ADDR, addressToBytes(key.address));
    s.push(SvcAttr.PORT, be16(key.port));
  }
}

/**
 * IPVS_CMD_ATTR_SERVICE with everything NEW_SERVICE / SET_SERVICE need: the kernel refuses
 * a "full entry" without SCHED_NAME, FLAGS, TIMEOUT and NETMASK. The flags mask is all ones:
 * every flag is set or cleared as the model says. No PE_NAME means no persistence engine
 * (on SET_SERVICE this unbinds one).
 */
export function putService(out: AttrStream, service: Service): void {
  out.push(CmdAttr.SERVICE, (s: AttrStream) => {
    putServiceIdentity(s, service);
    s.push(SvcAttr.SCHED_NAME, str(service.scheduler));
    if (service.pe) s.push(SvcAttr.PE_NAME, str(service.pe));
    const flags = Buffer.alloc(8);
    flags.set(u32(serviceFlagsToNumber(service.flags)), 0);
    flags.set(u32(0xffffffff), 4);
    s.push(SvcAttr.FLAGS, flags);
    s.push(SvcAttr.TIMEOUT, u32(service.timeout));
    s.push(SvcAttr.NETMASK, netmaskBytes(service.family, service.netmask));
  });
}

/** IPVS_CMD_ATTR_DEST with the identity only (DEL_DEST). */
export function putDestKey(out: AttrStream, dest: DestKey, family: Family): void {
  out.push(CmdAttr.DEST, (s: AttrStream) => {
    s.push(DestAttr.ADDR, addressToBytes(dest.address));
    s.push(DestAttr.PORT, be16(dest.port));
    s.push(DestAttr.ADDR_FAMILY, u16(familyToAf(family)));
  });
}

/** IPVS_CMD_ATTR_DEST with everything NEW_DEST / SET_DEST read. */
export function putDest(out: AttrStream, dest: Dest): void {
  out.push(CmdAttr.DEST, (s: AttrStream) => {
    s.push(DestAttr.ADDR, addressToBytes(dest.address));
    s.push(DestAttr.PORT, be16(dest.port));
    s.push(DestAttr.ADDR_FAMILY, u16(familyToAf(dest.family)));
    s.push(DestAttr.FWD_METHOD, u32(forwardingToNumber(dest.forwarding)));
    s.push(DestAttr.WEIGHT, u32(dest.weight));
    s.push(DestAttr.U_THRESH, u32(dest.upperThreshold));
    s.push(DestAttr.L_THRESH, u32(dest.lowerThreshold));
    s.push(DestAttr.TUN_TYPE, u8(tunnelTypeNumbers[dest.tunnelType]));
    s.push(DestAttr.TUN_PORT, be16(dest.tunnelPort));
    s.push(
      DestAttr.TUN_FLAGS,
      u16((dest.tunnelFlags.csum ? TunnelFlag.CSUM : 0) | (dest.tunnelFlags.remcsum ? TunnelFlag.REMCSUM : 0)),
    );
  });
}

export function daemonStateToNumber(state: SyncDaemon['state']): number {
  return state === 'master' ? DaemonState.MASTER : DaemonState.BACKUP;
}

/** IPVS_CMD_ATTR_DAEMON for NEW_DAEMON; optional sync v1 settings only when given (0 = default). */
export function putDaemon(out: AttrStream, daemon: SyncDaemon): void {
  out.push(CmdAttr.DAEMON, (s: AttrStream) => {
    s.push(DaemonAttr.STATE, u32(daemonStateToNumber(daemon.state)));
    s.push(DaemonAttr.MCAST_IFN, str(daemon.interface));
    s.push(DaemonAttr.SYNC_ID, u32(daemon.syncId));
    if (daemon.syncMaxLen) s.push(DaemonAttr.SYNC_MAXLEN, u16(daemon.syncMaxLen));
    if (daemon.mcastGroup) {
      const bytes = addressToBytes(daemon.mcastGroup);
      if (daemon.mcastGroup.includes(':')) s.push(DaemonAttr.MCAST_GROUP6, bytes);
      else s.push(DaemonAttr.MCAST_GROUP, bytes.subarray(0, 4));
    }
    if (daemon.mcastPort) s.push(DaemonAttr.MCAST_PORT, u16(daemon.mcastPort));
    if (daemon.mcastTtl) s.push(DaemonAttr.MCAST_TTL, u8(daemon.mcastTtl));
  });
}

/** IPVS_CMD_ATTR_DAEMON for DEL_DAEMON: the state alone. */
export function putDaemonState(out: AttrStream, state: SyncDaemon['state']): void {
  out.push(CmdAttr.DAEMON, (s: AttrStream) => s.push(DaemonAttr.STATE, u32(daemonStateToNumber(state))));
}

/** SET_CONFIG: only the timeouts given are sent (an absent one keeps its value, as does 0). */
export function putTimeouts(out: AttrStream, timeouts: Partial<Timeouts>): void {
  if (timeouts.tcp !== undefined) out.push(CmdAttr.TIMEOUT_TCP, u32(timeouts.tcp));
  if (timeouts.tcpFin !== undefined) out.push(CmdAttr.TIMEOUT_TCP_FIN, u32(timeouts.tcpFin));
  if (timeouts.udp !== undefined) out.push(CmdAttr.TIMEOUT_UDP, u32(timeouts.udp));
}

/** The genl header plus attributes: the payload of one netlink message. */
export function genlPayload(cmd: number, attrs?: (out: AttrStream) => void, version = IPVS_GENL_VERSION): Buffer {
  const out = new AttrStream();
  const header = Buffer.alloc(GENL_HDRLEN);
  header.writeUInt8(cmd, 0);
  header.writeUInt8(version, 1);
  out.emit(header);
  if (attrs) attrs(out);
  return Buffer.concat(out.bufs);
}

/**
 * One complete netlink message in one contiguous buffer, padded to 4 bytes so messages can
 * be concatenated into one sendmsg (the kernel walks a batch with NLMSG_ALIGN).
 */
export function frameMessage(type: number, flags: number, seq: number, port: number, payload: StreamData): Buffer {
  const parts = formatMessage({ type, flags, seq, port, data: payload as Uint8Array | Uint8Array[] });
  const length = parts.reduce((n, p) => n + p.length, 0);
  const padded = (length + 3) & ~3;
  const out = Buffer.alloc(padded);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** CTRL_CMD_GETFAMILY for "IPVS" (the family id is resolved once per socket). */
export function getFamilyPayload(name: string): Buffer {
  return genlPayload(CTRL_CMD_GETFAMILY, (out) => out.push(CTRL_ATTR_FAMILY_NAME, str(name)), 1);
}
export { GENL_ID_CTRL };

// ---------------------------------------------------------------------------
// Decoding

export function parseGenl(data: Buffer): GenlPayload {
  if (data.length < GENL_HDRLEN) throw new IpvsDecodeError(`genl payload of ${data.length} bytes`);
  return { cmd: data.readUInt8(0), version: data.readUInt8(1), attrs: data.subarray(GENL_HDRLEN) };
}

export function splitMessages(datagram: Buffer): NetlinkMessage[] {
  return parseMessages(datagram);
}

/** Calls fn(type, data) for every attribute; the nested / byte-order bits are masked off. */
export function eachAttribute(buf: Buffer, fn: (type: number, data: Buffer) => void): void {
  parseAttributes(buf, (attr) => fn(attr.type, attr.data));
}

export function decodeFamilyId(attrs: Buffer): number | null {
  let id: number | null = null;
  eachAttribute(attrs, (type, data) => {
    if (type === CTRL_ATTR_FAMILY_ID) id = getU16(data);
  });
  return id;
}

export function emptyStats(): Stats {
  return { conns: 0, inPackets: 0, outPackets: 0, inBytes: 0, outBytes: 0, cps: 0, inPps: 0, outPps: 0, inBps: 0, outBps: 0 };
}

export function decodeStats(buf: Buffer): Stats {
  const stats = emptyStats();
  eachAttribute(buf, (type, data) => {
    switch (type) {
      case StatsAttr.CONNS:
        stats.conns = getCounter(data);
        break;
      case StatsAttr.INPKTS:
        stats.inPackets = getCounter(data);
        break;
      case StatsAttr.OUTPKTS:
        stats.outPackets = getCounter(data);
        break;
      case StatsAttr.INBYTES:
        stats.inBytes = getCounter(data);
        break;
      case StatsAttr.OUTBYTES:
        stats.outBytes = getCounter(data);
        break;
      case StatsAttr.CPS:
        stats.cps = getCounter(data);
        break;
      case StatsAttr.INPPS:
        stats.inPps = getCounter(data);
        break;
      case StatsAttr.OUTPPS:
        stats.outPps = getCounter(data);
        break;
      case StatsAttr.INBPS:
        stats.inBps = getCounter(data);
        break;
      case StatsAttr.OUTBPS:
        stats.outBps = getCounter(data);
        break;
      default: // PAD and anything newer
        break;
    }
  });
  return stats;
}

/** Finds the first-level attribute `which` (SERVICE, DEST, DAEMON) of a reply. */
export function findAttribute(attrs: Buffer, which: number): Buffer | null {
  let found: Buffer | null = null;
  eachAttribute(attrs, (type, data) => {
    if (type === which && found === null) found = data;
  });
  return found;
}

/** A service from the attributes nested in IPVS_CMD_ATTR_SERVICE (dests left empty). */
/** `withStats: false` leaves the counters undecoded (the planner never reads them). */
export function decodeService(nested: Buffer, withStats = true): LiveService {
  let af: number | null = null;
  let protocol: number | null = null;
  let addr: Buffer | null = null;
  let port: number | null = null;
  let fwmark: number | null = null;
  let scheduler = '';
  let pe: string | null = null;
  let flags = 0;
  let timeout = 0;
  let netmask: Buffer | null = null;
  let stats: Buffer | undefined;
  let stats64: Buffer | undefined;
  eachAttribute(nested, (type, data) => {
    switch (type) {
      case SvcAttr.AF:
        af = getU16(data);
        break;
      case SvcAttr.PROTOCOL:
        protocol = getU16(data);
        break;
      case SvcAttr.ADDR:
        addr = data;
        break;
      case SvcAttr.PORT:
        port = data.readUInt16BE(0);
        break;
      case SvcAttr.FWMARK:
        fwmark = getU32(data);
        break;
      case SvcAttr.SCHED_NAME:
        scheduler = getString(data);
        break;
      case SvcAttr.PE_NAME:
        pe = getString(data) || null;
        break;
      case SvcAttr.FLAGS: {
        const value = getU32(data);
        const mask = data.length >= 8 ? getU32(data.subarray(4)) : 0xffffffff;
        flags = value & mask;
        break;
      }
      case SvcAttr.TIMEOUT:
        timeout = getU32(data);
        break;
      case SvcAttr.NETMASK:
        netmask = data;
        break;
      case SvcAttr.STATS:
        stats = data;
        break;
      case SvcAttr.STATS64:
        stats64 = data;
        break;
      default:
        break;
    }
  });
  if (af === null) throw new IpvsDecodeError('service without IPVS_SVC_ATTR_AF');
  const family = afToFamily(af);
  const settings = {
    scheduler,
    flags: numberToServiceFlags(flags),
    timeout,
    netmask: netmask ? netmaskPrefix(family, netmask) : family === 'ipv6' ? 128 : 32,
    pe,
  };
  const chosen = withStats ? (stats64 ?? stats) : undefined;
  const extra = chosen ? { stats: decodeStats(chosen), dests: [] } : { dests: [] };
  if (fwmark !== null && fwmark !== 0) return { family, fwmark, ...settings, ...extra } as LiveService;
  if (protocol === null || addr === null || port === null) {
    throw new IpvsDecodeError('service with neither fwmark nor protocol, address and port');
  }
  return {
    family,
    protocol: numberToProtocol(protocol),
    address: bytesToAddress(addr, family),
    port,
    ...settings,
    ...extra,
  } as LiveService;
}

/**
 * A dest from the attributes nested in IPVS_CMD_ATTR_DEST. Kernels before 3.18 send no
 * ADDR_FAMILY: the dest then has the service's family.
 */
export function decodeDest(nested: Buffer, serviceFamily: Family, withStats = true): LiveDest {
  let addr: Buffer | null = null;
  let port = 0;
  let af: number | null = null;
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
  let stats: Buffer | undefined;
  let stats64: Buffer | undefined;
  eachAttribute(nested, (type, data) => {
    switch (type) {
      case DestAttr.ADDR:
        addr = data;
        break;
      case DestAttr.PORT:
        port = data.readUInt16BE(0);
        break;
      case DestAttr.FWD_METHOD:
        fwd = getU32(data);
        break;
      case DestAttr.WEIGHT:
        weight = getU32(data);
        break;
      case DestAttr.U_THRESH:
        upper = getU32(data);
        break;
      case DestAttr.L_THRESH:
        lower = getU32(data);
        break;
      case DestAttr.ACTIVE_CONNS:
        active = getU32(data);
        break;
      case DestAttr.INACT_CONNS:
        inactive = getU32(data);
        break;
      case DestAttr.PERSIST_CONNS:
        persist = getU32(data);
        break;
      case DestAttr.STATS:
        stats = data;
        break;
      case DestAttr.ADDR_FAMILY:
        af = getU16(data);
        break;
      case DestAttr.STATS64:
        stats64 = data;
        break;
      case DestAttr.TUN_TYPE:
        tunType = getU8(data);
        break;
      case DestAttr.TUN_PORT:
        tunPort = data.readUInt16BE(0);
        break;
      case DestAttr.TUN_FLAGS:
        tunFlags = getU16(data);
        break;
      default:
        break;
    }
  });
  if (addr === null) throw new IpvsDecodeError('dest without IPVS_DEST_ATTR_ADDR');
  const family = af === null ? serviceFamily : afToFamily(af);
  const dest: LiveDest = {
    address: bytesToAddress(addr, family),
    port,
    family,
    forwarding: numberToForwarding(fwd),
    weight,
    upperThreshold: upper,
    lowerThreshold: lower,
    tunnelType: numberToTunnelType(tunType),
    tunnelPort: tunPort,
    tunnelFlags: { csum: (tunFlags & TunnelFlag.CSUM) !== 0, remcsum: (tunFlags & TunnelFlag.REMCSUM) !== 0 },
    activeConns: active,
    inactiveConns: inactive,
    persistConns: persist,
  };
  const chosen = withStats ? (stats64 ?? stats) : undefined;
  if (chosen) dest.stats = decodeStats(chosen);
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
  eachAttribute(nested, (type, data) => {
    switch (type) {
      case DaemonAttr.STATE:
        state = getU32(data);
        break;
      case DaemonAttr.MCAST_IFN:
        ifname = getString(data);
        break;
      case DaemonAttr.SYNC_ID:
        syncId = getU32(data);
        break;
      case DaemonAttr.SYNC_MAXLEN:
        maxLen = getU16(data);
        break;
      case DaemonAttr.MCAST_GROUP:
        group = bytesToAddress(data, 'ipv4');
        break;
      case DaemonAttr.MCAST_GROUP6:
        group = bytesToAddress(data, 'ipv6');
        break;
      case DaemonAttr.MCAST_PORT:
        mcastPort = getU16(data);
        break;
      case DaemonAttr.MCAST_TTL:
        ttl = getU8(data);
        break;
      default:
        break;
    }
  });
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
  eachAttribute(attrs, (type, data) => {
    if (type === CmdAttr.TIMEOUT_TCP) t.tcp = getU32(data);
    else if (type === CmdAttr.TIMEOUT_TCP_FIN) t.tcpFin = getU32(data);
    else if (type === CmdAttr.TIMEOUT_UDP) t.udp = getU32(data);
  });
  return t;
}

/** The GET_INFO reply (first-level attributes). */
export function decodeInfo(attrs: Buffer): IpvsInfo {
  let version = 0;
  let size = 0;
  eachAttribute(attrs, (type, data) => {
    if (type === InfoAttr.VERSION) version = getU32(data);
    else if (type === InfoAttr.CONN_TAB_SIZE) size = getU32(data);
  });
  return { version: formatVersion(version), connTableSize: size };
}

export interface NetlinkAck {
  /** Positive errno; 0 for a plain ACK. */
  errno: number;
  /** Sequence number of the request this answers. */
  seq: number;
  /** Extended ACK message (NLMSGERR_ATTR_MSG), when the kernel sent one. */
  message?: string;
}

/** An NLMSG_ERROR payload: s32 error, the request's header (and maybe more), then TLVs. */
export function decodeAck(data: Buffer, flags: number): NetlinkAck {
  if (data.length < 4 + NLMSG_HDRLEN) throw new IpvsDecodeError('short NLMSG_ERROR');
  const error = data.readInt32LE(0);
  const err = LE ? error : data.readInt32BE(0);
  const reqLen = LE ? data.readUInt32LE(4) : data.readUInt32BE(4);
  const seq = LE ? data.readUInt32LE(12) : data.readUInt32BE(12);
  const ack: NetlinkAck = { errno: err === 0 ? 0 : -err, seq };
  if (flags & NLM_F_ACK_TLVS) {
    // After the header (CAPPED) or the whole request, aligned.
    const skip = flags & NLM_F_CAPPED || err === 0 ? NLMSG_HDRLEN : (reqLen + 3) & ~3;
    const tlvs = data.subarray(Math.min(data.length, 4 + skip));
    try {
      eachAttribute(tlvs, (type, value) => {
        if (type === NLMSGERR_ATTR_MSG) ack.message = getString(value);
      });
    } catch {
      // extended ACK is a courtesy; a malformed one does not hide the errno
    }
  }
  return ack;
}
