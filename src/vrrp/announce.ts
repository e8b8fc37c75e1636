/**
 * What a new master says on the link so that neighbours move the VIPs' MAC at once:
 * gratuitous ARP for IPv4 and unsolicited neighbour advertisements for IPv6, as whole
 * Ethernet frames for a packet socket. Laid out as keepalived sends them: an ARP request
 * "who-has VIP tell VIP" to the broadcast address, and an NA from the VIP to ff02::1 with
 * the override flag and the target link-layer address option, hop limit 255.
 * Linux neighbours update entries they already have; none is created by these.
 */
import { addressToBytes } from '../netlink/inet.js';
import { internetChecksum, pseudoHeader } from './packet.js';

export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;
const BROADCAST = Buffer.alloc(6, 0xff);
const ALL_NODES = 'ff02::1';
const ALL_NODES_MAC = Buffer.from([0x33, 0x33, 0, 0, 0, 1]);

/** "02:00:00:00:00:01" -> 6 bytes. */
export function parseMac(text: string): Buffer {
  const parts = text.trim().split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p)))
    throw new Error(`not a MAC address: ${text}`);
  return Buffer.from(parts.map((p) => Number.parseInt(p, 16)));
}

function ethernet(destination: Buffer, source: Buffer, type: number): Buffer {
  const out = Buffer.alloc(14);
  destination.copy(out, 0);
  source.copy(out, 6);
  out.writeUInt16BE(type, 12);
  return out;
}

export function gratuitousArp(mac: Buffer, address: string): Buffer {
  const ip = addressToBytes(address).subarray(0, 4);
  const arp = Buffer.alloc(28);
  arp.writeUInt16BE(1, 0); // Ethernet
  arp.writeUInt16BE(0x0800, 2); // IPv4
  arp.writeUInt8(6, 4);
  arp.writeUInt8(4, 5);
  arp.writeUInt16BE(1, 6); // request
  mac.copy(arp, 8);
  ip.copy(arp, 14);
  BROADCAST.copy(arp, 18);
  ip.copy(arp, 24);
  return Buffer.concat([ethernet(BROADCAST, mac, ETH_P_ARP), arp]);
}

export function unsolicitedNeighbourAdvert(mac: Buffer, address: string): Buffer {
  const target = addressToBytes(address);
  const icmp = Buffer.alloc(32);
  icmp.writeUInt8(136, 0); // neighbour advertisement
  icmp.writeUInt32BE(0x20000000, 4); // override
  target.copy(icmp, 8);
  icmp.writeUInt8(2, 24); // target link-layer address option, 8 bytes
  icmp.writeUInt8(1, 25);
  mac.copy(icmp, 26);
  const ends = { family: 'ipv6' as const, source: address, destination: ALL_NODES };
  icmp.writeUInt16BE(internetChecksum([pseudoHeader(ends, 58, icmp.length), icmp]), 2);
  const ip = Buffer.alloc(40);
  ip.writeUInt32BE(0x60000000, 0);
  ip.writeUInt16BE(icmp.length, 4);
  ip.writeUInt8(58, 6);
  ip.writeUInt8(255, 7);
  target.copy(ip, 8);
  addressToBytes(ALL_NODES).copy(ip, 24);
  return Buffer.concat([ethernet(ALL_NODES_MAC, mac, ETH_P_IPV6), ip, icmp]);
}
