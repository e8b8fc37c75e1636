import { describe, expect, it } from 'vitest';
import { marksOfRule, mergeRuleMarks } from '../../src/director/fwmark-rules.js';
import { fwmarkAdvice } from '../../src/director/fwmark-advice.js';

/**
 * NFT_MSG_NEWRULE payloads (nfgenmsg stripped) recorded from a Linux 6.1 kernel with
 * iptables v1.8.9 (nf_tables) in a fresh network namespace:
 */
const recorded = {
  // iptables -t mangle -A PREROUTING -d 10.0.0.1 -p tcp -m multiport --dports 80,443 -j MARK --set-mark 10
  setMark10:
    '0b0001006d616e676c6500000f000200505245524f5554494e4700000c00030000000000000000027401040024000100' +
    '090001006d6574610000000014000200080002000000001008000100000000012c00010008000100636d700020000200' +
    '080001000000000108000200000000000c0003000500010006000000340001000c0001007061796c6f61640024000200' +
    '08000100000000010800020000000001080003000000001008000400000000042c00010008000100636d700020000200' +
    '080001000000000108000200000000000c000300080001000a000001600001000a0001006d6174636800000050000200' +
    '0e0001006d756c7469706f727400000008000200000000013400030001025000bb010000000000000000000000000000' +
    '000000000000000000000000000000000000000000000000000000002c0001000c000100636f756e746572001c000200' +
    '0c00010000000000000000000c0002000000000000000000340001000b00010074617267657400002400020009000100' +
    '4d41524b0000000008000200000000020c0003000a000000ffffffff',
  // iptables -t mangle -A PREROUTING -j CONNMARK --restore-mark
  connmarkRestore:
    '0b0001006d616e676c6500000f000200505245524f5554494e4700000c00030000000000000000030c00060000000000' +
    '00000002700004002c0001000c000100636f756e746572001c0002000c00010000000000000000000c00020000000000' +
    '00000000400001000b0001007461726765740000300002000d000100434f4e4e4d41524b000000000800020000000002' +
    '1400030000000000ffffffffffffffff00000200',
  // iptables -t mangle -A PREROUTING -p tcp --dport 25 -j MARK --or-mark 4
  orMark4:
    '0b0001006d616e676c6500000f000200505245524f5554494e4700000c00030000000000000000040c00060000000000' +
    '000000031401040024000100090001006d6574610000000014000200080002000000001008000100000000012c000100' +
    '08000100636d700020000200080001000000000108000200000000000c0003000500010006000000340001000c000100' +
    '7061796c6f6164002400020008000100000000010800020000000002080003000000000208000400000000022c000100' +
    '08000100636d700020000200080001000000000108000200000000000c00030006000100001900002c0001000c000100' +
    '636f756e746572001c0002000c00010000000000000000000c0002000000000000000000340001000b00010074617267' +
    '6574000024000200090001004d41524b0000000008000200000000020c0003000400000004000000',
  // ip6tables -t mangle -A PREROUTING -p tcp --dport 80 -j MARK --set-mark 0x14
  ipv6SetMark20:
    '0b0001006d616e676c6500000f000200505245524f5554494e4700000c00030000000000000000021401040024000100' +
    '090001006d6574610000000014000200080002000000001008000100000000012c00010008000100636d700020000200' +
    '080001000000000108000200000000000c0003000500010006000000340001000c0001007061796c6f61640024000200' +
    '08000100000000010800020000000002080003000000000208000400000000022c00010008000100636d700020000200' +
    '080001000000000108000200000000000c00030006000100005000002c0001000c000100636f756e746572001c000200' +
    '0c00010000000000000000000c0002000000000000000000340001000b00010074617267657400002400020009000100' +
    '4d41524b0000000008000200000000020c00030014000000ffffffff',
};
const rule = (hex: string) => marksOfRule(Buffer.from(hex, 'hex'));

