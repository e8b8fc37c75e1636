/**
 * The IPVS table as lvsd sees it: kernel-level objects, independent of the config file's
 * shape and of netlink. Both IpvsClient implementations speak these types, the reconciler
 * diffs them, and `lvsd ls --json` writes them (so `lvsd plan --state` can read a snapshot
 * back, validated by the same schemas).
 */
import { z } from 'zod';

export const Family = z.enum(['ipv4', 'ipv6']);
export type Family = z.infer<typeof Family>;

export const Protocol = z.enum(['tcp', 'udp', 'sctp']);
export type Protocol = z.infer<typeof Protocol>;

/** IP_VS_CONN_F_FWD_MASK values: masq=nat, route=dr, tunnel=tun; local and bypass are read-only curiosities. */
export const Forwarding = z.enum(['nat', 'dr', 'tun', 'local', 'bypass']);
export type Forwarding = z.infer<typeof Forwarding>;

/** IP_VS_CONN_F_TUNNEL_TYPE_*. */
export const TunnelType = z.enum(['ipip', 'gue', 'gre']);
export type TunnelType = z.infer<typeof TunnelType>;

/** Counters and rates (stats64 when the kernel has it). Never part of identity or equality. */
export const Stats = z.object({
  conns: z.number(),
  inPackets: z.number(),
  outPackets: z.number(),
  inBytes: z.number(),
  outBytes: z.number(),
  cps: z.number(),
  inPps: z.number(),
  outPps: z.number(),
  inBps: z.number(),
  outBps: z.number(),
});
export type Stats = z.infer<typeof Stats>;

/** Counters of nothing: a new service or real, or one the kernel reported without stats. */
export function emptyStats(): Stats {
  return {
    conns: 0,
    inPackets: 0,
    outPackets: 0,
    inBytes: 0,
    outBytes: 0,
    cps: 0,
    inPps: 0,
    outPps: 0,
    inBps: 0,
    outBps: 0,
  };
}

/** A virtual service is identified by (family, protocol, address, port) or by (family, fwmark). */
export const ServiceKey = z.union([
  z.object({
    family: Family,
    protocol: Protocol,
    address: z.string(),
    port: z.number().int().min(0).max(65535),
  }),
  z.object({
    family: Family,
    fwmark: z.number().int().min(1).max(0xffffffff),
  }),
]);
export type ServiceKey = z.infer<typeof ServiceKey>;

/** IP_VS_SVC_F_*: what a user can set. HASHED is kernel-internal and not modelled. */
export const ServiceFlags = z.object({
  persistent: z.boolean(),
  onePacket: z.boolean(),
  /** IP_VS_SVC_F_SCHED1..3: sh-fallback/mh-fallback, sh-port/mh-port, reserved. */
  sched1: z.boolean(),
  sched2: z.boolean(),
  sched3: z.boolean(),
});
export type ServiceFlags = z.infer<typeof ServiceFlags>;

const serviceAttributes = {
  scheduler: z.string().min(1),
  flags: ServiceFlags,
  /** Persistence timeout in seconds (meaningful when flags.persistent). */
  timeout: z.number().int().min(0),
  /**
   * Persistence granularity as a prefix length, for both families: the kernel keeps an
   * IPv4 netmask (255.255.255.0 -> 24) and an IPv6 prefix length in the same attribute.
   */
  netmask: z.number().int().min(0).max(128),
  /** Persistence engine name ("sip"), or null. */
  pe: z.string().nullable(),
};

export const Service = z.union([
  z.object({
    family: Family,
    protocol: Protocol,
    address: z.string(),
    port: z.number().int().min(0).max(65535),
    ...serviceAttributes,
  }),
  z.object({
    family: Family,
    fwmark: z.number().int().min(1).max(0xffffffff),
    ...serviceAttributes,
  }),
]);
export type Service = z.infer<typeof Service>;

export const DestKey = z.object({
  address: z.string(),
  port: z.number().int().min(0).max(65535),
});
export type DestKey = z.infer<typeof DestKey>;

