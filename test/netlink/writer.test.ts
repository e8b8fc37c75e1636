/**
 * The hand-written netlink writer (src/netlink/writer.ts): byte layout as the kernel lays it
 * out, padding zeroed, growth, and refusal of what is not an address.
 */
import { describe, expect, it } from 'vitest';
import { AttrCursor, MessageCursor } from '../../src/netlink/reader.js';
import { NetlinkWriter } from '../../src/netlink/writer.js';

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
