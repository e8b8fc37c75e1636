/**
 * HealthManager with real checks against switchable loopback backends, short intervals:
 * initial state, rise/fall, restart without disruption, reloads, quorum, dynamic weight,
 * batching, logging.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CHECKERS, type CheckerRegistry } from '../../src/health/checkers/index.js';
import { HealthManager, type HealthChanges, type Transition } from '../../src/health/manager.js';
import type { CheckTarget } from '../../src/health/types.js';
import { check, config, dest, memoryLogger, real, service } from './fixtures.js';
import { switchableBackend, waitFor } from './helpers.js';
import { ScriptedHealth } from '../daemon/helpers.js';

const fast = { interval: 0.2, timeout: 0.2, rise: 2, fall: 2 };
const managers: HealthManager[] = [];
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.stop()));
  await Promise.all(closers.splice(0).map((c) => c()));
});

function manager(extra: Partial<ConstructorParameters<typeof HealthManager>[0]> = {}) {
  const log = memoryLogger();
  const m = new HealthManager({ logger: log.logger, ...extra });
  managers.push(m);
  const transitions: Transition[] = [];
  const batches: HealthChanges[] = [];
  m.on('transition', (t) => transitions.push(t));
  m.on('changes', (b) => batches.push(b));
  return { m, transitions, batches, lines: log.lines };
}

/** The real checkers, but tcp answers at once: refused for the targets `fails` names. */
function scriptedTcp(fails: (target: CheckTarget) => boolean): CheckerRegistry {
  const prepare = (_config: unknown, target: CheckTarget) => async () =>
    fails(target) ? { ok: false, message: 'refused' } : { ok: true, message: 'connected' };
  return { ...CHECKERS, tcp: { type: 'tcp', prepare } };
}

/** Timers that start nothing until the test runs what they hold (`held`), all in one turn. */
function heldTimers() {
  const held: Array<() => void> = [];
  const timers = {
    now: () => performance.now(),
    setTimeout: (fn: () => void) => held.push(fn),
    clearTimeout: () => undefined,
  };
  return { held, timers };
}

async function backend(healthy = true) {
  const b = await switchableBackend(healthy);
  closers.push(b.close);
  return b;
}

function httpCheck(extra: Record<string, unknown> = {}) {
  return check({ type: 'http', path: '/health', ...fast, ...extra });
}

