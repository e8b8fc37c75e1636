/**
 * The netlink cursors and ACK decoding (src/netlink/reader.ts): flags masked off the type,
 * refusal of malformed input, errno and extended ACK text.
 */
import { describe, expect, it } from 'vitest';
import {
  AttrCursor,
  decodeAckAt,
  MessageCursor,
  NetlinkDecodeError,
} from '../../src/netlink/reader.js';
import { NetlinkWriter } from '../../src/netlink/writer.js';

function attrs(build: (out: NetlinkWriter) => void): Buffer {
  const out = new NetlinkWriter(16);
  build(out);
  return out.bytes();
}

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
    expect(() => new AttrCursor(overrun).next()).toThrow(NetlinkDecodeError);
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

  it('walk the first `end` bytes of a reused buffer: what lies after them is not read', () => {
    const message = (seq: number) => {
      const w = new NetlinkWriter();
      w.beginMessage(5, 0, seq, 1);
      w.u32(1, seq);
      w.endMessage();
      return w.bytes();
    };
    const rx = Buffer.alloc(256);
    // A longer datagram first, then a shorter one over its start: its stale tail follows.
    const two = Buffer.concat([message(1), message(2)]);
    two.copy(rx);
    const one = message(3);
    one.copy(rx);
    const m = new MessageCursor(rx, one.length);
    expect(m.next()).toBe(true);
    expect(m.seq).toBe(3);
    expect(m.next()).toBe(false);
    expect(m.reset(rx, two.length).next()).toBe(true);
    expect(m.seq).toBe(3);
    expect(m.next()).toBe(true);
    expect(m.seq).toBe(2);
    // A message that runs past `end` is refused, whatever the buffer holds beyond it.
    expect(() => m.reset(rx, one.length - 4).next()).toThrow(/overruns its datagram of/);
  });
});

describe('ACKs', () => {
  it('decodes ACKs with errno, sequence and extended message', () => {
    const ack = Buffer.alloc(4 + 16);
    ack.writeInt32LE(-3, 0);
    ack.writeUInt32LE(36, 4);
    ack.writeUInt32LE(1234, 12);
    expect(decodeAckAt(ack, 0, ack.length, 0)).toEqual({ errno: 3, seq: 1234 });
    const ok = Buffer.alloc(20);
    ok.writeUInt32LE(20, 4);
    ok.writeUInt32LE(5, 12);
    const tlv = attrs((out) => out.raw(1, Buffer.from('hello\0')));
    const withTlv = Buffer.concat([ok, tlv]);
    expect(decodeAckAt(withTlv, 0, withTlv.length, 0x200)).toEqual({
      errno: 0,
      seq: 5,
      message: 'hello',
    });
  });
});
