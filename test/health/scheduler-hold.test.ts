/**
 * Scheduler.hold: the reconciler before the checks. While held no check starts and the
 * results of checks under way wait; release hands them over in order, each once.
 */
import { describe, expect, it } from 'vitest';
import type { CheckerRegistry } from '../../src/health/checkers/index.js';
import { HealthManager, type Transition } from '../../src/health/manager.js';
import { Scheduler } from '../../src/health/scheduler.js';
import type { CheckRun, Timers } from '../../src/health/attempt.js';
import type { CheckOutcome } from '../../src/health/types.js';
import { check, config, memoryLogger, real, service } from './fixtures.js';

/** A clock that moves only when told. */
class StepTimers implements Timers {
  time = 0;
  private queue: Array<{ at: number; fn: () => void }> = [];
  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const handle = { at: this.time + ms, fn };
    this.queue.push(handle);
    return handle;
  }
  clearTimeout(handle: unknown): void {
    this.queue = this.queue.filter((h) => h !== handle);
  }
  /** Runs every callback due by now + ms, with I/O turns between. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await turn();
      this.queue.sort((a, b) => a.at - b.at);
      const next = this.queue[0];
      if (!next || next.at > end) break;
      this.queue.shift();
      this.time = Math.max(this.time, next.at);
      next.fn();
    }
    this.time = end;
    await turn();
  }
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Checks that answer when the test says: one pending answer per start. */
function controlled() {
  const pending: Array<(o: CheckOutcome) => void> = [];
  let starts = 0;
  const run = () => {
    starts++;
    return new Promise<CheckOutcome>((resolve) => pending.push(resolve));
  };
  return { run, pending, starts: () => starts };
}

function setup(maxHoldMs?: number) {
  const timers = new StepTimers();
  const scheduler = new Scheduler({
    timers,
    random: () => 0,
    ...(maxHoldMs ? { maxHoldMs } : {}),
  });
  const results: Array<{ id: number; result: CheckRun }> = [];
  const checks = Array.from({ length: 3 }, () => controlled());
  for (const [id, c] of checks.entries())
    scheduler.add({
      intervalMs: 1000,
      timeoutMs: 500,
      pool: 'io',
      run: c.run,
      onResult: (result) => results.push({ id, result }),
    });
  return { timers, scheduler, results, checks };
}

