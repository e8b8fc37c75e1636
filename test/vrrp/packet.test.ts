/**
 * The VRRP codec against packets keepalived 2.2.7 sent (captured with tcpdump in a network
 * namespace: three instances, v2 and v3 over IPv4, v3 over IPv6, then their priority-0
 * adverts at shutdown) and the gratuitous ARP and neighbour advertisements it sent as master.
 * Decoding gives what keepalived was configured with; encoding gives its bytes back.
 */
import { describe, expect, it } from 'vitest';
import { gratuitousArp, parseMac, unsolicitedNeighbourAdvert } from '../../src/vrrp/announce.js';
import {
  compareAddresses,
  decodeAdvert,
  decodeIpv4,
  encodeAdvert,
  internetChecksum,
} from '../../src/vrrp/packet.js';

const frame = (hex: string) => Buffer.from(hex, 'hex');
const MAC = parseMac('02:00:00:00:00:01');

/** vrid 51, prio 150, advert_int 1, version 2, VIPs 192.0.2.100 and .101. */
const V2 =
  '01005e000012020000000001080045c0002c00010000ff70188dc0000201e0000012' +
  '213396020001c3fec0000264c00002650000000000000000';
const V2_STOP =
  '01005e000012020000000001080045c0002c00040000ff70188ac0000201e0000012' +
  '21330002000159ffc0000264c00002650000000000000000';
/** vrid 52, prio 120, advert_int 0.5, version 3, VIP 192.0.2.102. */
const V3 =
  '01005e000012020000000001080045c0002000010000ff701899c0000201e0000012313478010032f1a0c0000266';
const V3_STOP =
  '01005e000012020000000001080045c00020000a0000ff701890c0000201e000001231340001003269a1c0000266';
/** vrid 53, prio 100, advert_int 1, version 3, fe80::53 and 2001:db8::53, from fe80::ff:fe00:1. */
const V6 =
  '33330000001202000000000186dd6c022543002870fffe80000000000000000000fffe000001ff020000000000' +
  '0000000000000000123135640200644055fe80000000000000000000000000005320010db80000000000000000' +
  '00000053';
const V6_STOP =
  '33330000001202000000000186dd6c022543002870fffe80000000000000000000fffe000001ff020000000000' +
  '000000000000000012313500020064a455fe80000000000000000000000000005320010db80000000000000000' +
  '00000053';
const ARP = 'ffffffffffff02000000000108060001080006040001020000000001c0000264ffffffffffffc0000264';
const NA_GLOBAL =
  '33330000000102000000000186dd6000000000203aff20010db8000000000000000000000053ff02000000000000' +
  '00000000000000018800f8862000000020010db80000000000000000000000530201020000000001';
const NA_LINK =
  '33330000000102000000000186dd6000000000203afffe800000000000000000000000000053ff02000000000000' +
  '0000000000000001880056f720000000fe8000000000000000000000000000530201020000000001';

function ipv4Advert(hex: string) {
  const ip = decodeIpv4(frame(hex).subarray(14));
  if (!ip) throw new Error('not IPv4');
  return { ip, ends: { family: 'ipv4' as const, source: ip.source, destination: ip.destination } };
}

function ipv6Advert(hex: string) {
  const ip = frame(hex).subarray(14);
  const payload = ip.subarray(40, 40 + ip.readUInt16BE(4));
  const ends = { family: 'ipv6' as const, source: 'fe80::ff:fe00:1', destination: 'ff02::12' };
  return { payload, ends, hopLimit: ip[7] };
}

