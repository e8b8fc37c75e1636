import { describe, expect, it } from 'vitest';
import {
  decodeDaemon,
  decodeInfo,
  decodeTimeouts,
  genlPayload,
  netmaskPrefix,
  putDaemon,
  putDest,
  putDestKey,
  putService,
  putServiceKey,
  putTimeouts,
} from '../../src/ipvs/codec.js';
import { NLM_F_ACK, NLM_F_REQUEST } from '../../src/netlink/constants.js';
import { parseGenl } from '../../src/netlink/genl.js';
import { frameMessage, NetlinkWriter } from '../../src/netlink/writer.js';
import { dest as buildDest } from '../builders.js';
import { findAttribute } from '../netlink/helpers.js';
import { decodeDest, decodeService, decodeStats, encodeOp } from './helpers.js';
import { CmdAttr, DestAttr, IpvsCmd, StatsAttr, SvcAttr } from '../../src/ipvs/constants.js';
import type { Dest, Service, SyncDaemon } from '../../src/ipvs/model.js';
import type { IpvsOp } from '../../src/ipvs/client.js';

function attrs(build: (out: NetlinkWriter) => void): Buffer {
  const out = new NetlinkWriter(16);
  build(out);
  return out.bytes();
}
function nested(build: (out: NetlinkWriter) => void, which: number): Buffer {
  const found = findAttribute(attrs(build), which);
  if (!found) throw new Error('attribute missing');
  return found;
}
const hex = (b: Buffer) => b.toString('hex');

const flagsOff = {
  persistent: false,
  onePacket: false,
  sched1: false,
  sched2: false,
  sched3: false,
};
const tcp80: Service = {
  family: 'ipv4',
  protocol: 'tcp',
  address: '10.0.0.1',
  port: 80,
  scheduler: 'wlc',
  flags: flagsOff,
  timeout: 0,
  netmask: 32,
  pe: null,
};
const baseDest: Dest = buildDest('192.168.10.2', 8080);

