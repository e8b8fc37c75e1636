/**
 * putDest, putDestKey and putServiceKey (for keys by address) write their nests from templates
 * (AttrTemplate) whose values they set per call. The reference here is the nest written
 * attribute by attribute with the writer's own calls, as they wrote it before: the bytes
 * must be the same for any dest or key, and for any sequence of them (a value left over
 * from the one before, say an IPv6 address's tail under an IPv4 one, would show).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { putDest, putDestKey, putServiceKey } from '../../src/ipvs/codec.js';
import { CmdAttr, DestAttr, SvcAttr, TunnelFlag } from '../../src/ipvs/constants.js';
import type { Dest, ServiceKey } from '../../src/ipvs/model.js';
import { NetlinkWriter } from '../../src/netlink/writer.js';

const AF = { ipv4: 2, ipv6: 10 } as const;
const FWD = { nat: 0, local: 1, tun: 2, dr: 3, bypass: 4 } as const;
const TUN = { ipip: 0, gue: 1, gre: 2 } as const;

function reference(w: NetlinkWriter, dest: Dest): void {
  w.beginNested(CmdAttr.DEST);
  w.address(DestAttr.ADDR, dest.address);
  w.be16(DestAttr.PORT, dest.port);
  w.u16(DestAttr.ADDR_FAMILY, AF[dest.family]);
  w.u32(DestAttr.FWD_METHOD, FWD[dest.forwarding]);
  w.u32(DestAttr.WEIGHT, dest.weight);
  w.u32(DestAttr.U_THRESH, dest.upperThreshold);
  w.u32(DestAttr.L_THRESH, dest.lowerThreshold);
  w.u8(DestAttr.TUN_TYPE, TUN[dest.tunnelType]);
  w.be16(DestAttr.TUN_PORT, dest.tunnelPort);
  w.u16(
    DestAttr.TUN_FLAGS,
    (dest.tunnelFlags.csum ? TunnelFlag.CSUM : 0) |
      (dest.tunnelFlags.remcsum ? TunnelFlag.REMCSUM : 0),
  );
  w.endNested();
}

const PROTOCOL = { tcp: 6, udp: 17, sctp: 132 } as const;

function referenceKey(w: NetlinkWriter, key: ServiceKey): void {
  w.beginNested(CmdAttr.SERVICE);
  w.u16(SvcAttr.AF, AF[key.family]);
  if ('fwmark' in key) w.u32(SvcAttr.FWMARK, key.fwmark);
  else {
    w.u16(SvcAttr.PROTOCOL, PROTOCOL[key.protocol]);
    w.address(SvcAttr.ADDR, key.address);
    w.be16(SvcAttr.PORT, key.port);
  }
  w.endNested();
}

const u16 = fc.integer({ min: 0, max: 65535 });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const ipv4 = fc.ipV4();
const ipv6 = fc.ipV6();

const dest: fc.Arbitrary<Dest> = fc.record({
  address: fc.oneof(ipv4, ipv6),
  port: u16,
  family: fc.constantFrom('ipv4', 'ipv6'),
  forwarding: fc.constantFrom('nat', 'local', 'tun', 'dr', 'bypass'),
  weight: u16,
  upperThreshold: u32,
  lowerThreshold: u32,
  tunnelType: fc.constantFrom('ipip', 'gue', 'gre'),
  tunnelPort: u16,
  tunnelFlags: fc.record({ csum: fc.boolean(), remcsum: fc.boolean() }),
});

const key: fc.Arbitrary<ServiceKey> = fc.oneof(
  fc.record({
    family: fc.constantFrom('ipv4', 'ipv6'),
    protocol: fc.constantFrom('tcp', 'udp', 'sctp'),
    address: fc.oneof(ipv4, ipv6),
    port: u16,
  }),
  fc.record({ family: fc.constantFrom('ipv4', 'ipv6'), fwmark: u32 }),
);

/** Writes every value of a random sequence both ways; the bytes must be the same. */
function sameBytes<T>(
  values: fc.Arbitrary<T>,
  ours: (w: NetlinkWriter, value: T) => void,
  theirs: (w: NetlinkWriter, value: T) => void,
): void {
  fc.assert(
    fc.property(fc.array(values, { minLength: 1, maxLength: 8 }), (sequence) => {
      const a = new NetlinkWriter(16);
      const b = new NetlinkWriter(16);
      for (const value of sequence) {
        ours(a, value);
        theirs(b, value);
      }
      expect(a.bytes().toString('hex')).toBe(b.bytes().toString('hex'));
    }),
    { numRuns: 500 },
  );
}

describe('putDest and putServiceKey from their templates', () => {
  it('write the same key bytes as the attribute-by-attribute nest, key after key', () =>
    sameBytes(key, putServiceKey, referenceKey));

  it('writes the same bytes as the attribute-by-attribute nest, dest after dest', () =>
    sameBytes(dest, putDest, reference));

  it('writes the same dest key bytes as the attribute-by-attribute nest, key after key', () =>
    sameBytes(
      dest,
      (w, d) => putDestKey(w, d, d.family),
      (w, d) => {
        w.beginNested(CmdAttr.DEST);
        w.address(DestAttr.ADDR, d.address);
        w.be16(DestAttr.PORT, d.port);
        w.u16(DestAttr.ADDR_FAMILY, AF[d.family]);
        w.endNested();
      },
    ));

  it('refuses an address that is none, as the writer does', () => {
    const bad = { ...fc.sample(dest, 1)[0]!, address: 'not-an-address' };
    expect(() => putDest(new NetlinkWriter(), bad)).toThrow('not an IP address: not-an-address');
  });
});