describe('VRRP codec against keepalived', () => {
  const cases = [
    {
      name: 'v2',
      hex: V2,
      version: 2,
      vrid: 51,
      priority: 150,
      intervalCs: 100,
      addresses: ['192.0.2.100', '192.0.2.101'],
    },
    {
      name: 'v2 priority 0',
      hex: V2_STOP,
      version: 2,
      vrid: 51,
      priority: 0,
      intervalCs: 100,
      addresses: ['192.0.2.100', '192.0.2.101'],
    },
    {
      name: 'v3 IPv4',
      hex: V3,
      version: 3,
      vrid: 52,
      priority: 120,
      intervalCs: 50,
      addresses: ['192.0.2.102'],
    },
    {
      name: 'v3 IPv4 priority 0',
      hex: V3_STOP,
      version: 3,
      vrid: 52,
      priority: 0,
      intervalCs: 50,
      addresses: ['192.0.2.102'],
    },
  ] as const;

  it.each(cases)('$name: decodes and encodes back byte for byte', (c) => {
    const { ip, ends } = ipv4Advert(c.hex);
    expect(ip).toMatchObject({
      tos: 0xc0,
      ttl: 255,
      protocol: 112,
      source: '192.0.2.1',
      destination: '224.0.0.18',
    });
    const decoded = decodeAdvert(ip.payload, ends);
    const { hex: _h, name: _n, ...expected } = c;
    expect(decoded).toEqual({ ok: true, advert: { ...expected, addresses: [...c.addresses] } });
    if (!decoded.ok) return;
    expect(encodeAdvert(decoded.advert, ends).toString('hex')).toBe(ip.payload.toString('hex'));
  });

  it.each([
    { name: 'v3 IPv6', hex: V6, priority: 100 },
    { name: 'v3 IPv6 priority 0', hex: V6_STOP, priority: 0 },
  ])(
    '$name: decodes and encodes back byte for byte (pseudo-header checksum)',
    ({ hex, priority }) => {
      const { payload, ends, hopLimit } = ipv6Advert(hex);
      expect(hopLimit).toBe(255);
      const decoded = decodeAdvert(payload, ends);
      expect(decoded).toEqual({
        ok: true,
        advert: {
          version: 3,
          vrid: 53,
          priority,
          intervalCs: 100,
          addresses: ['fe80::53', '2001:db8::53'],
        },
      });
      if (decoded.ok) expect(encodeAdvert(decoded.advert, ends).equals(payload)).toBe(true);
    },
  );

  it('refuses a bad checksum, a wrong pseudo-header, a short list and v2 authentication', () => {
    const { ip, ends } = ipv4Advert(V3);
    const bad = Buffer.from(ip.payload);
    bad[2] = 121;
    expect(decodeAdvert(bad, ends)).toEqual({ ok: false, reason: 'bad checksum' });
    // v3 covers the addresses in the pseudo-header: the same bytes from another source fail.
    expect(decodeAdvert(ip.payload, { ...ends, source: '192.0.2.9' })).toEqual({
      ok: false,
      reason: 'bad checksum',
    });
    expect(decodeAdvert(ip.payload.subarray(0, 10), ends)).toMatchObject({
      ok: false,
      reason: /1 addresses announced/,
    });
    const v2 = ipv4Advert(V2);
    const auth = Buffer.from(v2.ip.payload);
    auth[4] = 1;
    auth.writeUInt16BE(0, 6);
    auth.writeUInt16BE(internetChecksum([auth]), 6);
    expect(decodeAdvert(auth, v2.ends)).toEqual({
      ok: false,
      reason: 'authentication type 1 (not offered)',
    });
    expect(decodeAdvert(Buffer.from([0x41, 1, 1, 0, 0, 1, 0, 0]), ends)).toEqual({
      ok: false,
      reason: 'version 4',
    });
  });

  it('v2 carries whole seconds, v3 centiseconds', () => {
    const ends = { family: 'ipv4' as const, source: '192.0.2.1', destination: '224.0.0.18' };
    const v2 = encodeAdvert(
      { version: 2, vrid: 1, priority: 100, intervalCs: 300, addresses: ['192.0.2.5'] },
      ends,
    );
    expect(v2[5]).toBe(3);
    expect(v2.length).toBe(8 + 4 + 8);
    const v3 = encodeAdvert(
      { version: 3, vrid: 1, priority: 100, intervalCs: 25, addresses: ['192.0.2.5'] },
      ends,
    );
    expect(v3.readUInt16BE(4)).toBe(25);
    expect(v3.length).toBe(12);
  });

  it('gratuitous ARP and unsolicited NA are the frames keepalived sends', () => {
    expect(gratuitousArp(MAC, '192.0.2.100').toString('hex')).toBe(ARP);
    expect(unsolicitedNeighbourAdvert(MAC, '2001:db8::53').toString('hex')).toBe(NA_GLOBAL);
    expect(unsolicitedNeighbourAdvert(MAC, 'fe80::53').toString('hex')).toBe(NA_LINK);
  });

  it('orders addresses as numbers for the tie-break', () => {
    expect(compareAddresses('192.0.2.10', '192.0.2.9')).toBeGreaterThan(0);
    expect(compareAddresses('fe80::1', 'fe80::2')).toBeLessThan(0);
    expect(compareAddresses('192.0.2.1', '192.0.2.1')).toBe(0);
  });
});
