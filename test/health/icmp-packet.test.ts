/** The ICMP echo codec: requests as ping sends them, replies and unreachables read back, byte by byte. */
import { describe, expect, it } from 'vitest';
import { checksum, echoRequest, parseIcmp } from '../../src/health/icmp-packet.js';

describe('icmp packets', () => {
  it('an IPv4 echo request carries type 8, its id, sequence, payload and a checksum that sums to zero', () => {
    const packet = echoRequest('ipv4', 0x1234, 7, Buffer.from('lvsd'));
    expect(packet.toString('hex')).toBe(
      `0800${packet.toString('hex', 2, 4)}12340007${Buffer.from('lvsd').toString('hex')}`,
    );
    expect(checksum(packet)).toBe(0);
  });

  it('an ICMPv6 echo request leaves the checksum to the kernel (pseudo-header)', () => {
    expect(echoRequest('ipv6', 1, 2, Buffer.alloc(0)).toString('hex')).toBe('8000000000010002');
  });

  it('the checksum of RFC 1071 section 3 example, odd lengths padded', () => {
    expect(checksum(Buffer.from('0001f203f4f5f6f7', 'hex'))).toBe(~0xddf2 & 0xffff);
    expect(checksum(Buffer.from('01', 'hex'))).toBe(~0x0100 & 0xffff);
  });

  it('reads a reply behind an IPv4 header (raw socket) and without one (ping socket)', () => {
    const reply = Buffer.from('0000000012340007', 'hex');
    const ip = Buffer.alloc(24);
    ip[0] = 0x46; // version 4, IHL 6 words: options skipped too
    expect(parseIcmp('ipv4', Buffer.concat([ip, reply, Buffer.from('x')]), true)).toEqual({
      kind: 'reply',
      id: 0x1234,
      seq: 7,
      payload: Buffer.from('x'),
    });
    expect(parseIcmp('ipv4', reply, false)).toMatchObject({ kind: 'reply', id: 0x1234, seq: 7 });
    expect(parseIcmp('ipv6', Buffer.from('8100000000010002', 'hex'), false)).toMatchObject({
      kind: 'reply',
      id: 1,
      seq: 2,
    });
  });

  it('a destination unreachable quoting our request names its reason; others are not ours', () => {
    const quotedIp = Buffer.alloc(20);
    quotedIp[0] = 0x45;
    const unreachable = Buffer.concat([
      Buffer.from('030d000000000000', 'hex'),
      quotedIp,
      echoRequest('ipv4', 9, 3, Buffer.alloc(0)),
    ]);
    expect(parseIcmp('ipv4', unreachable, false)).toEqual({
      kind: 'unreachable',
      id: 9,
      seq: 3,
      reason: 'communication administratively prohibited',
    });
    const v6 = Buffer.concat([
      Buffer.from('0103000000000000', 'hex'),
      Buffer.alloc(40),
      echoRequest('ipv6', 5, 6, Buffer.alloc(0)),
    ]);
    expect(parseIcmp('ipv6', v6, false)).toMatchObject({
      kind: 'unreachable',
      id: 5,
      seq: 6,
      reason: 'address unreachable',
    });
    expect(parseIcmp('ipv4', Buffer.from('0800000000010001', 'hex'), false)).toEqual({
      kind: 'other',
    });
    expect(parseIcmp('ipv4', Buffer.from('0000', 'hex'), false)).toEqual({ kind: 'other' });
  });
});
