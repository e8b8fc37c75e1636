/**
 * The hand-written netlink writer and cursors (src/ipvs/wire.ts): byte layout as the kernel
 * lays it out, padding zeroed, growth, and refusal of malformed input.
 */
import { describe, expect, it } from 'vitest';
import { AttrCursor, IpvsDecodeError, MessageCursor, NetlinkWriter } from '../../src/ipvs/wire.js';

const hex = (b: Buffer) => b.toString('hex');

describe('NetlinkWriter', () => {
  it('writes a message header, patches its length and pads attributes with zeroes', () => {
    const w = new NetlinkWriter(8); // grows
    w.beginMessage(0x1d, 0x5, 7, 99);
    w.genlHeader(1, 1);
    w.u8(3, 0xab);
    w.string(4, 'rr');
    w.endMessage();
    expect(hex(w.bytes())).toBe(
      '24000000' +
        '1d00' +
        '0500' +
        '07000000' +
        '63000000' +
        '01010000' +
        '05000300ab000000' +
        '07000400' +
        '72720000',
    );
  });

  it('gives a nest the length of its attributes and their padding (nla_nest_end)', () => {
    const w = new NetlinkWriter();
    w.beginNested(2);
    w.be16(1, 80);
    w.u16(2, 10);
    w.endNested();
    expect(hex(w.bytes())).toBe('14000200' + '060001000050' + '0000' + '060002000a00' + '0000');
  });

  it('writes IPv4 and IPv6 addresses as nf_inet_addr, and refuses what is neither', () => {
    const w = new NetlinkWriter();
    w.address(1, '10.0.0.255');
    w.address(2, '2001:db8::1');
    w.address(3, '::ffff:192.0.2.1');
    w.address(4, '239.1.2.3', 4);
    const c = new AttrCursor(w.bytes());
    const seen: string[] = [];
    while (c.next()) seen.push(hex(c.slice()));
    expect(seen).toEqual([
      '0a0000ff000000000000000000000000',
      '20010db8000000000000000000000001',
      '00000000000000000000ffffc0000201',
      'ef010203',
    ]);
    for (const bad of ['10.0.0', '10.0.0.256', '1.2.3.4.5', 'example.org', '1::2::3']) {
      expect(() => new NetlinkWriter().address(1, bad), bad).toThrow(/not an IP/);
    }
  });

  it('forgets a message that did not fit, and the next one starts where it began', () => {
    const w = new NetlinkWriter();
    w.beginMessage(1, 0, 1, 0);
    w.endMessage();
    const mark = w.length;
    w.beginMessage(2, 0, 2, 0);
    w.u32(1, 5);
    w.truncate(mark);
    w.beginMessage(3, 0, 3, 0);
    w.endMessage();
    const m = new MessageCursor(w.bytes());
    const types: number[] = [];
    while (m.next()) types.push(m.type);
    expect(types).toEqual([1, 3]);
  });
});

describe('cursors', () => {
  it('walk attributes and messages, masking the nested and byte-order flags', () => {
    const w = new NetlinkWriter();
    w.beginMessage(5, 2, 9, 1);
    w.beginNested(0x8000 | 1);
    w.u32(0x4000 | 2, 42);
    w.endNested();
    w.endMessage();
    const m = new MessageCursor(w.bytes());
    expect(m.next()).toBe(true);
    expect([m.type, m.flags, m.seq, m.port]).toEqual([5, 2, 9, 1]);
    const outer = new AttrCursor(m.buf, m.payload, m.payloadEnd);
    expect(outer.next()).toBe(true);
    expect(outer.type).toBe(1);
    const inner = new AttrCursor(outer.buf, outer.value, outer.valueEnd);
    expect(inner.next()).toBe(true);
    expect([inner.type, inner.u32('x')]).toEqual([2, 42]);
    expect(inner.next()).toBe(false);
    expect(m.next()).toBe(false);
  });

  it('refuse lengths that overrun their container and values shorter than their type', () => {
    const overrun = Buffer.from('0c000100aabbccdd', 'hex');
    expect(() => new AttrCursor(overrun).next()).toThrow(IpvsDecodeError);
    const short = new AttrCursor(Buffer.from('06000100aabb0000', 'hex'));
    short.next();
    expect(() => short.u32('IPVS_DEST_ATTR_WEIGHT')).toThrow(
      /IPVS_DEST_ATTR_WEIGHT: attribute of 2 bytes, expected 4/,
    );
    expect(() =>
      new MessageCursor(Buffer.from('40000000000000000000000000000000', 'hex')).next(),
    ).toThrow(/overruns its datagram/);
    // Fewer than four trailing bytes are padding, not an attribute.
    expect(new AttrCursor(Buffer.from('0000', 'hex')).next()).toBe(false);
  });
});
