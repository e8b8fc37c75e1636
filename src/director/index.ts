/**
 * src/director: what the director holds besides the IPVS table: its VIPs on an interface
 * (rtnetlink) and, read-only, the firewall rules that mark packets for fwmark services.
 * The native netlink binding is loaded only when a command opens a client.
 */
import type { AddressClient } from './addresses.js';

export * from './addresses.js';
export { FakeAddresses, type FakeAddressesOptions } from './fake-addresses.js';

/** Opens the rtnetlink AddressClient of this process's network namespace. */
export async function openAddresses(): Promise<AddressClient> {
  const mod = await import('./rtnetlink-addresses.js');
  return mod.RtnetlinkAddresses.open();
}
export { desiredVips } from './vips.js';