describe('codec: bytes on the wire', () => {
  it('encodes a service key for TCP 10.0.0.1:80 exactly', () => {
    const b = attrs((out) =>
      putServiceKey(out, { family: 'ipv4', protocol: 'tcp', address: '10.0.0.1', port: 80 }),
    );
    // nested SERVICE (len 0x30, type 1) | AF u16 2 | PROTOCOL u16 6 | ADDR 16 bytes | PORT be16 80;
    // each attribute padded to 4 bytes, the nest's length covering its padding (nla_nest_end)
    expect(hex(b)).toBe(
      '30000100' +
        '060001000200' +
        '0000' +
        '060002000600' +
        '0000' +
        '14000300' +
        '0a000001000000000000000000000000' +
        '060004000050' +
        '0000',
    );
  });

  it('encodes a fwmark key with AF and FWMARK only', () => {
    const b = attrs((out) => putServiceKey(out, { family: 'ipv6', fwmark: 7 }));
    expect(hex(b)).toBe('14000100' + '060001000a00' + '0000' + '0800050007000000');
  });

  it('reads the IPv4 netmask in network order and the IPv6 prefix in host order', () => {
    expect(netmaskPrefix('ipv4', Buffer.from('ffff0000', 'hex'))).toBe(16);
    expect(netmaskPrefix('ipv6', Buffer.from('80000000', 'hex'))).toBe(128);
    expect(() => netmaskPrefix('ipv4', Buffer.from('ff00ff00', 'hex'))).toThrow(/non-contiguous/);
  });

  it('sends flags with an all-ones mask and no PE_NAME when there is no engine', () => {
    const svc = nested(
      (out) =>
        putService(out, { ...tcp80, flags: { ...flagsOff, persistent: true, sched2: true } }),
      CmdAttr.SERVICE,
    );
    const seen = new Map<number, Buffer>();
    let off = 0;
    while (off < svc.length) {
      const len = svc.readUInt16LE(off);
      seen.set(svc.readUInt16LE(off + 2), svc.subarray(off + 4, off + len));
      off += (len + 3) & ~3;
    }
    expect(hex(seen.get(SvcAttr.FLAGS)!)).toBe('11000000ffffffff');
    expect(seen.get(SvcAttr.SCHED_NAME)!.toString()).toBe('wlc\0');
    expect(seen.has(SvcAttr.PE_NAME)).toBe(false);
    expect(hex(seen.get(SvcAttr.NETMASK)!)).toBe('ffffffff');
  });

  it('frames one message padded to 4 bytes with the genl header', () => {
    const payload = genlPayload(IpvsCmd.FLUSH);
    const msg = frameMessage(0x22, NLM_F_REQUEST | NLM_F_ACK, 7, 99, payload);
    expect(hex(msg)).toBe('14000000' + '2200' + '0500' + '07000000' + '63000000' + '11010000');
    const odd = frameMessage(0x22, 1, 1, 0, Buffer.from([1, 2, 3, 4, 5]));
    expect(odd.length).toBe(24);
    expect(odd.readUInt32LE(0)).toBe(21);
  });

  it('writes only the timeouts given', () => {
    expect(hex(attrs((out) => putTimeouts(out, { udp: 300 })))).toBe('080006002c010000');
    expect(attrs((out) => putTimeouts(out, {})).length).toBe(0);
  });

  it('maps every operation to its command', () => {
    const key = { family: 'ipv4', protocol: 'tcp', address: '10.0.0.1', port: 80 } as const;
    const cases: Array<[IpvsOp, number]> = [
      [{ op: 'add-service', service: tcp80 }, IpvsCmd.NEW_SERVICE],
      [{ op: 'edit-service', service: tcp80 }, IpvsCmd.SET_SERVICE],
      [{ op: 'delete-service', service: key }, IpvsCmd.DEL_SERVICE],
      [{ op: 'add-dest', service: key, dest: baseDest }, IpvsCmd.NEW_DEST],
      [{ op: 'edit-dest', service: key, dest: baseDest }, IpvsCmd.SET_DEST],
      [
        { op: 'delete-dest', service: key, dest: { address: '192.168.10.2', port: 8080 } },
        IpvsCmd.DEL_DEST,
      ],
      [{ op: 'set-timeouts', timeouts: { tcp: 10 } }, IpvsCmd.SET_CONFIG],
      [
        { op: 'add-daemon', daemon: { state: 'master', interface: 'eth0', syncId: 1 } },
        IpvsCmd.NEW_DAEMON,
      ],
      [{ op: 'delete-daemon', state: 'backup' }, IpvsCmd.DEL_DAEMON],
      [{ op: 'zero' }, IpvsCmd.ZERO],
      [{ op: 'zero', service: key }, IpvsCmd.ZERO],
      [{ op: 'flush' }, IpvsCmd.FLUSH],
    ];
    for (const [op, cmd] of cases) {
      const g = parseGenl(encodeOp(op));
      expect(g.cmd, op.op).toBe(cmd);
      expect(g.version).toBe(1);
    }
    const delDest = parseGenl(encodeOp(cases[5]![0])).attrs;
    const d = findAttribute(delDest, CmdAttr.DEST)!;
    expect(d.length).toBe(20 + 8 + 8); // ADDR, PORT, ADDR_FAMILY (each padded): nothing else
    expect(findAttribute(parseGenl(encodeOp({ op: 'zero' })).attrs, CmdAttr.SERVICE)).toBeNull();
  });
});

