/**
 * The address helpers the migration uses, gathered in one module so that a move of
 * lvsd's address code changes one import line here, not one in every reader.
 */
import { prefixToIpv4MaskValue } from '../ipvs/address.js';

export { canonicalAddress, expandIpv6, familyOf, ipv4MaskToPrefix } from '../ipvs/address.js';

/** 24 -> "255.255.255.0": a prefix length as the dotted mask ipvsadm -M takes and -Sn prints. */
export function dottedMask(prefix: number): string {
  const value = prefixToIpv4MaskValue(prefix);
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
}
