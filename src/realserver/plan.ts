/**
 * What a real server needs for LVS direct routing (DR) and tunnelling (TUN), as the LVS
 * documentation sets it up by hand, and what is missing on this host. Pure: the caller reads
 * addresses and sysctls and passes them in; `lvsd realserver --check` prints exactly this.
 *
 * DR  The director forwards the client's packet unchanged (destination: the VIP) to the
 *     real's MAC address, so the real must accept the VIP as local: the VIP goes on `lo`
 *     (/32, /128). It must not answer ARP for the VIP on its NIC, or clients and the router
 *     would send straight to it: arp_ignore=1 (answer only for addresses on the interface
 *     asked) and arp_announce=2 (never use the VIP as ARP source), on `all` and on `lo`.
 *     IPv6 needs no such setting: Linux answers neighbour solicitations only for addresses
 *     on the interface that received them.
 * TUN The director wraps the packet in IP-in-IP (IPv6: IPv6-in-IPv6): the real decapsulates
 *     on tunl0 (ip6tnl0), where the VIP goes, and the same ARP settings apply. The inner
 *     packet comes from the client but arrives on tunl0, where no route to the client
 *     points: strict reverse-path filtering would drop it, so rp_filter is relaxed (0 on
 *     tunl0; `all` loose (2) if it was strict, since the kernel uses the higher of the two).
 * Replies, in both modes, go from the VIP straight to the client, not through the director.
 */
import {
  fullPrefix,
  heldAddressId,
  findAddress,
  type AddressSnapshot,
  type HeldAddress,
} from '../director/vip-addresses.js';
import { familyOf } from '../netlink/inet.js';

export type RealServerMode = 'dr' | 'tun';

export interface RealServerVip {
  address: string;
  mode: RealServerMode;
}

export interface SysctlNeed {
  name: string;
  /** Values that already do the job. */
  accept: number[];
  /** Value written when the current one is not accepted. */
  value: number;
}

export interface RealServerActual {
  addresses: AddressSnapshot;
  sysctls: Record<string, number | null>;
}

export type RealServerStep =
  | { kind: 'create-tunnel'; interface: string; tunnelKind: 'ipip' | 'ip6tnl'; text: string }
  | { kind: 'link-up'; interface: string; text: string }
  | { kind: 'add-address'; address: HeldAddress; text: string }
  | { kind: 'delete-address'; address: HeldAddress; text: string }
  | { kind: 'sysctl'; name: string; from: number | null; to: number; text: string };

/** The interface a VIP lives on for its mode and family. */
export function vipInterface(vip: RealServerVip): string {
  if (vip.mode === 'dr') return 'lo';
  return familyOf(vip.address) === 'ipv6' ? 'ip6tnl0' : 'tunl0';
}

export function heldVip(vip: RealServerVip): HeldAddress {
  return { address: vip.address, prefix: fullPrefix(vip.address), interface: vipInterface(vip) };
}

/** Sysctls the VIPs need; IPv4 only (see above). */
export function sysctlNeeds(vips: readonly RealServerVip[]): SysctlNeed[] {
  const ipv4 = vips.filter((v) => familyOf(v.address) === 'ipv4');
  if (ipv4.length === 0) return [];
  const interfaces = [...new Set(ipv4.map(vipInterface))];
  const needs: SysctlNeed[] = [];
  for (const scope of ['all', ...interfaces]) {
    needs.push({ name: `net.ipv4.conf.${scope}.arp_ignore`, accept: [1, 2], value: 1 });
    needs.push({ name: `net.ipv4.conf.${scope}.arp_announce`, accept: [2], value: 2 });
  }
  if (interfaces.includes('tunl0')) {
    needs.push({ name: 'net.ipv4.conf.tunl0.rp_filter', accept: [0, 2], value: 0 });
    needs.push({ name: 'net.ipv4.conf.all.rp_filter', accept: [0, 2], value: 2 });
  }
  return needs;
}

function tunnels(vips: readonly RealServerVip[]): Array<{ name: string; kind: 'ipip' | 'ip6tnl' }> {
  const names = [...new Set(vips.filter((v) => v.mode === 'tun').map(vipInterface))];
  return names.map((name) => ({
    name,
    kind: name === 'tunl0' ? ('ipip' as const) : ('ip6tnl' as const),
  }));
}

