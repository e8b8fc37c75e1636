import { describe, expect, it } from 'vitest';
import type { RealHealth, HealthSnapshot } from '../../src/health/manager.js';
import { desiredState } from '../../src/reconcile/desired.js';
import { check, config, dest, real, service } from '../health/fixtures.js';

const tcpRemove = check({ type: 'tcp' });
const tcpInhibit = check({ type: 'tcp', on_failure: 'inhibit' });

/** A snapshot from a table: "service/real" → health; sorry services listed. */
function snapshot(reals: Record<string, RealHealth>, sorry: string[] = []): HealthSnapshot {
  return { real: (s, r) => reals[`${s}/${r}`], sorryActive: (s) => sorry.includes(s) };
}

function weights(state: ReturnType<typeof desiredState>, name = 'web'): Record<string, number> {
  const svc = state.services.find((s) => s.name === name);
  return Object.fromEntries((svc?.dests ?? []).map((d) => [`${d.address}:${d.port}`, d.weight]));
}

const web = service(
  'web',
  '10.0.0.1',
  80,
  [
    real('192.168.10.2', 80, tcpRemove, { weight: 5 }),
    real('192.168.10.3', 80, tcpInhibit, { weight: 3 }),
    real('192.168.10.4', 80, null, { weight: 1 }),
  ],
  { sorry: dest('192.168.99.9', 80, { weight: 1 }), quorum: { min: 6, hysteresis: 1 } },
);
const cfg = config([web], {
  kernel: { sysctls: { 'net.ipv4.vs.expire_nodest_conn': 1 }, timeouts: { tcp: 900 } },
});

describe('desiredState', () => {
  it('without health: every real in with its configured weight, no sorry server, kernel settings carried', () => {
    const state = desiredState(cfg);
    expect(weights(state)).toEqual({
      '192.168.10.2:80': 5,
      '192.168.10.3:80': 3,
      '192.168.10.4:80': 1,
    });
    expect(state.sysctls).toEqual({ 'net.ipv4.vs.expire_nodest_conn': 1 });
    expect(state.timeouts).toEqual({ tcp: 900 });
    expect(state.daemons).toBeUndefined();
    expect(state.services[0]?.service).toBe(web.service);
  });

  const table: Array<[string, Record<string, RealHealth>, string[], Record<string, number>]> = [
    [
      'all up: configured weights',
      { 'web/192.168.10.2:80': { up: true }, 'web/192.168.10.3:80': { up: true } },
      [],
      { '192.168.10.2:80': 5, '192.168.10.3:80': 3, '192.168.10.4:80': 1 },
    ],
    [
      'down + remove: left out (the planner drains it)',
      { 'web/192.168.10.2:80': { up: false }, 'web/192.168.10.3:80': { up: true } },
      [],
      { '192.168.10.3:80': 3, '192.168.10.4:80': 1 },
    ],
    [
      'down + inhibit: weight 0',
      { 'web/192.168.10.2:80': { up: true }, 'web/192.168.10.3:80': { up: false } },
      [],
      { '192.168.10.2:80': 5, '192.168.10.3:80': 0, '192.168.10.4:80': 1 },
    ],
    [
      'dynamic weight replaces the configured one',
      { 'web/192.168.10.2:80': { up: true, weight: 42 }, 'web/192.168.10.3:80': { up: true } },
      [],
      { '192.168.10.2:80': 42, '192.168.10.3:80': 3, '192.168.10.4:80': 1 },
    ],
    [
      'dynamic weight of a down real does not bring it back',
      { 'web/192.168.10.2:80': { up: false, weight: 42 }, 'web/192.168.10.3:80': { up: true } },
      [],
      { '192.168.10.3:80': 3, '192.168.10.4:80': 1 },
    ],
    [
      'unknown to the snapshot: up (not checked yet by this manager)',
      {},
      [],
      { '192.168.10.2:80': 5, '192.168.10.3:80': 3, '192.168.10.4:80': 1 },
    ],
    [
      'sorry active: sorry in, checked reals out or at 0 by on_failure, unchecked out',
      { 'web/192.168.10.2:80': { up: true }, 'web/192.168.10.3:80': { up: true } },
      ['web'],
      { '192.168.10.3:80': 0, '192.168.99.9:80': 1 },
    ],
    [
      'sorry back out: reals in again, sorry gone',
      { 'web/192.168.10.2:80': { up: true }, 'web/192.168.10.3:80': { up: true } },
      [],
      { '192.168.10.2:80': 5, '192.168.10.3:80': 3, '192.168.10.4:80': 1 },
    ],
  ];
  it.each(table)('%s', (_name, reals, sorry, expected) => {
    expect(weights(desiredState(cfg, snapshot(reals, sorry)))).toEqual(expected);
  });

  it('a service without a sorry server keeps its reals when the snapshot says sorry', () => {
    const plain = config([{ ...web, sorry: null }]);
    expect(
      weights(desiredState(plain, snapshot({ 'web/192.168.10.2:80': { up: false } }, ['web']))),
    ).toEqual({ '192.168.10.3:80': 3, '192.168.10.4:80': 1 });
  });

  it('a sorry server that is also a real appears once, as the sorry server', () => {
    const overlap = config([{ ...web, sorry: dest('192.168.10.4', 80, { weight: 7 }) }]);
    expect(weights(desiredState(overlap, snapshot({}, ['web'])))).toEqual({
      '192.168.10.3:80': 0,
      '192.168.10.4:80': 7,
    });
  });

  it('does not change the config objects', () => {
    const before = JSON.stringify(cfg);
    desiredState(
      cfg,
      snapshot(
        { 'web/192.168.10.2:80': { up: true, weight: 9 }, 'web/192.168.10.3:80': { up: false } },
        ['web'],
      ),
    );
    expect(JSON.stringify(cfg)).toBe(before);
  });
});
