/**
 * IP addresses as text and as bytes, and their families: the address-family numbers the
 * kernel uses (linux/socket.h), the check and canonical spelling the config loader relies
 * on for identity comparisons, and the conversion to and from the bytes netlink carries
 * (IPVS's 16-byte union nf_inet_addr, rtnetlink's 4- or 16-byte IFA_LOCAL / IFA_ADDRESS).
 * Node's `net` validates and canonicalises addresses but offers no byte conversion, so the
 * byte side is written here. Nothing here opens a socket: the config loader imports it
 * where the native netlink binding cannot load.
 */
import { isIPv4, isIPv6, SocketAddress } from 'node:net';

/** Address families (linux/socket.h). */
export const AF_INET = 2;
export const AF_INET6 = 10;

/** The same two names as the IPVS model's Family, which this layer cannot import. */
export type InetFamily = 'ipv4' | 'ipv6';

export function familyOf(address: string): InetFamily | null {
  if (isIPv4(address)) return 'ipv4';
  if (isIPv6(address)) return 'ipv6';
  return null;
}

/** RFC 5952 spelling for IPv6 ("2001:db8::1"), dotted quad for IPv4; null when not an address. */
export function canonicalAddress(address: string): string | null {
  const family = familyOf(address);
  if (family === null) return null;
  if (family === 'ipv4')
    return address
      .split('.')
      .map((part) => String(Number(part)))
      .join('.');
  return new SocketAddress({ address, family: 'ipv6' }).address;
}

/** The address as nf_inet_addr: 16 bytes, IPv4 in the first 4, network byte order. */
export function addressToBytes(address: string): Buffer {
  const out = Buffer.alloc(16);
  const family = familyOf(address);
  if (family === 'ipv4') {
    for (const [i, part] of address.split('.').entries()) out.writeUInt8(Number(part), i);
    return out;
  }
  if (family !== 'ipv6') throw new Error(`not an IP address: ${address}`);
  const groups = expandIpv6(address);
  for (const [i, group] of groups.entries()) out.writeUInt16BE(group, i * 2);
  return out;
}

export function bytesToAddress(bytes: Uint8Array, family: InetFamily): string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (family === 'ipv4') return `${buf[0]}.${buf[1]}.${buf[2]}.${buf[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(i * 2).toString(16));
  return canonicalAddress(groups.join(':')) as string;
}

/** The eight 16-bit groups of an IPv6 address ("::" expanded, an IPv4 tail as two groups). */
export function expandIpv6(address: string): number[] {
  let text = address;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = (v4[1] as string).split('.').map(Number) as [
      number,
      number,
      number,
      number,
    ];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string): number[] =>
    part === '' ? [] : part.split(':').map((g) => parseInt(g, 16));
  const front = parse(head);
  if (tail === undefined) return front;
  const back = parse(tail);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}

/** 255.255.255.0 -> 24; null when the mask is not contiguous. */
export function ipv4MaskToPrefix(mask: string): number | null {
  if (!isIPv4(mask)) return null;
  const value = mask.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
  for (let prefix = 0; prefix <= 32; prefix++) {
    if (prefixToIpv4MaskValue(prefix) === value) return prefix;
  }
  return null;
}

export function prefixToIpv4MaskValue(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** A prefix length as a dotted IPv4 netmask: 24 -> "255.255.255.0" (ipvsadm prints it so). */
export function prefixToIpv4Mask(prefix: number): string {
  const value = prefixToIpv4MaskValue(prefix);
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
}
