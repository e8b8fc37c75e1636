/**
 * Address ranges of a virtual_server_group (check_data.c: alloc_vsg_entry), expanded into
 * the addresses keepalived programs one IPVS service each for (ipvswrapper.c:
 * ipvs_group_range_cmd): 192.168.1.1-10 (last octet; for IPv6 the last 16 bits, in hex),
 * 192.168.1.250-192.168.2.10, 192.168.1.8/29 (network to broadcast, host bits zero).
 */
import { canonicalAddress, expandIpv6, familyOf } from '../netlink/inet.js';
import type { Family } from '../ipvs/model.js';
import { ValueError } from './keepalived-values.js';

/** More services than this from one entry is almost surely a typo (a /16). */
const MAX_ADDRESSES = 1024;

function v4ToNumber(address: string): number {
  return address.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

function numberToV4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

function v6WithLast(address: string, last: number): string {
  const groups = expandIpv6(address);
  groups[7] = last;
  return canonicalAddress(groups.map((g) => g.toString(16)).join(':')) as string;
}

function span(text: string, count: number): void {
  if (count < 1) throw new ValueError(`address range ${text}: the end is below the start`);
  if (count > MAX_ADDRESSES)
    throw new ValueError(
      `address range ${text} holds ${count} addresses (more than ${MAX_ADDRESSES} services)`,
    );
}

function v4Range(text: string, start: string, endText: string): string[] {
  const first = v4ToNumber(start);
  let last: number;
  if (endText.includes('.')) {
    if (familyOf(endText) !== 'ipv4') throw new ValueError(`invalid range end ${endText}`);
    last = v4ToNumber(endText);
  } else {
    const end = /^\d+$/.test(endText) ? Number(endText) : Number.NaN;
    if (!(end <= 255))
      throw new ValueError(`virtual server group range '${text}' end '${endText}' too large`);
    if (end <= first % 256)
      throw new ValueError(`address range end is not greater than address range start - ${text}`);
    last = first - (first % 256) + end;
  }
  span(text, last - first + 1);
  return Array.from({ length: last - first + 1 }, (_, i) => numberToV4(first + i));
}

function v6Range(text: string, start: string, endText: string): string[] {
  const groups = expandIpv6(start);
  const first = groups[7] as number;
  let last: number;
  if (endText.includes(':')) {
    const end = expandIpv6(endText);
    if (end.slice(0, 7).join(':') !== groups.slice(0, 7).join(':'))
      throw new ValueError(
        `address range ${text}: keepalived steps through the last 16 bits only; split the range`,
      );
    last = end[7] as number;
  } else {
    last = /^[0-9a-fA-F]{1,4}$/.test(endText) ? Number.parseInt(endText, 16) : Number.NaN;
    if (Number.isNaN(last))
      throw new ValueError(`virtual server group range '${text}' end '${endText}' too large`);
  }
  span(text, last - first + 1);
  return Array.from({ length: last - first + 1 }, (_, i) => v6WithLast(start, first + i));
}

function masked(text: string, start: string, family: Family, maskText: string): string[] {
  const max = family === 'ipv4' ? 32 : 128;
  const mask = /^\d+$/.test(maskText) ? Number(maskText) : Number.NaN;
  if (!(mask >= 1 && mask <= max)) throw new ValueError(`invalid netmask - ${text}`);
  if (family === 'ipv6') {
    if (mask < 112)
      throw new ValueError(
        `${text}: keepalived steps through the last 16 bits of an IPv6 range only; write it as ranges`,
      );
    const first = expandIpv6(start)[7] as number;
    const size = 2 ** (128 - mask);
    if (first % size !== 0) throw new ValueError(`address mask bits not empty - ${text}`);
    return v6Range(text, start, (first + size - 1).toString(16));
  }
  const first = v4ToNumber(start);
  const size = 2 ** (32 - mask);
  if (first % size !== 0) throw new ValueError(`address mask bits not empty - ${text}`);
  span(text, size);
  return Array.from({ length: size }, (_, i) => numberToV4(first + i));
}

/** The addresses of one group entry, in the order keepalived programs them. */
export function expandRange(text: string): { family: Family; addresses: string[] } {
  const slash = text.indexOf('/');
  const dash = text.indexOf('-');
  const start = text.slice(0, slash >= 0 ? slash : dash >= 0 ? dash : text.length);
  const family = familyOf(start);
  if (!family) throw new ValueError(`invalid virtual server group IP address ${text}`);
  const canonical = canonicalAddress(start) as string;
  if (slash >= 0)
    return { family, addresses: masked(text, canonical, family, text.slice(slash + 1)) };
  if (dash < 0) return { family, addresses: [canonical] };
  const end = text.slice(dash + 1);
  const addresses =
    family === 'ipv4' ? v4Range(text, canonical, end) : v6Range(text, canonical, end);
  return { family, addresses };
}