describe('Scheduler hold', () => {
  it('starts no check while held, and starts the due ones at release', async () => {
    const s = setup();
    s.scheduler.hold();
    await s.timers.advance(2500);
    expect(s.checks.map((c) => c.starts())).toEqual([0, 0, 0]);
    s.scheduler.release();
    await s.timers.advance(0);
    // Behind schedule: one run each, no burst to catch up.
    expect(s.checks.map((c) => c.starts())).toEqual([1, 1, 1]);
    await s.scheduler.stop();
  });

  it('holds the results of checks under way and hands each over once, in order, at release', async () => {
    const s = setup();
    await s.timers.advance(0);
    expect(s.checks.map((c) => c.starts())).toEqual([1, 1, 1]);
    s.scheduler.hold();
    s.checks[2]!.pending[0]!({ ok: false, message: 'refused' });
    s.checks[0]!.pending[0]!({ ok: true, message: 'ok' });
    await s.timers.advance(0);
    expect(s.results).toEqual([]);
    // Its deadline comes while held: a timeout, held too, not lost.
    await s.timers.advance(600);
    expect(s.results).toEqual([]);
    expect(s.scheduler.holding).toBe(true);
    s.scheduler.release();
    expect(s.results.map((r) => [r.id, r.result.ok, r.result.timedOut])).toEqual([
      [2, false, false],
      [0, true, false],
      [1, false, true],
    ]);
    // A late answer of the timed-out check counts nothing more.
    s.checks[1]!.pending[0]!({ ok: true, message: 'late' });
    await s.timers.advance(0);
    expect(s.results).toHaveLength(3);
    await s.scheduler.stop();
  });

  it('holds nest: checks run again after the last release', async () => {
    const s = setup();
    s.scheduler.hold();
    s.scheduler.hold();
    s.scheduler.release();
    await s.timers.advance(1000);
    expect(s.checks[0]!.starts()).toBe(0);
    s.scheduler.release();
    s.scheduler.release(); // one too many: ignored
    expect(s.scheduler.holding).toBe(false);
    await s.timers.advance(0);
    expect(s.checks[0]!.starts()).toBe(1);
    await s.scheduler.stop();
  });

  it('a hold that is never released ends after maxHoldMs', async () => {
    const s = setup(3000);
    await s.timers.advance(0);
    s.scheduler.hold();
    s.checks[0]!.pending[0]!({ ok: true, message: 'ok' });
    await s.timers.advance(2900);
    expect(s.results).toHaveLength(0);
    await s.timers.advance(200);
    expect(s.scheduler.holding).toBe(false);
    expect(s.results.map((r) => r.id)).toEqual([0, 1, 2]);
    expect(s.checks[0]!.starts()).toBe(2);
    await s.scheduler.stop();
  });

  it('a check removed while its result is held reports nothing', async () => {
    const timers = new StepTimers();
    const scheduler = new Scheduler({ timers, random: () => 0 });
    const c = controlled();
    const results: CheckRun[] = [];
    const stop = scheduler.add({
      intervalMs: 1000,
      timeoutMs: 500,
      pool: 'io',
      run: c.run,
      onResult: (r) => results.push(r),
    });
    await timers.advance(0);
    scheduler.hold();
    c.pending[0]!({ ok: false, message: 'refused' });
    await timers.advance(0);
    stop();
    scheduler.release();
    expect(results).toEqual([]);
    await scheduler.stop();
  });

  it('starts an urgent check on time during a hold; its result still waits for the release', async () => {
    const timers = new StepTimers();
    const scheduler = new Scheduler({ timers, random: () => 0 });
    const [urgent, other] = [controlled(), controlled()];
    const results: string[] = [];
    const add = (c: ReturnType<typeof controlled>, name: string, isUrgent?: () => boolean) =>
      scheduler.add({
        intervalMs: 1000,
        timeoutMs: 500,
        pool: 'io',
        run: c.run,
        onResult: () => results.push(name),
        ...(isUrgent ? { urgent: isUrgent } : {}),
      });
    add(urgent, 'urgent', () => true);
    add(other, 'other');
    await timers.advance(0);
    urgent.pending.shift()!({ ok: false, message: 'refused' });
    other.pending.shift()!({ ok: true, message: 'ok' });
    await timers.advance(0);
    scheduler.hold();
    // Both are due at 1000 and 2000: the urgent one starts each time, the other waits.
    await timers.advance(1000);
    expect([urgent.starts(), other.starts()]).toEqual([2, 1]);
    urgent.pending.shift()!({ ok: false, message: 'refused' });
    await timers.advance(1000);
    expect([urgent.starts(), other.starts()]).toEqual([3, 1]);
    expect(results).toEqual(['urgent', 'other']);
    scheduler.release();
    expect(results).toEqual(['urgent', 'other', 'urgent']);
    await timers.advance(0);
    expect(other.starts()).toBe(2);
    await scheduler.stop();
  });
});

describe('HealthManager under a hold', () => {
  // A real that has failed once (fall 2) while the daemon's passes hold the checks one after
  // another: its second check starts on time, so the failure is decided as the hold ends,
  // not a whole interval (or a pass's length) after it.
  it('a real one failure from down is checked on time and decided at the release', async () => {
    const timers = new StepTimers();
    const answers = { ok: true };
    const checkers = {
      tcp: {
        type: 'tcp',
        // Each answer takes 10 ms.
        prepare: () => () =>
          new Promise((resolve) => {
            const outcome = { ok: answers.ok, message: answers.ok ? 'connected' : 'refused' };
            timers.setTimeout(() => resolve(outcome), 10);
          }),
      },
    } as unknown as CheckerRegistry;
    const m = new HealthManager({
      logger: memoryLogger().logger,
      timers,
      random: () => 0,
      checkers,
    });
    const transitions: Array<Transition & { at: number }> = [];
    m.on('transition', (t) => transitions.push({ ...t, at: timers.now() }));
    const tcp = check({ type: 'tcp', interval: 1, timeout: 0.5, rise: 1, fall: 2 });
    m.update(config([service('web', '10.0.0.1', 80, [real('192.168.10.2', 80, tcp)])]));
    await timers.advance(10);
    expect(transitions.map((t) => t.to)).toEqual(['up']);
    answers.ok = false;
    await timers.advance(1000); // the first failure, at 1010
    expect(transitions).toHaveLength(1);
    // A pass from 1500 to 2600: the second check is due at 2000, during it.
    await timers.advance(490);
    m.holdChecks();
    await timers.advance(1100);
    expect(transitions).toHaveLength(1);
    m.releaseChecks();
    expect(transitions.map((t) => [t.to, t.at])).toEqual([
      ['up', 10],
      ['down', 2600],
    ]);
    await m.stop();
  });
});
