/** The byte layouts the raw-socket module hands to the kernel and reads back (no socket opened). */
import { describe, expect, it } from 'vitest';
import { decodeControl, encodeLinkSockaddr, encodeSockaddr } from '../../src/ffi/raw-socket.js';

describe('raw-socket layouts', () => {
  it('sockaddr_in and sockaddr_in6 (with scope id)', () => {
    expect(encodeSockaddr('224.0.0.18').toString('hex')).toBe(`02000000e0000012${'00'.repeat(8)}`);
    const six = encodeSockaddr('fe80::1', 0, 3);
    expect(six.length).toBe(28);
    expect(six.readUInt16LE(0)).toBe(10);
    expect(six.subarray(8, 24).toString('hex')).toBe(`fe80${'0'.repeat(26)}01`);
    expect(six.readUInt32LE(24)).toBe(3);
  });

  it('sockaddr_ll: family, ethertype in network order, ifindex, address length and address', () => {
    const ll = encodeLinkSockaddr(4, 0x0806, Buffer.from([1, 2, 3, 4, 5, 6]));
    expect(ll.readUInt16LE(0)).toBe(17);
    expect(ll.readUInt16BE(2)).toBe(0x0806);
    expect(ll.readInt32LE(4)).toBe(4);
    expect(ll[11]).toBe(6);
    expect(ll.subarray(12, 18)).toEqual(Buffer.from([1, 2, 3, 4, 5, 6]));
  });

  it('control messages: two cmsghdrs, 8-byte aligned, each copied out whole', () => {
    const control = Buffer.alloc(20 + 4 + 36 + 4);
    control.writeBigUInt64LE(20n, 0); // IPV6_HOPLIMIT, an int
    control.writeInt32LE(41, 8);
    control.writeInt32LE(52, 12);
    control.writeInt32LE(255, 16);
    control.writeBigUInt64LE(36n, 24); // IPV6_PKTINFO, 16 + 4 bytes
    control.writeInt32LE(41, 32);
    control.writeInt32LE(50, 36);
    control.writeUInt8(0xff, 40);
    const [hop, info] = decodeControl(control);
    expect(hop).toMatchObject({ level: 41, type: 52 });
    expect(hop?.data.readInt32LE(0)).toBe(255);
    expect(info).toMatchObject({ level: 41, type: 50 });
    expect(info?.data.length).toBe(20);
    expect(info?.data.buffer.byteLength).toBe(20);
    expect(decodeControl(Buffer.alloc(8))).toEqual([]);
  });
});
