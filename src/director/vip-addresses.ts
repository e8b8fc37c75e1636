/**
 * VIP addresses on interfaces as lvsd manages them: the director's VIPs (on a dummy interface
 * such as lvsd0, or a named one) and the real-server helper's VIPs (on lo, tunl0, ip6tnl0).
 * The AddressClient interface, its errors in `ip`'s words, and how plans name a held
 * address. Two implementations: over rtnetlink (rtnetlink.ts) and an in-memory fake that
 * refuses what the kernel refuses (fake-vip-addresses.ts).
 */
import { canonicalAddress, familyOf } from '../netlink/inet.js';
import type { Family } from '../ipvs/model.js';

/** One address on one interface: "10.0.0.1/32 on lvsd0". */
export interface HeldAddress {
  address: string;
  /** Prefix length the address carries (32 / 128 for a VIP). */
  prefix: number;
  interface: string;
}

export interface LinkState {
  name: string;
  index: number;
  /** IFLA_INFO_KIND ("dummy", "ipip", "ip6tnl"), null for devices without one (lo, most NICs). */
  kind: string | null;
  up: boolean;
}

export type LinkKind = 'dummy' | 'ipip' | 'ip6tnl';

export interface AddressSnapshot {
  links: LinkState[];
  addresses: HeldAddress[];
}

export interface AddressClient {
  /** Every link and every IPv4 / IPv6 address of the network namespace. */
  read(): Promise<AddressSnapshot>;
  /**
   * Creates a link of a kind that needs no parameters: "dummy" for VIPs, "ipip" / "ip6tnl"
   * to load the tunnel module (which makes tunl0 / ip6tnl0). EEXIST when the name is taken.
   */
  createLink(name: string, kind: LinkKind): Promise<void>;
  setUp(name: string): Promise<void>;
  addAddress(address: HeldAddress): Promise<void>;
  deleteAddress(address: HeldAddress): Promise<void>;
  close(): Promise<void>;
}

/** A refused address or link change, worded like `ip` words it, with the object concerned. */
export class AddressError extends Error {
  override readonly name = 'AddressError';
  constructor(
    readonly operation: string,
    readonly object: string,
    /** Errno name from the kernel ("EEXIST"), or "" when the failure is not the kernel's. */
    readonly code: string,
    readonly reason: string,
  ) {
    super(`${operation} ${object}: ${reason}`);
  }
}

const reasons: Record<string, string> = {
  EEXIST: 'File exists',
  ENODEV: 'No such device',
  EADDRNOTAVAIL: 'Cannot assign requested address (the address is not on that interface)',
  EPERM: 'Operation not permitted (lvsd needs CAP_NET_ADMIN)',
  // Node names EOPNOTSUPP "ENOTSUP" on Linux (same number).
  EOPNOTSUPP: 'Operation not supported',
  ENOTSUP: 'Operation not supported',
  EINVAL: 'Invalid argument',
  EACCES: 'Permission denied',
};

export function reasonForCode(code: string): string {
  return reasons[code] ?? code;
}

const linkModules: Record<LinkKind, string> = {
  dummy: 'dummy',
  ipip: 'ipip',
  ip6tnl: 'ip6_tunnel',
};

/** Why a link could not be created, with the module to load when the kernel lacks the type. */
export function linkCreateReason(kind: LinkKind, code: string): string {
  if (code === 'EOPNOTSUPP' || code === 'ENOTSUP') {
    return (
      `Operation not supported: this kernel has no ${kind} link type and could not load it ` +
      `(modprobe ${linkModules[kind]}, or a kernel with it built in)`
    );
  }
  return reasonForCode(code);
}

export function addressFamily(address: string): Family {
  const family = familyOf(address);
  if (!family) throw new Error(`not an IP address: ${address}`);
  return family;
}

export function fullPrefix(address: string): number {
  return addressFamily(address) === 'ipv4' ? 32 : 128;
}

/** "10.0.0.1/32 on lvsd0": how plans, reports and the state file name a held address. */
export function heldAddressId(held: HeldAddress): string {
  return `${held.address}/${held.prefix} on ${held.interface}`;
}

export function parseHeldAddressId(id: string): HeldAddress | null {
  const match = /^(.+)\/(\d{1,3}) on (\S+)$/.exec(id);
  if (!match) return null;
  const address = canonicalAddress(match[1] as string);
  if (!address) return null;
  return { address, prefix: Number(match[2]), interface: match[3] as string };
}

/** Same address on the same interface; the prefix does not matter to whether it is there. */
export function sameHeldAddress(a: HeldAddress, b: HeldAddress): boolean {
  return a.interface === b.interface && a.address === b.address;
}

export function findAddress(
  snapshot: AddressSnapshot,
  wanted: HeldAddress,
): HeldAddress | undefined {
  return snapshot.addresses.find((have) => sameHeldAddress(have, wanted));
}
