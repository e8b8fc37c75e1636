/**
 * The kernel model in lvsd's words: which config keys make a given Service and Dest, so
 * that loading the written YAML resolves to exactly the table the import read. What the
 * kernel holds but lvsd's config cannot say (a scheduler flag with no meaning for its
 * scheduler, the reserved third flag) is returned as a problem for the caller to report.
 */
import { prefixToIpv4Mask } from '../netlink/inet.js';
import type { Dest, Service } from '../ipvs/model.js';
import { isFwmarkKey } from '../ipvs/model.js';
import type { FieldValue, FlowMap, Scalar } from './types.js';

export interface ServiceFields {
  fields: Array<[string, FieldValue]>;
  /** Parts of the service lvsd cannot express, worded for a warning. */
  problems: string[];
}

const FLAG_NAMES = ['fallback', 'port'] as const;

function schedulerFlags(s: Service, problems: string[]): string[] {
  const set = [s.flags.sched1, s.flags.sched2, s.flags.sched3];
  const named = s.scheduler === 'sh' || s.scheduler === 'mh';
  const out: string[] = [];
  set.forEach((on, i) => {
    if (!on) return;
    if (named && i < 2) out.push(`${s.scheduler}-${FLAG_NAMES[i]}`);
    else
      problems.push(
        `scheduler flag flag-${i + 1} has no meaning for the ${s.scheduler} scheduler ` +
          `and lvsd cannot set it; it is left out`,
      );
  });
  return out;
}

function persistence(s: Service): FlowMap {
  const flow: FlowMap['flow'] = [['timeout', s.timeout]];
  const host = s.family === 'ipv4' ? 32 : 128;
  if (s.netmask !== host)
    flow.push(['netmask', s.family === 'ipv4' ? prefixToIpv4Mask(s.netmask) : s.netmask]);
  if (s.pe) flow.push(['engine', s.pe]);
  return { flow };
}

/** Identity, scheduler, flags and persistence of a service, in the schema's order. */
export function serviceFields(s: Service): ServiceFields {
  const problems: string[] = [];
  const fields: Array<[string, FieldValue]> = [];
  if (isFwmarkKey(s)) {
    fields.push(['fwmark', s.fwmark]);
    if (s.family === 'ipv6') fields.push(['family', 'ipv6']);
  } else {
    fields.push(['address', hostPort(s.address, s.port)]);
    fields.push(['protocol', s.protocol]);
  }
  fields.push(['scheduler', s.scheduler]);
  const flags = schedulerFlags(s, problems);
  if (flags.length > 0) fields.push(['scheduler_flags', flags]);
  if (s.flags.onePacket) fields.push(['ops', true]);
  if (s.flags.persistent) fields.push(['persistence', persistence(s)]);
  else if (s.pe)
    problems.push(
      `persistence engine ${s.pe} without persistence does nothing in IPVS and lvsd cannot set it; it is left out`,
    );
  return { fields, problems };
}

/** "10.0.0.1:80", "[2001:db8::1]:80", or the bare address for port 0 (all ports). */
export function hostPort(address: string, port: number): string {
  if (port === 0) return address;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * How a real is addressed: with its port unless it has none (fwmark and all-ports
 * services). A NAT real of a port service with port 0 keeps ":0", which lvsd reads as port
 * 0, as the kernel holds it.
 */
export function realAddress(d: Dest, s: Service): string {
  const servicePort = isFwmarkKey(s) ? 0 : s.port;
  if (d.port === 0 && servicePort !== 0)
    return d.address.includes(':') ? `[${d.address}]:0` : `${d.address}:0`;
  return hostPort(d.address, d.port);
}

/** lvsd's tunnel setting for a TUN real, or null for the default (ipip, no checksum). */
export function tunnelOf(d: Dest): FlowMap | null {
  if (d.forwarding !== 'tun') return null;
  const checksum = d.tunnelFlags.remcsum ? 'remcsum' : d.tunnelFlags.csum ? 'csum' : 'none';
  if (d.tunnelType === 'ipip' && checksum === 'none') return null;
  const flow: Array<[string, Scalar]> = [['type', d.tunnelType]];
  if (d.tunnelType === 'gue') flow.push(['port', d.tunnelPort]);
  if (checksum !== 'none') flow.push(['checksum', checksum]);
  return { flow };
}

/** The forwarding name lvsd uses; the kernel's local and bypass read as dr (ipvsadm's -g). */
export function forwardingOf(d: Dest): 'nat' | 'dr' | 'tun' {
  return d.forwarding === 'nat' || d.forwarding === 'tun' ? d.forwarding : 'dr';
}

/** The most common value (first seen wins a tie), or null for an empty list. */
export function mostCommon<T>(values: readonly T[], key: (v: T) => string): T | null {
  const counts = new Map<string, { value: T; n: number }>();
  for (const v of values) {
    const k = key(v);
    const entry = counts.get(k) ?? { value: v, n: 0 };
    entry.n++;
    counts.set(k, entry);
  }
  let best: { value: T; n: number } | null = null;
  for (const entry of counts.values()) if (!best || entry.n > best.n) best = entry;
  return best ? best.value : null;
}

export function flowKey(value: FlowMap | null): string {
  return value ? JSON.stringify(value.flow) : '';
}
