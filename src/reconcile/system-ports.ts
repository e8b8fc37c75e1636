/**
 * The reconciler's ports on a real director: sysctls in /proc/sys, VIPs over rtnetlink,
 * fwmark advice from the nftables rules. The native netlink binding is loaded only when a
 * pass opens one of them, so `lvsd plan --state` runs without it.
 */
import { openAddresses } from '../director/index.js';
import type { MarkScan } from '../director/fwmark-advice.js';
import { procSysctls } from '../sysctl/procfs.js';
import type { ReconcilerPorts } from './reconciler.js';

/** Every port but the IPVS client and the state store, which each caller opens itself. */
export type HostPorts = Omit<ReconcilerPorts, 'ipvs' | 'state'>;

async function nftMarkRules(): Promise<MarkScan | null> {
  const { readMarkRules } = await import('../director/nft-reader.js');
  return readMarkRules();
}

export const systemHostPorts: HostPorts = {
  sysctls: procSysctls,
  openAddresses,
  markRules: nftMarkRules,
};
