import { describe, expect, it } from 'vitest';
import type { ResolvedConfig, ResolvedService } from '../../src/config/resolved.js';
import { reloadScope, same } from '../../src/daemon/reload-scope.js';
import { dest, tcpService } from '../reconcile/fixtures.js';

const at = (line: number) => ({ file: 'lvsd.yaml', line, column: 3 });
const service = (name: string, address: string, weight = 1, line = 1): ResolvedService => ({
  name,
  service: tcpService(address, 80),
  reals: [
    {
      id: '192.168.10.2:80',
      dest: dest('192.168.10.2', 80, { weight }),
      check: null,
      source: at(line + 2),
    },
  ],
  check: null,
  quorum: null,
  sorry: null,
  alpha: false,
  vip: null,
  source: at(line),
});
const config = (
  services: ResolvedService[],
  extra: Partial<ResolvedConfig> = {},
): ResolvedConfig => ({
  files: ['lvsd.yaml'],
  hash: 'x',
  host: null,
  services,
  kernel: { sysctls: {} },
  vips: [],
  reconcile: {
    drainTimeoutMs: 0,
    prune: 'managed',
    driftIntervalMs: 30_000,
    maxRemoval: 0.5,
    allowMassRemoval: false,
  },
  ...extra,
});
const base = config([service('web', '10.0.0.1'), service('api', '10.0.0.2', 1, 10)]);

describe('reloadScope', () => {
  it('names the services edited or added', () => {
    const next = config([
      service('web', '10.0.0.1', 5),
      service('api', '10.0.0.2', 1, 10),
      service('dns', '10.0.0.3'),
    ]);
    expect(reloadScope(base, next)).toEqual(new Set(['web', 'dns']));
  });

  it('ignores where things were declared: lines moved by an edit elsewhere change nothing', () => {
    const moved = config([service('web', '10.0.0.1', 1, 4), service('api', '10.0.0.2', 1, 20)]);
    expect(reloadScope(base, moved)).toEqual(new Set());
  });

  it('asks for a full pass when a service goes, moves to another address, or gets a VIP', () => {
    expect(reloadScope(base, config([service('web', '10.0.0.1')]))).toBeNull();
    expect(
      reloadScope(base, config([service('web', '10.0.0.9'), service('api', '10.0.0.2', 1, 10)])),
    ).toBeNull();
    const withVip = {
      ...service('dns', '10.0.0.3'),
      vip: { address: '10.0.0.3', prefix: 32, interface: 'lvsd0' },
    };
    expect(reloadScope(base, config([...base.services, withVip]))).toBeNull();
  });

  it('asks for a full pass when kernel settings, VIPs or the policy change', () => {
    expect(
      reloadScope(base, { ...base, kernel: { sysctls: { 'net.ipv4.ip_forward': 1 } } }),
    ).toBeNull();
    expect(
      reloadScope(base, {
        ...base,
        vips: [{ address: '10.0.0.9', prefix: 32, interface: 'lvsd0' }],
      }),
    ).toBeNull();
    expect(
      reloadScope(base, { ...base, reconcile: { ...base.reconcile, prune: 'all' } }),
    ).toBeNull();
  });
});

describe('same: what a reload compares', () => {
  it('ignores where things were declared, and absent equals undefined', () => {
    expect(same({ a: 1, source: at(1) }, { a: 1, source: at(9) })).toBe(true);
    expect(same({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(same({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(true);
  });

  it('sees a change at any depth, in arrays by position, and between null, absent and values', () => {
    expect(same({ a: { b: [1, { c: 2 }] } }, { a: { b: [1, { c: 3 }] } })).toBe(false);
    expect(same([1, 2], [2, 1])).toBe(false);
    expect(same([1], [1, 1])).toBe(false);
    expect(same({ a: null }, { a: 0 })).toBe(false);
    expect(same({ a: null }, {})).toBe(false);
    expect(same({ a: [] }, { a: {} })).toBe(false);
    expect(same(service('web', '10.0.0.1', 1, 1), service('web', '10.0.0.1', 1, 40))).toBe(true);
    expect(same(service('web', '10.0.0.1', 1), service('web', '10.0.0.1', 2))).toBe(false);
  });
});