describe('HealthManager', () => {
  it('a new real starts down, comes up on its first success, and the transition is logged and batched', async () => {
    const b = await backend();
    const { m, transitions, batches, lines } = manager();
    // A generous timeout: the first check must pass even on a loaded host.
    const cfg = config([
      service('web', '10.0.0.1', 80, [
        real('127.0.0.1', b.port, httpCheck({ interval: 2, timeout: 2 })),
      ]),
    ]);
    expect(m.update(cfg)).toEqual({ kept: 0, started: 1, restarted: 0, stopped: 0 });
    expect(m.snapshot().real('web', `127.0.0.1:${b.port}`)).toEqual({ up: false });
    await waitFor(() => batches.length === 1, 'first batch');
    expect(m.snapshot().real('web', `127.0.0.1:${b.port}`)).toEqual({ up: true });
    expect(transitions).toHaveLength(1);
    expect(transitions[0]).toMatchObject({
      service: 'web',
      real: `127.0.0.1:${b.port}`,
      checker: 'http',
      from: 'down',
      to: 'up',
    });
    expect(transitions[0]?.reason).toMatch(/^first check passed: status 200/);
    expect(batches[0]?.transitions).toEqual(transitions);
    const logged = lines.find((l) => l.event === 'health.transition');
    expect(logged).toMatchObject({
      service: 'web',
      real: `127.0.0.1:${b.port}`,
      checker: 'http',
      from: 'down',
      to: 'up',
    });
    expect(typeof logged?.durationMs).toBe('number');
    expect(m.counters.transitions).toBe(1);
  });

  it('fall failures take it down, rise successes bring it back', async () => {
    const b = await backend();
    const { m, transitions } = manager();
    const id = `127.0.0.1:${b.port}`;
    m.update(config([service('web', '10.0.0.1', 80, [real('127.0.0.1', b.port, httpCheck())])]));
    await waitFor(() => m.snapshot().real('web', id)?.up === true, 'up');
    b.state.healthy = false;
    await waitFor(() => m.snapshot().real('web', id)?.up === false, 'down');
    expect(transitions[1]?.reason).toMatch(/^2 consecutive failures: status 503/);
    b.state.healthy = true;
    await waitFor(() => m.snapshot().real('web', id)?.up === true, 'up again');
    expect(transitions.map((t) => t.to)).toEqual(['up', 'down', 'up']);
    expect(transitions[2]?.reason).toMatch(/^2 consecutive successes/);
  });

  it('counts the reals part-way to a change, and forgets those a reload removes', async () => {
    const health = new ScriptedHealth();
    managers.push(health.manager);
    const tcp = check({ type: 'tcp', interval: 1, timeout: 0.5, rise: 2, fall: 2, initial: 'up' });
    const two = (reals: number[]) =>
      config([
        service(
          'web',
          '10.0.0.1',
          80,
          reals.map((n) => real(`10.1.0.${n}`, 80, tcp)),
        ),
      ]);
    health.manager.update(two([1, 2]));
    expect(health.manager.partWay).toBe(0);
    const up = (n: number) => health.manager.snapshot().real('web', `10.1.0.${n}:80`)?.up;
    // Each step runs one round: both reals are due together.
    await health.setDown('web', '10.1.0.1:80', true);
    expect(health.manager.partWay).toBe(1);
    await health.setDown('web', '10.1.0.2:80', true);
    expect([up(1), up(2), health.manager.partWay]).toEqual([false, true, 1]);
    // Down, one success of two: part-way up.
    await health.setDown('web', '10.1.0.1:80', false);
    expect([up(1), up(2), health.manager.partWay]).toEqual([false, false, 1]);
    await health.setDown('web', '10.1.0.2:80', false);
    expect([up(1), up(2), health.manager.partWay]).toEqual([true, false, 1]);
    health.manager.update(two([1]));
    expect(health.manager.partWay).toBe(0);
  });

  it('restart without disruption: weight > 0 in the kernel starts up, weight 0 or absent follows initial', async () => {
    const b = await backend(false);
    const { m } = manager();
    const cfg = config([
      service('web', '10.0.0.1', 80, [
        real('127.0.0.1', b.port, httpCheck()),
        real('127.0.0.2', b.port, httpCheck()),
        real('127.0.0.3', b.port, httpCheck()),
        real('127.0.0.4', b.port, httpCheck({ initial: 'up' })),
      ]),
      service(
        'alpha',
        '10.0.0.2',
        80,
        [
          real('127.0.0.1', b.port, httpCheck({ initial: 'up' })),
          real('127.0.0.2', b.port, httpCheck()),
        ],
        { alpha: true },
      ),
    ]);
    const live: Record<string, number> = {
      [`web/127.0.0.1:${b.port}`]: 5,
      [`web/127.0.0.2:${b.port}`]: 0,
      [`alpha/127.0.0.2:${b.port}`]: 3,
    };
    m.update(cfg, { liveWeights: (s, r) => live[`${s}/${r}`] });
    const snap = m.snapshot();
    expect(snap.real('web', `127.0.0.1:${b.port}`)?.up).toBe(true);
    expect(snap.real('web', `127.0.0.2:${b.port}`)?.up).toBe(false);
    expect(snap.real('web', `127.0.0.3:${b.port}`)?.up).toBe(false);
    expect(snap.real('web', `127.0.0.4:${b.port}`)?.up).toBe(true);
    // alpha forces down, except a real the kernel already serves
    expect(snap.real('alpha', `127.0.0.1:${b.port}`)?.up).toBe(false);
    expect(snap.real('alpha', `127.0.0.2:${b.port}`)?.up).toBe(true);
    // a failing real that started up still needs `fall` failures, then goes
    await waitFor(() => m.snapshot().real('web', `127.0.0.1:${b.port}`)?.up === false, 'fall');
  });

  it('reload: unchanged checks keep their state, changed ones restart keeping up/down, removed ones stop', async () => {
    const b = await backend();
    const b2 = await backend();
    const { m } = manager();
    const a = `127.0.0.1:${b.port}`;
    const c = `127.0.0.1:${b2.port}`;
    const first = config([
      service('web', '10.0.0.1', 80, [
        real('127.0.0.1', b.port, httpCheck()),
        real('127.0.0.1', b2.port, httpCheck()),
      ]),
    ]);
    m.update(first);
    await waitFor(
      () => m.snapshot().real('web', a)?.up === true && m.snapshot().real('web', c)?.up === true,
      'both up',
    );
    // A new config object with equal settings (a reload re-parses the file), one check changed, one real added.
    const second = config([
      service('web', '10.0.0.1', 80, [
        real('127.0.0.1', b.port, httpCheck()),
        real('127.0.0.1', b2.port, httpCheck({ path: '/other' })),
        real('127.0.0.3', b.port, httpCheck()),
      ]),
    ]);
    expect(m.update(second)).toEqual({ kept: 1, started: 1, restarted: 1, stopped: 0 });
    const snap = m.snapshot();
    expect(snap.real('web', a)?.up).toBe(true);
    expect(snap.real('web', c)?.up).toBe(true);
    expect(snap.real('web', `127.0.0.3:${b.port}`)?.up).toBe(false);
    // on_failure is not part of the check's identity: changing it does not restart the check
    const third = config([
      service('web', '10.0.0.1', 80, [
        real('127.0.0.1', b.port, httpCheck({ on_failure: 'inhibit' })),
      ]),
    ]);
    expect(m.update(third)).toEqual({ kept: 1, started: 0, restarted: 0, stopped: 2 });
    expect(m.checkCount).toBe(1);
    expect(m.snapshot().real('web', c)).toBeUndefined();
  });

  it('unchecked reals are not in the snapshot (desiredState treats them as up)', () => {
    const { m } = manager();
    m.update(config([service('web', '10.0.0.1', 80, [real('127.0.0.1', 80, null)])]));
    expect(m.checkCount).toBe(0);
    expect(m.snapshot().real('web', '127.0.0.1:80')).toBeUndefined();
    expect(m.snapshot().sorryActive('web')).toBe(false);
  });

  it('quorum with hysteresis: sorry in below min - h, out at min + h, each once', async () => {
    const backends = await Promise.all([backend(), backend(), backend(), backend()]);
    const { m, batches, lines } = manager();
    const reals = backends.map((b) => real('127.0.0.1', b.port, httpCheck(), { weight: 1 }));
    m.update(
      config([
        service('web', '10.0.0.1', 80, reals, {
          quorum: { min: 3, hysteresis: 1 },
          sorry: dest('127.0.0.9', 80),
        }),
      ]),
      { liveWeights: () => 1 },
    );
    expect(m.snapshot().sorryActive('web')).toBe(false);
    const quorumChanges = () => batches.flatMap((b) => b.quorum);
    // 4 healthy; 3 healthy (>= min - h = 2): still out
    (backends[0] as { state: { healthy: boolean } }).state.healthy = false;
    await waitFor(() => m.snapshot().real('web', reals[0]!.id)?.up === false, 'first down');
    expect(m.snapshot().sorryActive('web')).toBe(false);
    // 1 healthy (< 2): in
    backends[1]!.state.healthy = false;
    backends[2]!.state.healthy = false;
    await waitFor(() => m.snapshot().sorryActive('web'), 'sorry in');
    // 3 healthy (< min + h = 4): stays in
    backends[1]!.state.healthy = true;
    backends[2]!.state.healthy = true;
    await waitFor(
      () =>
        m.snapshot().real('web', reals[1]!.id)?.up === true &&
        m.snapshot().real('web', reals[2]!.id)?.up === true,
      'two back',
    );
    expect(m.snapshot().sorryActive('web')).toBe(true);
    // 4 healthy: out
    backends[0]!.state.healthy = true;
    await waitFor(() => !m.snapshot().sorryActive('web'), 'sorry out');
    await waitFor(() => quorumChanges().length === 2, 'two quorum changes batched');
    expect(quorumChanges().map((q) => q.sorryActive)).toEqual([true, false]);
    expect(lines.filter((l) => l.event === 'health.quorum').map((l) => l.sorryActive)).toEqual([
      true,
      false,
    ]);
  });

  it('no healthy real puts the sorry server in even without quorum', async () => {
    const b = await backend(false);
    const { m } = manager();
    m.update(
      config([
        service('web', '10.0.0.1', 80, [real('127.0.0.1', b.port, httpCheck())], {
          sorry: dest('127.0.0.9', 80),
        }),
      ]),
    );
    expect(m.snapshot().sorryActive('web')).toBe(true);
    b.state.healthy = true;
    await waitFor(() => !m.snapshot().sorryActive('web'), 'sorry out');
  });

  it('dynamic weight from an exec check: reported in the snapshot and batched when it changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvsd-dyn-'));
    const weightFile = join(dir, 'weight');
    writeFileSync(weightFile, '7\n');
    const script = join(dir, 'weight.sh');
    writeFileSync(script, `#!/bin/sh\ncat ${weightFile}\n`);
    chmodSync(script, 0o755);
    const { m, batches } = manager();
    m.update(
      config([
        service('web', '10.0.0.1', 80, [
          real(
            '127.0.0.1',
            80,
            check({
              type: 'exec',
              command: [script],
              dynamic_weight: true,
              interval: 0.5,
              timeout: 0.5,
              fall: 10,
            }),
          ),
        ]),
      ]),
    );
    await waitFor(() => m.snapshot().real('web', '127.0.0.1:80')?.weight === 7, 'weight 7', 20_000);
    writeFileSync(weightFile, '3\n');
    await waitFor(() => batches.some((b) => b.weights.length > 0), 'weight change batched', 20_000);
    expect(batches.flatMap((b) => b.weights)[0]).toMatchObject({
      service: 'web',
      real: '127.0.0.1:80',
      from: 7,
      to: 3,
    });
    expect(m.snapshot().real('web', '127.0.0.1:80')).toEqual({ up: true, weight: 3 });
  });

  it('batches: many transitions in one window come as one event; a full batch goes at once', async () => {
    const backends = await Promise.all(Array.from({ length: 6 }, () => backend()));
    const { m, batches } = manager({
      random: () => 0,
      batchDelayMs: 1000,
      batchQuietMs: 1000,
      batchSize: 4,
    });
    m.update(
      config([
        service(
          'web',
          '10.0.0.1',
          80,
          backends.map((b) => real('127.0.0.1', b.port, httpCheck({ interval: 5 }))),
        ),
      ]),
    );
    await waitFor(() => batches.length === 1, 'full batch of 4');
    expect(batches[0]?.transitions).toHaveLength(4);
    await waitFor(() => batches.length === 2, 'rest after the delay');
    expect(batches[1]?.transitions).toHaveLength(2);
  });

  it('a lone change is sent once changes stop coming (quiet gap), not after the full delay', async () => {
    const b = await backend();
    const { m, batches } = manager({ batchDelayMs: 3000, batchQuietMs: 10 });
    let transitionAt = 0;
    m.on('transition', () => void (transitionAt = performance.now()));
    let batchAt = 0;
    m.on('changes', () => void (batchAt = performance.now()));
    m.update(config([service('web', '10.0.0.1', 80, [real('127.0.0.1', b.port, httpCheck())])]));
    await waitFor(() => batches.length === 1, 'the batch');
    expect(batchAt - transitionAt).toBeLessThan(1500);
  });

  it('by default a batch is every change of one turn of the event loop, sent at the end of that turn', async () => {
    // Checks that answer at once, all started together: their transitions come in one turn.
    const checkers = scriptedTcp(() => false);
    // Check starts held until released together, in one turn.
    const { held, timers } = heldTimers();
    const { m, batches } = manager({ random: () => 0, timers, checkers });
    // Sent at the end of the turn: before a setImmediate queued after the first change
    // (a timer window would send it later).
    let turnEnded = false;
    let sentInTurn: boolean | undefined;
    m.on('transition', () => void setImmediate(() => (turnEnded = true)));
    m.on('changes', () => void (sentInTurn ??= !turnEnded));
    m.update(
      config([
        service(
          'web',
          '10.0.0.1',
          80,
          [1, 2, 3, 4, 5, 6].map((i) =>
            real(`192.168.10.${i}`, 80, check({ type: 'tcp', interval: 5 })),
          ),
        ),
      ]),
    );
    for (const start of held.splice(0)) start();
    await waitFor(() => batches.length > 0, 'the batch');
    await new Promise((r) => setTimeout(r, 50));
    expect(batches).toHaveLength(1);
    expect(batches[0]?.transitions).toHaveLength(6);
    expect(sentInTurn).toBe(true);
  });

  it('counts the results of a turn into one tally per service and type, sent at the end of the turn', async () => {
    const checkers = scriptedTcp((target) => target.address === '192.168.10.3');
    const { held, timers } = heldTimers();
    const { m } = manager({ random: () => 0, timers, checkers });
    const tallies: Array<
      Array<{ service: string; ok: number; failed: number; buckets: number[] }>
    > = [];
    m.on('tally', (t) => tallies.push(t));
    const reals = (n: number) =>
      [1, 2, 3]
        .slice(0, n)
        .map((i) => real(`192.168.10.${i}`, 80, check({ type: 'tcp', interval: 5 })));
    m.update(
      config([service('web', '10.0.0.1', 80, reals(3)), service('api', '10.0.0.2', 80, reals(1))]),
    );
    for (const start of held.splice(0)) start();
    await waitFor(() => tallies.length > 0, 'a tally');
    await new Promise((r) => setTimeout(r, 50));
    expect(tallies).toHaveLength(1);
    const byService = Object.fromEntries(tallies[0]!.map((t) => [t.service, t]));
    expect(byService.web).toMatchObject({ ok: 2, failed: 1, type: 'tcp' });
    expect(byService.api).toMatchObject({ ok: 1, failed: 0 });
    expect(byService.web!.buckets.reduce((a, b) => a + b, 0)).toBe(3);
    expect(m.counters.checks).toBe(4);
    // Taken once: the next turn's tally holds the next results alone.
    for (const start of held.splice(0)) start();
    await waitFor(() => tallies.length > 1, 'the second tally');
    expect(tallies[1]!.find((t) => t.service === 'web')).toMatchObject({ ok: 2, failed: 1 });
  });

  it('a snapshot is a copy: later results change later snapshots only, service by service', async () => {
    const failing = new Set<string>();
    const checkers = scriptedTcp((target) => failing.has(target.service));
    const { held, timers } = heldTimers();
    const { m, transitions } = manager({ random: () => 0, timers, checkers });
    const one = (name: string, vip: string) =>
      service(name, vip, 80, [
        real('192.168.10.2', 80, check({ type: 'tcp', interval: 5, rise: 1, fall: 1 })),
      ]);
    m.update(config([one('web', '10.0.0.1'), one('api', '10.0.0.2')]));
    const round = async (expected: number) => {
      for (const start of held.splice(0)) start();
      await waitFor(() => transitions.length === expected, `${expected} transitions`);
    };
    await round(2);
    const before = m.snapshot();
    failing.add('web');
    await round(3);
    const after = m.snapshot();
    expect([before.real('web', '192.168.10.2:80'), before.real('api', '192.168.10.2:80')]).toEqual([
      { up: true },
      { up: true },
    ]);
    expect([after.real('web', '192.168.10.2:80'), after.real('api', '192.168.10.2:80')]).toEqual([
      { up: false },
      { up: true },
    ]);
    expect(m.snapshot()).toBe(after);
  });

  it('a check that cannot be prepared fails, logged, without crashing the manager', async () => {
    const { m, lines } = manager();
    m.update(
      config([
        service('web', '10.0.0.1', 443, [
          real('127.0.0.1', 443, check({ type: 'https', ca: '/nonexistent.pem', ...fast })),
        ]),
      ]),
    );
    expect(
      lines.some(
        (l) => l.event === 'health.check-invalid' && String(l.error).includes('/nonexistent.pem'),
      ),
    ).toBe(true);
    const results: boolean[] = [];
    m.on('result', (r) => results.push(r.ok));
    await waitFor(() => results.length > 0, 'a result');
    expect(results[0]).toBe(false);
  });

  it('a throwing listener is logged and does not stop the checks', async () => {
    const b = await backend();
    const { m, lines } = manager();
    let calls = 0;
    m.on('result', () => {
      calls++;
      throw new Error('listener bug');
    });
    m.update(config([service('web', '10.0.0.1', 80, [real('127.0.0.1', b.port, httpCheck())])]));
    await waitFor(() => calls >= 3, 'three results despite the throwing listener');
    // health itself went on: the real came up
    expect(m.snapshot().real('web', `127.0.0.1:${b.port}`)?.up).toBe(true);
    expect(
      lines.some(
        (l) => l.event === 'health.listener-error' && String(l.error).includes('listener bug'),
      ),
    ).toBe(true);
  });

  it('stop: no more checks, no more events', async () => {
    const b = await backend();
    const { m } = manager();
    m.update(config([service('web', '10.0.0.1', 80, [real('127.0.0.1', b.port, httpCheck())])]));
    await waitFor(() => b.state.requests > 0, 'a request');
    await m.stop();
    const seen = b.state.requests;
    await new Promise((r) => setTimeout(r, 150));
    expect(b.state.requests).toBe(seen);
  });
});