/** What to do to make this host a real server for the VIPs: tunnels, sysctls, then addresses. */
export function planRealServer(
  vips: readonly RealServerVip[],
  actual: RealServerActual,
): RealServerStep[] {
  const steps: RealServerStep[] = [];
  for (const tunnel of tunnels(vips)) {
    const link = actual.addresses.links.find((l) => l.name === tunnel.name);
    if (!link) {
      steps.push({
        kind: 'create-tunnel',
        interface: tunnel.name,
        tunnelKind: tunnel.kind,
        text: `interface ${tunnel.name} (loads the ${tunnel.kind === 'ipip' ? 'ipip' : 'ip6_tunnel'} module)`,
      });
    }
    if (!link?.up)
      steps.push({ kind: 'link-up', interface: tunnel.name, text: `interface ${tunnel.name} up` });
  }
  if (vips.some((v) => v.mode === 'dr')) {
    const lo = actual.addresses.links.find((l) => l.name === 'lo');
    if (lo && !lo.up) steps.push({ kind: 'link-up', interface: 'lo', text: 'interface lo up' });
  }
  for (const need of sysctlNeeds(vips)) {
    const current = actual.sysctls[need.name] ?? null;
    if (current !== null && need.accept.includes(current)) continue;
    steps.push({
      kind: 'sysctl',
      name: need.name,
      from: current,
      to: need.value,
      text: `sysctl ${need.name}: ${current ?? 'absent'} -> ${need.value}`,
    });
  }
  for (const vip of vips) {
    const held = heldVip(vip);
    if (findAddress(actual.addresses, held)) continue;
    steps.push({ kind: 'add-address', address: held, text: `vip ${heldAddressId(held)}` });
  }
  return steps;
}

/** What --remove undoes: what lvsd realserver set, recorded when it set it. */
export interface RealServerRecord {
  version: 1;
  /** heldAddressId of the VIPs lvsd realserver added. */
  vips: string[];
  /** Sysctl values before lvsd realserver first changed them. */
  sysctls: Record<string, number>;
}

export const emptyRecord = (): RealServerRecord => ({ version: 1, vips: [], sysctls: {} });

/** The record after applying `steps`: previous sysctl values kept from the first change on. */
export function recordAfterApply(
  record: RealServerRecord,
  steps: readonly RealServerStep[],
  vips: readonly RealServerVip[],
): RealServerRecord {
  const sysctls = { ...record.sysctls };
  for (const step of steps) {
    if (step.kind === 'sysctl' && step.from !== null && !(step.name in sysctls))
      sysctls[step.name] = step.from;
  }
  const held = new Set(record.vips);
  for (const vip of vips) held.add(heldAddressId(heldVip(vip)));
  return { version: 1, vips: [...held], sysctls };
}

/**
 * --remove: the VIPs go; once no VIP recorded as added by lvsd realserver remains, the
 * sysctls it changed return to their recorded values. Without a record, sysctls are left
 * as they are (their old values are unknown).
 */
export function planRemoval(
  vips: readonly RealServerVip[],
  actual: RealServerActual,
  record: RealServerRecord,
): { steps: RealServerStep[]; record: RealServerRecord } {
  const steps: RealServerStep[] = [];
  const removed = new Set<string>();
  for (const vip of vips) {
    const present = findAddress(actual.addresses, heldVip(vip));
    removed.add(heldAddressId(heldVip(vip)));
    if (present)
      steps.push({
        kind: 'delete-address',
        address: present,
        text: `vip ${heldAddressId(present)}`,
      });
  }
  const remaining = record.vips.filter((id) => !removed.has(id));
  if (remaining.length > 0) return { steps, record: { ...record, vips: remaining } };
  for (const [name, value] of Object.entries(record.sysctls)) {
    const current = actual.sysctls[name] ?? null;
    if (current === null || current === value) continue;
    steps.push({
      kind: 'sysctl',
      name,
      from: current,
      to: value,
      text: `sysctl ${name}: ${current} -> ${value}`,
    });
  }
  return { steps, record: emptyRecord() };
}
