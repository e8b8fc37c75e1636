/**
 * What a batch does once instead of once per operation (issue 21): service keys checked and
 * encoded once per key object, addresses checked once per text, and IPv4 values learned
 * from a decode. Each must give exactly what the per-operation path gives: the same bytes,
 * the same refusals.
 */
import { describe, expect, it } from 'vitest';
import type { IpvsOp } from '../../src/ipvs/client.js';
import { decodeServiceAt } from '../../src/ipvs/codec.js';
import { newOpChecks, validateOp } from '../../src/ipvs/errors.js';
import { opBody, ServiceKeyBytes } from '../../src/ipvs/kernel-client.js';
import type { Service } from '../../src/ipvs/model.js';
import { NetlinkWriter } from '../../src/netlink/writer.js';
import { dest } from '../builders.js';

const flags = { persistent: false, onePacket: false, sched1: false, sched2: false, sched3: false };
const common = { scheduler: 'wlc', flags, timeout: 0, pe: null };
const v4: Service = {
  family: 'ipv4',
  protocol: 'tcp',
  address: '10.0.0.1',
  port: 80,
  netmask: 32,
  ...common,
};
const high: Service = {
  family: 'ipv4',
  protocol: 'udp',
  address: '203.0.113.9',
  port: 53,
  netmask: 32,
  ...common,
};
const v6: Service = {
  family: 'ipv6',
  protocol: 'tcp',
  address: '2001:db8::1',
  port: 443,
  netmask: 128,
  ...common,
};
const mark: Service = { family: 'ipv4', fwmark: 7, netmask: 32, ...common };

function batchOf(services: Service[]): IpvsOp[] {
  return services.flatMap((service) => {
    const real = service.family === 'ipv6' ? '2001:db8::10' : '192.168.10.2';
    return [
      { op: 'add-service' as const, service },
      { op: 'add-dest' as const, service, dest: dest(real, 8080) },
      { op: 'edit-dest' as const, service, dest: dest(real, 8081, { weight: 5 }) },
      { op: 'delete-dest' as const, service, dest: { address: real, port: 8080 } },
    ];
  });
}

function encode(ops: IpvsOp[], keys?: ServiceKeyBytes): string {
  const w = new NetlinkWriter(64);
  for (const op of ops) opBody(op, keys)(w);
  return w.bytes().toString('hex');
}

describe('a batch does per key what it did per operation', () => {
  it('writes the same bytes with service keys encoded once and copied', () => {
    const ops = batchOf([v4, high, v6, mark, v4]);
    const keys = new ServiceKeyBytes();
    expect(encode(ops, keys)).toBe(encode(ops));
    // The copies are of the first encoding, not views that a later message overwrites.
    expect(encode(ops, keys)).toBe(encode(ops));
  });

  it('refuses the same operations, with the same errors, when checks are remembered', () => {
    const bad = { ...v4, address: '10.0.0.300' };
    const ops: IpvsOp[] = [
      ...batchOf([v4]),
      { op: 'add-dest', service: v4, dest: dest('192.168.10.999', 8080) },
      { op: 'add-dest', service: v4, dest: { ...dest('192.168.10.3', 8080), family: 'ipv6' } },
      { op: 'add-dest', service: bad, dest: dest('192.168.10.2', 8080) },
      { op: 'delete-dest', service: bad, dest: { address: '192.168.10.2', port: 8080 } },
      { op: 'add-dest', service: v4, dest: dest('192.168.10.2', 70000) },
    ];
    const checks = newOpChecks();
    const remembered = ops.map((op) => validateOp(op, checks)?.message ?? null);
    const alone = ops.map((op) => validateOp(op)?.message ?? null);
    expect(remembered).toEqual(alone);
    expect(alone.slice(0, 4)).toEqual([null, null, null, null]);
    expect(alone.slice(4).every((m) => m !== null)).toBe(true);
  });

  it('writes a decoded IPv4 address back to the same bytes (values of 128.0.0.0 and up too)', () => {
    const w = new NetlinkWriter(128);
    opBody({ op: 'add-service', service: { ...high, address: '250.1.2.3' } })(w);
    // The SERVICE nest starts after the genl header (4 bytes) and its own header (4 bytes).
    const bytes = w.bytes();
    const decoded = decodeServiceAt(bytes, 8, bytes.length, false);
    const address = 'address' in decoded ? decoded.address : '';
    expect(address).toBe('250.1.2.3');
    const again = new NetlinkWriter(128);
    opBody({ op: 'add-service', service: { ...high, address } })(again);
    expect(again.bytes().toString('hex')).toBe(bytes.toString('hex'));
  });
});
