/**
 * VRRP advertisements on the wire, versions 2 (RFC 3768, IPv4) and 3 (RFC 5798 / RFC 9568,
 * IPv4 and IPv6). Pure: bytes in, bytes out; the raw sockets live in src/ffi.
 *
 *   v2: ver|type, vrid, priority, count, auth type, adver_int (seconds), checksum,
 *       addresses, 8 bytes of authentication data (zero: authentication is not offered)
 *   v3: ver|type, vrid, priority, count, rsvd(4)|max_adver_int(12, centiseconds),
 *       checksum, addresses
 *
 * The v2 checksum covers the VRRP message alone; the v3 checksum starts with the IPv4 or
 * IPv6 pseudo-header (source, destination, protocol 112, length).
 */
import { addressToBytes, bytesToAddress } from '../netlink/inet.js';
import type { Family } from '../ipvs/model.js';

export const VRRP_PROTOCOL = 112;
export const VRRP_GROUP = { ipv4: '224.0.0.18', ipv6: 'ff02::12' } as const;
/** Adverts are sent with TTL / hop limit 255 and must arrive with it (not forwarded). */
export const VRRP_TTL = 255;
const TYPE_ADVERTISEMENT = 1;
const V2_AUTH_LENGTH = 8;

export type VrrpVersion = 2 | 3;

export interface Advert {
  version: VrrpVersion;
  vrid: number;
  priority: number;
  /** Advertisement interval in centiseconds (v2 carries whole seconds: 100, 200, ...). */
  intervalCs: number;
  addresses: string[];
}

export interface Endpoints {
  family: Family;
  source: string;
  destination: string;
}

const addressLength = (family: Family) => (family === 'ipv4' ? 4 : 16);

/** The Internet checksum (RFC 1071) of the concatenated parts. */
export function internetChecksum(parts: readonly Uint8Array[]): number {
  let sum = 0;
  let odd: number | null = null;
  for (const part of parts)
    for (const byte of part) {
      if (odd === null) odd = byte;
      else {
        sum += (odd << 8) | byte;
        odd = null;
      }
    }
  if (odd !== null) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** IPv4 { src, dst, 0, proto, length } or IPv6 { src, dst, length(32), 0, next header }. */
export function pseudoHeader(ends: Endpoints, protocol: number, length: number): Buffer {
  const n = addressLength(ends.family);
  const src = addressToBytes(ends.source).subarray(0, n);
  const dst = addressToBytes(ends.destination).subarray(0, n);
  if (ends.family === 'ipv4') {
    const tail = Buffer.from([0, protocol, length >> 8, length & 0xff]);
    return Buffer.concat([src, dst, tail]);
  }
  const tail = Buffer.alloc(8);
  tail.writeUInt32BE(length, 0);
  tail.writeUInt8(protocol, 7);
  return Buffer.concat([src, dst, tail]);
}

function checksumOf(message: Buffer, version: VrrpVersion, ends: Endpoints): number {
  return version === 2
    ? internetChecksum([message])
    : internetChecksum([pseudoHeader(ends, VRRP_PROTOCOL, message.length), message]);
}

export function encodeAdvert(advert: Advert, ends: Endpoints): Buffer {
  const n = addressLength(ends.family);
  const trailer = advert.version === 2 ? V2_AUTH_LENGTH : 0;
  const out = Buffer.alloc(8 + n * advert.addresses.length + trailer);
  out.writeUInt8((advert.version << 4) | TYPE_ADVERTISEMENT, 0);
  out.writeUInt8(advert.vrid, 1);
  out.writeUInt8(advert.priority, 2);
  out.writeUInt8(advert.addresses.length, 3);
  if (advert.version === 2) {
    out.writeUInt8(0, 4); // no authentication
    out.writeUInt8(Math.round(advert.intervalCs / 100), 5);
  } else out.writeUInt16BE(advert.intervalCs & 0x0fff, 4);
  advert.addresses.forEach((address, i) => {
    addressToBytes(address).copy(out, 8 + i * n, 0, n);
  });
  out.writeUInt16BE(checksumOf(out, advert.version, ends), 6);
  return out;
}

export type DecodeResult = { ok: true; advert: Advert } | { ok: false; reason: string };

/**
 * Checks what RFC 5798 5.1 / RFC 3768 7.1 ask of a received advert (version, type, length,
 * checksum, address count) and decodes it. TTL, VRID and the address list are the
 * receiver's to compare with its instance.
 */
export function decodeAdvert(message: Buffer, ends: Endpoints): DecodeResult {
  if (message.length < 8) return { ok: false, reason: `too short (${message.length} bytes)` };
  const version = message.readUInt8(0) >> 4;
  const type = message.readUInt8(0) & 0x0f;
  if (version !== 2 && version !== 3) return { ok: false, reason: `version ${version}` };
  if (type !== TYPE_ADVERTISEMENT) return { ok: false, reason: `type ${type}` };
  if (version === 2 && ends.family !== 'ipv4')
    return { ok: false, reason: 'VRRPv2 over IPv6 does not exist' };
  const n = addressLength(ends.family);
  const count = message.readUInt8(3);
  const trailer = version === 2 ? V2_AUTH_LENGTH : 0;
  const need = 8 + count * n;
  if (message.length < need)
    return { ok: false, reason: `${count} addresses announced, ${message.length} bytes` };
  const covered =
    version === 2
      ? message.subarray(0, Math.min(message.length, need + trailer))
      : message.subarray(0, need);
  const expected = checksumOf(Buffer.from(covered).fill(0, 6, 8), version, ends);
  if (expected !== message.readUInt16BE(6)) return { ok: false, reason: 'bad checksum' };
  if (version === 2 && message.readUInt8(4) !== 0)
    return { ok: false, reason: `authentication type ${message.readUInt8(4)} (not offered)` };
  const addresses: string[] = [];
  for (let i = 0; i < count; i++)
    addresses.push(bytesToAddress(message.subarray(8 + i * n, 8 + (i + 1) * n), ends.family));
  return {
    ok: true,
    advert: {
      version,
      vrid: message.readUInt8(1),
      priority: message.readUInt8(2),
      intervalCs: version === 2 ? message.readUInt8(5) * 100 : message.readUInt16BE(4) & 0x0fff,
      addresses,
    },
  };
}

export interface Ipv4Packet {
  tos: number;
  ttl: number;
  protocol: number;
  source: string;
  destination: string;
  payload: Buffer;
}

/** The IPv4 header a raw IPv4 socket hands over in front of each payload. */
export function decodeIpv4(packet: Buffer): Ipv4Packet | null {
  if (packet.length < 20 || packet.readUInt8(0) >> 4 !== 4) return null;
  const headerLength = (packet.readUInt8(0) & 0x0f) * 4;
  const total = Math.min(packet.readUInt16BE(2), packet.length);
  if (headerLength < 20 || total < headerLength) return null;
  return {
    tos: packet.readUInt8(1),
    ttl: packet.readUInt8(8),
    protocol: packet.readUInt8(9),
    source: bytesToAddress(packet.subarray(12, 16), 'ipv4'),
    destination: bytesToAddress(packet.subarray(16, 20), 'ipv4'),
    payload: packet.subarray(headerLength, total),
  };
}

/** Orders addresses as numbers (network byte order): the VRRP tie-break on equal priority. */
export function compareAddresses(a: string, b: string): number {
  return Buffer.compare(addressToBytes(a), addressToBytes(b));
}
