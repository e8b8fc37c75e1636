/**
 * ICMP echo for the icmp checker (RFC 792, RFC 4443): the request out, and what came back
 * in, pure. A reply is ours when its identifier, sequence number and payload are the ones
 * sent; a destination unreachable is ours when the packet it quotes is.
 */
import type { Family } from '../ipvs/model.js';

const ECHO_REQUEST = { ipv4: 8, ipv6: 128 } as const;
const ECHO_REPLY = { ipv4: 0, ipv6: 129 } as const;
const UNREACHABLE = { ipv4: 3, ipv6: 1 } as const;

const UNREACHABLE_CODES: Record<Family, Record<number, string>> = {
  ipv4: {
    0: 'network unreachable',
    1: 'host unreachable',
    2: 'protocol unreachable',
    3: 'port unreachable',
    9: 'network administratively prohibited',
    10: 'host administratively prohibited',
    13: 'communication administratively prohibited',
  },
  ipv6: {
    0: 'no route to destination',
    1: 'communication administratively prohibited',
    3: 'address unreachable',
    4: 'port unreachable',
  },
};

/** The Internet checksum (RFC 1071). */
export function checksum(bytes: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += bytes.readUInt16BE(i);
  if (bytes.length % 2 === 1) sum += (bytes[bytes.length - 1] as number) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * An echo request. The IPv4 checksum is filled in here (a raw socket sends it as it is);
 * for ICMPv6 the kernel computes it over the pseudo-header.
 */
export function echoRequest(family: Family, id: number, seq: number, payload: Buffer): Buffer {
  const packet = Buffer.alloc(8 + payload.length);
  packet.writeUInt8(ECHO_REQUEST[family], 0);
  packet.writeUInt16BE(id, 4);
  packet.writeUInt16BE(seq, 6);
  payload.copy(packet, 8);
  if (family === 'ipv4') packet.writeUInt16BE(checksum(packet), 2);
  return packet;
}

export type IcmpMessage =
  | { kind: 'reply'; id: number; seq: number; payload: Buffer }
  | { kind: 'unreachable'; id: number; seq: number; reason: string }
  | { kind: 'other' };

/** The ICMP message of a received datagram; an IPv4 raw socket hands the IP header too. */
export function parseIcmp(family: Family, data: Buffer, withIpHeader: boolean): IcmpMessage {
  const icmp = withIpHeader ? data.subarray(((data[0] ?? 0) & 0x0f) * 4) : data;
  if (icmp.length < 8) return { kind: 'other' };
  const type = icmp.readUInt8(0);
  if (type === ECHO_REPLY[family])
    return {
      kind: 'reply',
      id: icmp.readUInt16BE(4),
      seq: icmp.readUInt16BE(6),
      payload: icmp.subarray(8),
    };
  if (type !== UNREACHABLE[family]) return { kind: 'other' };
  // The quoted packet: its IP header (IPv4: IHL words; IPv6: 40 bytes), then our echo's first bytes.
  const quoted = icmp.subarray(8);
  const ipLength = family === 'ipv4' ? ((quoted[0] ?? 0) & 0x0f) * 4 : 40;
  const echo = quoted.subarray(ipLength);
  if (echo.length < 8 || echo.readUInt8(0) !== ECHO_REQUEST[family]) return { kind: 'other' };
  const code = icmp.readUInt8(1);
  return {
    kind: 'unreachable',
    id: echo.readUInt16BE(4),
    seq: echo.readUInt16BE(6),
    reason: UNREACHABLE_CODES[family][code] ?? `destination unreachable (code ${code})`,
  };
}