describe('codec: round trips', () => {
  const services: Service[] = [
    tcp80,
    { ...tcp80, protocol: 'udp', port: 53, scheduler: 'rr' },
    {
      ...tcp80,
      protocol: 'sctp',
      port: 3868,
      scheduler: 'sh',
      flags: { ...flagsOff, sched1: true, sched2: true },
    },
    { ...tcp80, flags: { ...flagsOff, persistent: true }, timeout: 300, netmask: 24 },
    { ...tcp80, flags: { ...flagsOff, onePacket: true, sched3: true }, scheduler: 'mh' },
    {
      ...tcp80,
      protocol: 'udp',
      port: 5060,
      flags: { ...flagsOff, persistent: true },
      timeout: 60,
      pe: 'sip',
    },
    {
      family: 'ipv6',
      protocol: 'tcp',
      address: '2001:db8::1',
      port: 443,
      scheduler: 'wrr',
      flags: flagsOff,
      timeout: 0,
      netmask: 128,
      pe: null,
    },
    {
      family: 'ipv6',
      protocol: 'tcp',
      address: '2001:db8::1',
      port: 443,
      scheduler: 'lc',
      flags: { ...flagsOff, persistent: true },
      timeout: 3600,
      netmask: 64,
      pe: null,
    },
    {
      family: 'ipv4',
      fwmark: 42,
      scheduler: 'wlc',
      flags: flagsOff,
      timeout: 0,
      netmask: 32,
      pe: null,
    },
    {
      family: 'ipv6',
      fwmark: 0xffffffff,
      scheduler: 'none',
      flags: { ...flagsOff, persistent: true },
      timeout: 10,
      netmask: 48,
      pe: null,
    },
  ];
  for (const svc of services) {
    it(`service ${JSON.stringify(svc).slice(0, 90)}`, () => {
      const decoded = decodeService(nested((out) => putService(out, svc), CmdAttr.SERVICE));
      expect(decoded).toEqual({ ...svc, dests: [] });
    });
  }

  const dests: Dest[] = [
    baseDest,
    { ...baseDest, forwarding: 'dr', weight: 0, port: 0 },
    { ...baseDest, forwarding: 'tun', weight: 65535, upperThreshold: 1000, lowerThreshold: 10 },
    {
      ...baseDest,
      forwarding: 'tun',
      tunnelType: 'gue',
      tunnelPort: 6080,
      tunnelFlags: { csum: true, remcsum: false },
    },
    {
      ...baseDest,
      forwarding: 'tun',
      tunnelType: 'gre',
      tunnelFlags: { csum: true, remcsum: true },
    },
    { ...baseDest, forwarding: 'local' },
    { ...baseDest, address: '2001:db8::20', family: 'ipv6', forwarding: 'tun' },
    { ...baseDest, address: 'fe80::1', family: 'ipv6' },
  ];
  for (const dest of dests) {
    it(`dest ${dest.address}:${dest.port} ${dest.forwarding} ${dest.tunnelType}`, () => {
      const decoded = decodeDest(
        nested((out) => putDest(out, dest), CmdAttr.DEST),
        'ipv4',
      );
      expect(decoded).toEqual({ ...dest, activeConns: 0, inactiveConns: 0, persistConns: 0 });
    });
  }

  it('IPv4 addresses on both sides of 2^31 round-trip, twice (the second time from the caches)', () => {
    for (const round of [1, 2]) {
      for (const address of [
        '0.0.0.0',
        '127.255.255.255',
        '128.0.0.0',
        '192.168.10.2',
        '255.255.255.255',
      ]) {
        const decoded = decodeDest(
          nested((out) => putDest(out, { ...baseDest, address }), CmdAttr.DEST),
          'ipv4',
        );
        expect(decoded.address, `round ${round}`).toBe(address);
      }
    }
  });

  it('dest key without settings decodes with defaults', () => {
    const d = decodeDest(
      nested((out) => putDestKey(out, { address: '10.1.1.1', port: 1 }, 'ipv4'), CmdAttr.DEST),
      'ipv4',
    );
    expect(d).toMatchObject({ address: '10.1.1.1', port: 1, forwarding: 'nat', weight: 0 });
  });

  const daemons: SyncDaemon[] = [
    { state: 'master', interface: 'eth0', syncId: 0 },
    {
      state: 'backup',
      interface: 'bond0.100',
      syncId: 255,
      syncMaxLen: 1400,
      mcastGroup: '239.1.2.3',
      mcastPort: 9000,
      mcastTtl: 3,
    },
    { state: 'master', interface: 'eth1', syncId: 9, mcastGroup: 'ff02::1:2' },
  ];
  for (const daemon of daemons) {
    it(`daemon ${daemon.state} ${daemon.interface}`, () => {
      expect(decodeDaemon(nested((out) => putDaemon(out, daemon), CmdAttr.DAEMON))).toEqual(daemon);
    });
  }

  it('timeouts and info', () => {
    expect(
      decodeTimeouts(attrs((out) => putTimeouts(out, { tcp: 900, tcpFin: 120, udp: 300 }))),
    ).toEqual({
      tcp: 900,
      tcpFin: 120,
      udp: 300,
    });
    const info = attrs((out) => {
      out.raw(1, Buffer.from([0x01, 0x02, 0x01, 0x00]));
      out.raw(2, Buffer.from([0x00, 0x10, 0x00, 0x00]));
    });
    expect(decodeInfo(info)).toEqual({ version: '1.2.1', connTableSize: 4096 });
  });
});

