/**
 * src/director: what the director holds besides the IPVS table: its VIPs on an interface
 * (vip-addresses.ts, over rtnetlink) and, read-only, the firewall rules that mark packets
 * for fwmark services (fwmark-rules.ts, nft-reader.ts). The native netlink binding is
 * loaded only when a command opens a client; this file opens it, and re-exports nothing.
 */
import type { AddressClient } from './vip-addresses.js';

/** Opens the rtnetlink AddressClient of this process's network namespace. */
export async function openAddresses(): Promise<AddressClient> {
  const mod = await import('./rtnetlink.js');
  return mod.RtnetlinkAddresses.open();
}