export const Dest = z.object({
  address: z.string(),
  port: z.number().int().min(0).max(65535),
  /** IPVS_DEST_ATTR_ADDR_FAMILY: may differ from the service's family only with tunnelling. */
  family: Family,
  forwarding: Forwarding,
  weight: z.number().int().min(0).max(65535),
  /** Connection thresholds; 0 means no limit. */
  upperThreshold: z.number().int().min(0),
  lowerThreshold: z.number().int().min(0),
  /** Tunnel settings, meaningful with forwarding 'tun'. */
  tunnelType: TunnelType,
  tunnelPort: z.number().int().min(0).max(65535),
  tunnelFlags: z.object({
    /** IP_VS_TUNNEL_ENCAP_FLAG_CSUM */
    csum: z.boolean(),
    /** IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM */
    remcsum: z.boolean(),
  }),
});
export type Dest = z.infer<typeof Dest>;

/** What the kernel reports about a dest besides its settings. */
export const DestCounters = z.object({
  activeConns: z.number(),
  inactiveConns: z.number(),
  persistConns: z.number(),
  stats: Stats.optional(),
});
export type DestCounters = z.infer<typeof DestCounters>;

export const LiveDest = Dest.extend(DestCounters.shape);
export type LiveDest = z.infer<typeof LiveDest>;

export const LiveService = z.intersection(
  Service,
  z.object({ stats: Stats.optional(), dests: z.array(LiveDest) }),
);
export type LiveService = Service & { stats?: Stats; dests: LiveDest[] };

/** Connection timeouts in seconds (IPVS_CMD_GET/SET_CONFIG). 0 on write keeps the current value. */
export const Timeouts = z.object({
  tcp: z.number().int().min(0),
  tcpFin: z.number().int().min(0),
  udp: z.number().int().min(0),
});
export type Timeouts = z.infer<typeof Timeouts>;

/** A connection synchronisation daemon (IPVS_CMD_NEW/DEL/GET_DAEMON). */
export const SyncDaemon = z.object({
  state: z.enum(['master', 'backup']),
  interface: z.string().min(1),
  syncId: z.number().int().min(0).max(255),
  /** Optional sync v1 settings (kernel >= 4.3); 0 / null = kernel default. */
  syncMaxLen: z.number().int().min(0).optional(),
  mcastGroup: z.string().nullable().optional(),
  mcastPort: z.number().int().min(0).max(65535).optional(),
  mcastTtl: z.number().int().min(0).max(255).optional(),
});
export type SyncDaemon = z.infer<typeof SyncDaemon>;

export const IpvsInfo = z.object({
  /** "1.2.1" */
  version: z.string(),
  connTableSize: z.number(),
});
export type IpvsInfo = z.infer<typeof IpvsInfo>;

/** A whole table read from the kernel (or a saved snapshot of one). */
export const IpvsTable = z.object({
  services: z.array(LiveService),
});
export type IpvsTable = { services: LiveService[] };

/** Kernel-wide settings that lvsd may reconcile. */
export const KernelSettings = z.object({
  timeouts: Timeouts.partial().optional(),
  daemons: z.array(SyncDaemon).optional(),
});
export type KernelSettings = z.infer<typeof KernelSettings>;

// ---------------------------------------------------------------------------
// Identity helpers: one place decides what makes two objects "the same".

export function isFwmarkKey(key: ServiceKey): key is Extract<ServiceKey, { fwmark: number }> {
  return 'fwmark' in key;
}

export function serviceKeyOf(service: ServiceKey): ServiceKey {
  return isFwmarkKey(service)
    ? { family: service.family, fwmark: service.fwmark }
    : {
        family: service.family,
        protocol: service.protocol,
        address: service.address,
        port: service.port,
      };
}

export function formatHostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** A stable string identity, also the way services are written for people: "TCP 10.0.0.1:80", "FWM 10 IPv6". */
export function serviceId(key: ServiceKey): string {
  if (isFwmarkKey(key))
    return key.family === 'ipv6' ? `FWM ${key.fwmark} IPv6` : `FWM ${key.fwmark}`;
  return `${key.protocol.toUpperCase()} ${formatHostPort(key.address, key.port)}`;
}

export function destId(dest: DestKey): string {
  return formatHostPort(dest.address, dest.port);
}

/** How ipvsadm -Ln names each forwarding method; lvsd's tables use the same words. */
export const forwardingLabel: Record<Forwarding, string> = {
  nat: 'Masq',
  dr: 'Route',
  tun: 'Tunnel',
  local: 'Local',
  bypass: 'Bypass',
};