describe('codec: robustness', () => {
  it('skips unknown attributes at every level', () => {
    const svc = attrs((out) => {
      out.raw(SvcAttr.AF, Buffer.from([2, 0]));
      out.raw(99, Buffer.from('future attribute'));
      out.raw(SvcAttr.FWMARK, Buffer.from([5, 0, 0, 0]));
      out.raw(SvcAttr.SCHED_NAME, Buffer.from('rr\0'));
      out.raw(200, Buffer.alloc(0));
    });
    expect(decodeService(svc)).toMatchObject({
      family: 'ipv4',
      fwmark: 5,
      scheduler: 'rr',
      netmask: 32,
    });
    const dest = attrs((out) => {
      out.raw(DestAttr.ADDR, Buffer.from('0a000002000000000000000000000000', 'hex'));
      out.raw(DestAttr.PORT, Buffer.from([0, 80]));
      out.raw(16, Buffer.from([1, 2, 3])); // a newer kernel's attribute
    });
    expect(decodeDest(dest, 'ipv4')).toMatchObject({
      address: '10.0.0.2',
      port: 80,
      family: 'ipv4',
    });
  });

  it('prefers STATS64 over STATS and skips PAD', () => {
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n);
      return b;
    };
    const u64 = (n: number) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(n));
      return b;
    };
    const stats32 = attrs((out) => {
      out.raw(StatsAttr.CONNS, u32(1));
      out.raw(StatsAttr.INBYTES, u64(2));
    });
    const stats64 = attrs((out) => {
      out.raw(StatsAttr.PAD, Buffer.alloc(0));
      out.raw(StatsAttr.CONNS, u64(2 ** 40));
      out.raw(StatsAttr.PAD, Buffer.alloc(0));
      out.raw(StatsAttr.OUTBPS, u64(7));
    });
    expect(decodeStats(stats32)).toMatchObject({ conns: 1, inBytes: 2 });
    const svc = attrs((out) => {
      out.raw(SvcAttr.AF, Buffer.from([2, 0]));
      out.raw(SvcAttr.FWMARK, Buffer.from([5, 0, 0, 0]));
      out.raw(SvcAttr.STATS, stats32);
      out.raw(SvcAttr.STATS64, stats64);
    });
    expect(decodeService(svc).stats).toMatchObject({ conns: 2 ** 40, outBps: 7, inBytes: 0 });
  });

  it('drops the kernel-internal HASHED flag and honours the mask', () => {
    const svc = attrs((out) => {
      out.raw(SvcAttr.AF, Buffer.from([2, 0]));
      out.raw(SvcAttr.FWMARK, Buffer.from([1, 0, 0, 0]));
      out.raw(SvcAttr.FLAGS, Buffer.from('07000000ffffffff', 'hex'));
    });
    expect(decodeService(svc).flags).toEqual({
      persistent: true,
      onePacket: true,
      sched1: false,
      sched2: false,
      sched3: false,
    });
    const masked = attrs((out) => {
      out.raw(SvcAttr.AF, Buffer.from([2, 0]));
      out.raw(SvcAttr.FWMARK, Buffer.from([1, 0, 0, 0]));
      out.raw(SvcAttr.FLAGS, Buffer.from('0500000004000000', 'hex'));
    });
    expect(decodeService(masked).flags.persistent).toBe(false);
    expect(decodeService(masked).flags.onePacket).toBe(true);
  });

  it('takes the dest family from the service when ADDR_FAMILY is missing', () => {
    const dest = attrs((out) => {
      out.raw(DestAttr.ADDR, Buffer.from('20010db8000000000000000000000001', 'hex'));
      out.raw(DestAttr.PORT, Buffer.from([0, 80]));
    });
    expect(decodeDest(dest, 'ipv6')).toMatchObject({ address: '2001:db8::1', family: 'ipv6' });
  });

  it('refuses what it cannot represent instead of guessing', () => {
    const noAf = attrs((out) => out.raw(SvcAttr.FWMARK, Buffer.from([1, 0, 0, 0])));
    expect(() => decodeService(noAf)).toThrow(/AF/);
    const badProto = attrs((out) => {
      out.raw(SvcAttr.AF, Buffer.from([2, 0]));
      out.raw(SvcAttr.PROTOCOL, Buffer.from([50, 0]));
      out.raw(SvcAttr.ADDR, Buffer.alloc(16));
      out.raw(SvcAttr.PORT, Buffer.from([0, 1]));
    });
    expect(() => decodeService(badProto)).toThrow(/protocol 50/);
  });
});
