/**
 * Services without checked reals share one empty map of reals in HealthManager (rather than
 * an empty Map per service and per reload, 1000 of them at 1000 x 10 without checks): a
 * check added to one such service, removed again, or added to another must never show up
 * in a service it was not added to.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { HealthManager } from '../../src/health/manager.js';
import { check, config, memoryLogger, real, service } from './fixtures.js';

const managers: HealthManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.stop()));
});

// A closed loopback port, checked once a minute: the real stays down, nothing else happens.
const slow = () => check({ type: 'tcp', address: '127.0.0.1', port: 1, interval: 60, timeout: 1 });

function table(checked: { api?: boolean; web?: boolean }) {
  return config([
    service('api', '10.0.0.1', 80, [
      real('192.168.1.2', 80, checked.api ? slow() : null),
      real('192.168.1.3', 80, null),
    ]),
    service('web', '10.0.0.2', 80, [real('192.168.1.2', 80, checked.web ? slow() : null)]),
  ]);
}

describe('HealthManager: services without checked reals', () => {
  it('keeps each check in its own service across reloads', () => {
    const m = new HealthManager({ logger: memoryLogger().logger, workers: 0 });
    managers.push(m);
    const real = (svc: string) => m.snapshot().real(svc, '192.168.1.2:80');

    expect(m.update(table({}))).toEqual({ kept: 0, started: 0, restarted: 0, stopped: 0 });
    expect([real('api'), real('web')]).toEqual([undefined, undefined]);

    expect(m.update(table({ api: true }))).toEqual({
      kept: 0,
      started: 1,
      restarted: 0,
      stopped: 0,
    });
    expect(real('api')).toEqual({ up: false });
    expect(real('web')).toBeUndefined();
    expect(m.snapshot().real('api', '192.168.1.3:80')).toBeUndefined();
    expect(m.status().map((s) => s.service)).toEqual(['api']);

    expect(m.update(table({}))).toEqual({ kept: 0, started: 0, restarted: 0, stopped: 1 });
    expect([real('api'), real('web')]).toEqual([undefined, undefined]);
    expect(m.status()).toEqual([]);

    expect(m.update(table({ web: true }))).toEqual({
      kept: 0,
      started: 1,
      restarted: 0,
      stopped: 0,
    });
    expect([real('api'), real('web')]).toEqual([undefined, { up: false }]);
    expect(m.update(table({ web: true }))).toEqual({
      kept: 1,
      started: 0,
      restarted: 0,
      stopped: 0,
    });
    expect(m.status().map((s) => `${s.service} ${s.real}`)).toEqual(['web 192.168.1.2:80']);
  });
});