/** A netlink attribute: u16 length, u16 type (little-endian), payload, padded to 4. */
function attr(type: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16LE(4 + payload.length, 0);
  head.writeUInt16LE(type, 2);
  return Buffer.concat([head, payload, Buffer.alloc((4 - (payload.length % 4)) % 4)]);
}
const be32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const le32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const expr = (name: string, data: Buffer[]) =>
  attr(1, Buffer.concat([attr(1, Buffer.from(`${name}\0`)), attr(2, Buffer.concat(data))]));
const nftRule = (...expressions: Buffer[]) => attr(4, Buffer.concat(expressions));
const immediate = (reg: number, value: number) =>
  expr('immediate', [attr(1, be32(reg)), attr(2, attr(1, le32(value)))]);
const metaSetMark = (reg: number) => expr('meta', [attr(2, be32(3)), attr(3, be32(reg))]);
const payload = () => expr('payload', [attr(1, be32(1))]);

describe('marks set by iptables-nft rules (recorded from the kernel)', () => {
  it('reads MARK --set-mark as an exact mark, in both families', () => {
    expect(rule(recorded.setMark10)).toEqual({ marks: [10], opaque: false });
    expect(rule(recorded.ipv6SetMark20)).toEqual({ marks: [20], opaque: false });
  });
  it('calls marks it cannot compute opaque', () => {
    expect(rule(recorded.connmarkRestore)).toEqual({ marks: [], opaque: true });
    expect(rule(recorded.orMark4)).toEqual({ marks: [], opaque: true });
  });
});

describe('marks set by native nftables rules', () => {
  it('meta mark set N: immediate into a register, meta from it (both register spellings)', () => {
    expect(marksOfRule(nftRule(payload(), immediate(1, 10), metaSetMark(1)))).toEqual({
      marks: [10],
      opaque: false,
    });
    expect(marksOfRule(nftRule(immediate(8, 0x30), metaSetMark(1)))).toEqual({
      marks: [0x30],
      opaque: false,
    });
  });
  it('a register overwritten by another expression (ct mark, a map) makes the rule opaque', () => {
    expect(marksOfRule(nftRule(immediate(1, 10), payload(), metaSetMark(1)))).toEqual({
      marks: [],
      opaque: true,
    });
  });
  it('meta reads of the mark (a match, not a set) are not marks', () => {
    expect(marksOfRule(nftRule(expr('meta', [attr(1, be32(1)), attr(2, be32(3))])))).toEqual({
      marks: [],
      opaque: false,
    });
  });
});

describe('fwmark advice', () => {
  const services = [{ name: 'web-fwm', fwmark: 10, family: 'ipv4' }];
  it('warns when no rule sets the mark, naming the service and a rule to add', () => {
    const advice = fwmarkAdvice(services, mergeRuleMarks([rule(recorded.ipv6SetMark20)]));
    expect(advice).toHaveLength(1);
    expect(advice[0]).toContain('fwmark 10 (web-fwm): no nftables or iptables rule sets mark 10');
    expect(advice[0]).toContain('-j MARK --set-mark 10');
  });
  it('is silent when a rule sets it, when a rule sets marks it cannot compute, or when not checked', () => {
    expect(fwmarkAdvice(services, mergeRuleMarks([rule(recorded.setMark10)]))).toEqual([]);
    expect(fwmarkAdvice(services, mergeRuleMarks([rule(recorded.connmarkRestore)]))).toEqual([]);
    expect(fwmarkAdvice(services, undefined)).toEqual([]);
  });
  it('says it cannot tell when iptables-legacy rules exist', () => {
    expect(fwmarkAdvice(services, mergeRuleMarks([], ['iptables-legacy mangle table']))).toEqual([
      'cannot tell whether firewall rules set mark 10: lvsd reads nftables (and iptables-nft) rules only, not ' +
        'iptables-legacy mangle table',
    ]);
  });
});
