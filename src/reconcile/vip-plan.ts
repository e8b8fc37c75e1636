/**
 * VIPs in the plan: the addresses the config asks lvsd to hold (services' `vip:` and the
 * top-level `vips:`) against the addresses on the interfaces. Pure, like plan.ts.
 *
 * - A missing interface is created as a dummy and brought up (kube-proxy's kube-ipvs0
 *   habit): the director answers ARP for it on its real NIC, and IPVS sees the packets
 *   because the address is local. A dummy lvsd uses that is down is brought up (IPv6
 *   addresses on a down link are not usable). A named interface that is down is reported.
 * - An address already on its interface is left as it is, whoever put it there.
 * - lvsd removes only addresses it added itself (recorded in the state file) once they
 *   leave the config; addresses it did not add are never touched.
 */
import {
  findAddress,
  heldAddressId,
  parseHeldAddressId,
  sameHeldAddress,
  type AddressSnapshot,
  type HeldAddress,
} from '../director/vip-addresses.js';

export type VipOp =
  | { op: 'create-dummy'; interface: string }
  | { op: 'link-up'; interface: string }
  | { op: 'add-address'; address: HeldAddress }
  | { op: 'delete-address'; address: HeldAddress };

export interface VipStep {
  action: 'add' | 'change' | 'remove';
  op: VipOp;
  /** "interface lvsd0 (dummy)", "10.0.0.1/32 on lvsd0". */
  object: string;
}

export interface VipPlan {
  steps: VipStep[];
  /** Addresses lvsd holds after this plan (heldAddressId), for the state file. */
  owned: string[];
  advice: string[];
}

function unique(addresses: readonly HeldAddress[]): HeldAddress[] {
  const out: HeldAddress[] = [];
  for (const address of addresses)
    if (!out.some((a) => sameHeldAddress(a, address))) out.push(address);
  return out;
}

export function planVips(
  desiredVips: readonly HeldAddress[],
  actual: AddressSnapshot,
  ownedIds: ReadonlySet<string>,
): VipPlan {
  const desired = unique(desiredVips);
  const owned = [...ownedIds].map(parseHeldAddressId).filter((a): a is HeldAddress => a !== null);
  const isOwned = (a: HeldAddress) => owned.some((o) => sameHeldAddress(o, a));
  const steps: VipStep[] = [];
  const advice: string[] = [];
  const next: string[] = [];

  // Removals first: an address leaving one interface for another is gone before it reappears.
  for (const old of owned) {
    if (desired.some((d) => sameHeldAddress(d, old))) continue;
    const present = findAddress(actual, old);
    if (present)
      steps.push({
        action: 'remove',
        op: { op: 'delete-address', address: present },
        object: heldAddressId(present),
      });
  }

  for (const name of [...new Set(desired.map((d) => d.interface))]) {
    const link = actual.links.find((l) => l.name === name);
    if (!link) {
      steps.push({
        action: 'add',
        op: { op: 'create-dummy', interface: name },
        object: `interface ${name} (dummy)`,
      });
      steps.push({
        action: 'change',
        op: { op: 'link-up', interface: name },
        object: `interface ${name} up`,
      });
    } else if (!link.up && link.kind === 'dummy') {
      steps.push({
        action: 'change',
        op: { op: 'link-up', interface: name },
        object: `interface ${name} up`,
      });
    } else if (!link.up) {
      advice.push(
        `interface ${name} is down: the VIPs lvsd holds on it (${desired
          .filter((d) => d.interface === name)
          .map((d) => d.address)
          .join(', ')}) receive nothing until it is up`,
      );
    }
  }

  for (const wanted of desired) {
    const present = findAddress(actual, wanted);
    if (!present) {
      steps.push({
        action: 'add',
        op: { op: 'add-address', address: wanted },
        object: heldAddressId(wanted),
      });
      next.push(heldAddressId(wanted));
      continue;
    }
    if (isOwned(wanted)) next.push(heldAddressId(present));
    if (present.prefix !== wanted.prefix) {
      advice.push(
        `${wanted.address} is on ${wanted.interface} as /${present.prefix}, the config says /${wanted.prefix}; ` +
          `lvsd leaves it as it is`,
      );
    }
  }
  return { steps, owned: next, advice };
}
