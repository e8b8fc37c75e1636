/**
 * Scheduler.hold: the reconciler before the checks. While held no check starts and the
 * results of checks under way wait; release hands them over in order, each once.
 */
import { describe, expect, it } from 'vitest';
import { Scheduler, type CheckRun, type Timers } from '../../src/health/scheduler.js';
import type { CheckOutcome } from '../../src/health/types.js';

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
});
