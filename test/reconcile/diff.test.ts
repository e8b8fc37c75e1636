/**
 * The field comparison behind 'change' steps: nothing for identical objects (the shared
 * fast path), and exactly the field that differs otherwise, whichever one it is.
 */
import { describe, expect, it } from 'vitest';
import { diffDest, diffService } from '../../src/reconcile/diff.js';
import type { Dest, Service } from '../../src/ipvs/model.js';
import { dest, tcpService } from './fixtures.js';

describe('diffService', () => {
  const base = tcpService('10.0.0.1', 80);

  it('finds nothing between equal services, even as distinct objects', () => {
    expect(diffService(base, structuredClone(base))).toEqual([]);
    expect(
      diffService({ ...base, pe: null }, { ...base, pe: undefined } as unknown as Service),
    ).toEqual([]);
  });

  const edits: Array<[string, Partial<Service>, string, string]> = [
    ['scheduler', { scheduler: 'rr' }, base.scheduler, 'rr'],
    ['flags', { flags: { ...base.flags, persistent: true } }, 'none', 'persistent'],
    ['flags', { flags: { ...base.flags, sched2: true } }, 'none', 'flag-2'],
    ['persistence timeout', { timeout: 300 }, String(base.timeout), '300'],
    ['netmask', { netmask: 24 }, `/${base.netmask}`, '/24'],
    ['persistence engine', { pe: 'sip' }, 'none', 'sip'],
  ];
  for (const [field, edit, from, to] of edits) {
    it(`names a change of ${field} (${JSON.stringify(edit)}) and nothing else`, () => {
      expect(diffService(base, { ...base, ...edit } as Service)).toEqual([{ field, from, to }]);
    });
  }
});

describe('diffDest', () => {
  const base = dest('192.168.0.1', 8080);

  it('finds nothing between equal dests, even as distinct objects', () => {
    expect(diffDest(base, structuredClone(base))).toEqual([]);
  });

  const edits: Array<[string, Partial<Dest>, string, string]> = [
    ['weight', { weight: 7 }, String(base.weight), '7'],
    ['forwarding', { forwarding: 'dr' }, base.forwarding, 'dr'],
    ['upper threshold', { upperThreshold: 100 }, '0', '100'],
    ['lower threshold', { lowerThreshold: 10 }, '0', '10'],
  ];
  for (const [field, edit, from, to] of edits) {
    it(`names a change of ${field} and nothing else`, () => {
      expect(diffDest(base, { ...base, ...edit })).toEqual([{ field, from, to }]);
    });
  }

  it('compares tunnel settings only when the wanted dest tunnels', () => {
    const tun: Dest = { ...base, forwarding: 'tun', tunnelType: 'ipip' };
    expect(diffDest({ ...base, tunnelType: 'gue', tunnelPort: 6080 }, base)).toEqual([]);
    expect(diffDest(tun, { ...tun, tunnelType: 'gue', tunnelPort: 6080 })).toEqual([
      { field: 'tunnel', from: 'ipip', to: 'gue:6080' },
    ]);
    expect(diffDest(tun, { ...tun, tunnelFlags: { csum: true, remcsum: false } })).toEqual([
      { field: 'tunnel', from: 'ipip', to: 'ipip csum' },
    ]);
    expect(diffDest(tun, structuredClone(tun))).toEqual([]);
  });
});
