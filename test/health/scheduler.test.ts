import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { prepareCheck } from '../../src/health/checkers/index.js';
import { nextSlot, Scheduler } from '../../src/health/scheduler.js';
import { type CheckRun, realTimers, runCheck, type Timers } from '../../src/health/attempt.js';
import { check } from './fixtures.js';
import { target } from './servers.js';
import type { PreparedCheck } from '../../src/health/types.js';
import { waitFor } from './helpers.js';

/** A clock that moves only when told; due callbacks run in order, with I/O turns between. */
class VirtualTimers implements Timers {
  private time = 0;
  private queue: Array<{ at: number; seq: number; fn: () => void }> = [];
  private seq = 0;
  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const handle = { at: this.time + ms, seq: this.seq++, fn };
    this.queue.push(handle);
    return handle;
  }
  clearTimeout(handle: unknown): void {
    this.queue = this.queue.filter((h) => h !== handle);
  }
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      this.queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.queue[0];
      if (!next || next.at > end) break;
      this.queue.shift();
      this.time = next.at;
      next.fn();
    }
    this.time = end;
  }
}

const schedulers: Scheduler[] = [];
afterEach(async () => {
  await Promise.all(schedulers.splice(0).map((s) => s.stop()));
});
function scheduler(options: ConstructorParameters<typeof Scheduler>[0] = {}) {
  const s = new Scheduler(options);
  schedulers.push(s);
  return s;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('runCheck', () => {
  it('enforces the timeout even when the checker ignores the signal', async () => {
    const stubborn: PreparedCheck = () => new Promise(() => undefined);
    const result = await runCheck(stubborn, 50);
    expect(result).toMatchObject({ ok: false, timedOut: true, message: 'timed out after 50ms' });
    expect(result.durationMs).toBeLessThan(500);
  });
  it('hands the checker a signal that aborts at the deadline', async () => {
    let sawAbort = false;
    const polite: PreparedCheck = (signal) =>
      new Promise((_, reject) =>
        signal.addEventListener('abort', () => {
          sawAbort = true;
          reject(new Error('closed'));
        }),
      );
    await runCheck(polite, 30);
    expect(sawAbort).toBe(true);
  });
  it('an answer that arrived while the event loop was stalled is not failed as a timeout', async () => {
    const server = net.createServer((socket) => socket.on('error', () => undefined));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as net.AddressInfo).port;
    const running = runCheck(prepareCheck(check({ type: 'tcp' }), target(port)), 50);
    const until = Date.now() + 200;
    while (Date.now() < until) {
      // a stall longer than the timeout, as a long reconcile pass or a GC would cause
    }
    const result = await running;
    server.close();
    expect(result).toMatchObject({ ok: true, timedOut: false });
  });

  it('a throwing checker is a failure with its message, not a crash', async () => {
    expect(
      await runCheck(async () => {
        throw new Error('connect EHOSTUNREACH');
      }, 1000),
    ).toMatchObject({ ok: false, timedOut: false, message: 'connect EHOSTUNREACH' });
  });
});

describe('nextSlot', () => {
  it('is the next slot on time, and the slot it is in when behind', () => {
    expect(nextSlot(1000, 1000, 1500)).toBe(2000);
    expect(nextSlot(1000, 1000, 2000)).toBe(2000);
    // Behind: the slot it is in, run late, rather than every slot it missed.
    expect(nextSlot(1000, 1000, 2001)).toBe(2000);
    expect(nextSlot(1000, 1000, 5999)).toBe(5000);
    expect(nextSlot(1000, 1000, 6000)).toBe(6000);
  });
});

describe('Scheduler', () => {
  it('never runs more than `concurrency` checks at once, and runs them all', async () => {
    const s = scheduler({ concurrency: 3, random: () => 0 });
    let running = 0;
    let peak = 0;
    const results: CheckRun[] = [];
    const slow: PreparedCheck = async () => {
      running++;
      peak = Math.max(peak, running);
      await sleep(30);
      running--;
      return { ok: true, message: 'ok' };
    };
    for (let i = 0; i < 10; i++)
      s.add({
        intervalMs: 10_000,
        timeoutMs: 1000,
        pool: 'io',
        run: slow,
        onResult: (r) => results.push(r),
      });
    await waitFor(() => results.length === 10, 'all ten');
    expect(peak).toBe(3);
  });
  it('exec checks have their own limit', async () => {
    const s = scheduler({ concurrency: 100, execConcurrency: 2, random: () => 0 });
    let running = 0;
    let peak = 0;
    let done = 0;
    const run: PreparedCheck = async () => {
      running++;
      peak = Math.max(peak, running);
      await sleep(20);
      running--;
      return { ok: true, message: 'ok' };
    };
    for (let i = 0; i < 6; i++)
      s.add({ intervalMs: 10_000, timeoutMs: 1000, pool: 'exec', run, onResult: () => done++ });
    await waitFor(() => done === 6, 'all six');
    expect(peak).toBe(2);
  });
  it('staggers first runs over the interval by the jitter source', async () => {
    const clock = new VirtualTimers();
    const draws = [0, 0.5, 0.9];
    const s = scheduler({ timers: clock, random: () => draws.shift() ?? 0 });
    const firstAt: number[] = [];
    for (let i = 0; i < 3; i++) {
      s.add({
        intervalMs: 400,
        timeoutMs: 100,
        pool: 'io',
        run: async () => ({ ok: true, message: '' }),
        onResult: () => void (firstAt[i] ??= clock.now()),
      });
    }
    await clock.advance(399);
    expect(firstAt).toEqual([0, 200, 360]);
  });

  it('settles a check that answers as it starts at once: no deadline timer, no deep recursion', async () => {
    let timersSet = 0;
    const counting: Timers = {
      ...realTimers,
      setTimeout: (fn, ms) => {
        timersSet++;
        return realTimers.setTimeout(fn, ms);
      },
    };
    // Concurrency 1, and 20,000 checks queued during a hold: at the release each one's
    // result pumps the next in, which must be a loop, not a recursion 20,000 deep.
    const s = scheduler({ timers: counting, random: () => 0, concurrency: 1 });
    s.hold();
    const results: CheckRun[] = [];
    const now: PreparedCheck = () => ({ ok: false, message: 'connect ECONNREFUSED 10.0.0.2:80' });
    const checks = 20_000;
    for (let i = 0; i < checks; i++)
      s.add({
        intervalMs: 60_000,
        timeoutMs: 500,
        pool: 'io',
        run: now,
        onResult: (r) => results.push(r),
      });
    await sleep(20);
    const before = timersSet;
    s.release();
    expect(results).toHaveLength(checks);
    expect(results[0]).toMatchObject({
      ok: false,
      message: 'connect ECONNREFUSED 10.0.0.2:80',
      timedOut: false,
    });
    // A timer for each tick of their next runs (they were added within a few ms, so a few
    // ticks), none per check, none for a deadline.
    expect(timersSet - before).toBeLessThan(checks / 100);
  });

  it('keeps the interval start to start, on a virtual clock', async () => {
    const clock = new VirtualTimers();
    const s = scheduler({ timers: clock, random: () => 0 });
    const starts: number[] = [];
    // Each run takes 20 ms of virtual time: the next still starts 50 ms after the previous.
    const run: PreparedCheck = () => {
      starts.push(clock.now());
      return new Promise((resolve) =>
        clock.setTimeout(() => resolve({ ok: true, message: '' }), 20),
      );
    };
    s.add({ intervalMs: 50, timeoutMs: 40, pool: 'io', run, onResult: () => undefined });
    await clock.advance(210);
    expect(starts).toEqual([0, 50, 100, 150, 200]);
  });

  it('checks sharing a timeout each time out at their own deadline, with one timer among them', async () => {
    const clock = new VirtualTimers();
    let timersSet = 0;
    const counting: Timers = {
      now: () => clock.now(),
      setTimeout: (fn, ms) => {
        timersSet++;
        return clock.setTimeout(fn, ms);
      },
      clearTimeout: (handle) => clock.clearTimeout(handle),
    };
    const s = scheduler({ timers: counting, random: () => 0, tickMs: 0 });
    const results: Array<[number, number, boolean]> = [];
    // Every 10 ms a check starts; those answer in 5 ms, but the fourth never does.
    for (let i = 0; i < 8; i++) {
      const run: PreparedCheck = () =>
        i === 3
          ? new Promise(() => undefined)
          : new Promise((resolve) => clock.setTimeout(() => resolve({ ok: true, message: '' }), 5));
      clock.setTimeout(() => {
        s.add({
          intervalMs: 10_000,
          timeoutMs: 100,
          pool: 'io',
          run,
          onResult: (r) => results.push([i, clock.now(), r.timedOut]),
        });
      }, i * 10);
    }
    const before = timersSet;
    await clock.advance(300);
    expect(results.find(([i]) => i === 3)).toEqual([3, 130, true]);
    expect(results.filter(([, , timedOut]) => timedOut)).toHaveLength(1);
    // A timer for each check's first run and one for its next (tickMs 0); the deadlines took
    // two in all (the first run's, then the hung one's), not one each.
    expect(timersSet - before).toBe(8 + 8 + 2);
  });

  it('a run that timed out cannot end a later run when its checker answers at last', async () => {
    const clock = new VirtualTimers();
    const s = scheduler({ timers: clock, random: () => 0, tickMs: 0 });
    let runs = 0;
    // The first run answers at 150 ms (timed out at 100); the second starts at 120 and never answers.
    const run: PreparedCheck = () =>
      ++runs === 1
        ? new Promise((resolve) =>
            clock.setTimeout(() => resolve({ ok: true, message: 'late' }), 150),
          )
        : new Promise(() => undefined);
    const results: Array<[number, string]> = [];
    s.add({
      intervalMs: 120,
      timeoutMs: 100,
      pool: 'io',
      run,
      onResult: (r) => results.push([clock.now(), r.message]),
    });
    await clock.advance(230);
    expect(results).toEqual([
      [100, 'timed out after 100ms'],
      [220, 'timed out after 100ms'],
    ]);
  });

  it('a check slower than its interval runs again at once, without a burst to catch up', async () => {
    const clock = new VirtualTimers();
    const s = scheduler({ timers: clock, random: () => 0 });
    const starts: number[] = [];
    const run: PreparedCheck = () => {
      starts.push(clock.now());
      return new Promise((resolve) =>
        clock.setTimeout(() => resolve({ ok: true, message: '' }), 120),
      );
    };
    s.add({ intervalMs: 50, timeoutMs: 200, pool: 'io', run, onResult: () => undefined });
    await clock.advance(400);
    expect(starts).toEqual([0, 120, 240, 360]);
  });

  it('checks whose runs end late together keep their own phases, not the moment they ended', async () => {
    const clock = new VirtualTimers();
    const phases = [0, 0.2, 0.5, 0.7];
    const s = scheduler({ timers: clock, random: () => phases.shift() ?? 0 });
    const starts: number[][] = [[], [], [], []];
    // The second round of every check hangs until 260 (a stall, an overloaded real): all
    // four end within the same millisecond, as checks timing out together do.
    const release: Array<() => void> = [];
    for (const [id, mine] of starts.entries()) {
      const run: PreparedCheck = () => {
        mine.push(clock.now());
        if (mine.length !== 2) return { ok: true, message: '' };
        return new Promise((resolve) =>
          release.push(() => resolve({ ok: false, message: `late ${id}` })),
        );
      };
      s.add({ intervalMs: 100, timeoutMs: 1000, pool: 'io', run, onResult: () => undefined });
    }
    await clock.advance(260);
    for (const done of release) done();
    await clock.advance(139);
    // The three whose slot passed run late at 260, once; then each is back at its own
    // phase, not [.., 260, 360] for all.
    expect(starts).toEqual([
      [0, 100, 260, 300],
      [20, 120, 260, 320],
      [50, 150, 260, 350],
      [70, 170, 270, 370],
    ]);
  });

  it('starts the checks due within one tick from one timer, none before it is due', async () => {
    const clock = new VirtualTimers();
    let timersSet = 0;
    const counting: Timers = {
      now: () => clock.now(),
      clearTimeout: (handle) => clock.clearTimeout(handle),
      setTimeout: (fn, ms) => {
        timersSet++;
        return clock.setTimeout(fn, ms);
      },
    };
    // 100 checks due 0, 1, ... 99 ms after the start: ticks 0, 10, ... 100.
    let n = 0;
    const s = scheduler({ timers: counting, random: () => n++ / 1000 });
    const starts: Array<{ due: number; at: number }> = [];
    for (let i = 0; i < 100; i++) {
      const run: PreparedCheck = () => {
        starts.push({ due: i, at: clock.now() });
        return { ok: true, message: '' };
      };
      s.add({ intervalMs: 1000, timeoutMs: 500, pool: 'io', run, onResult: () => undefined });
    }
    expect(timersSet).toBe(11);
    await clock.advance(200);
    expect(starts).toHaveLength(100);
    for (const { due, at } of starts) expect(at).toBe(Math.ceil(due / 10) * 10);
  });

  it('reads the clock once a tick for the checks answered as they start, once more for one answered late', async () => {
    const clock = new VirtualTimers();
    let reads = 0;
    const counting: Timers = {
      now: () => {
        reads++;
        return clock.now();
      },
      clearTimeout: (handle) => clock.clearTimeout(handle),
      setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    };
    // 50 checks due in the first tick, answered at once; one more due then, answered 30 ms later.
    const s = scheduler({ timers: counting, random: () => 0 });
    const results: CheckRun[] = [];
    for (let i = 0; i < 50; i++)
      s.add({
        intervalMs: 1000,
        timeoutMs: 500,
        pool: 'io',
        run: () => ({ ok: true, message: '' }),
        onResult: (r) => results.push(r),
      });
    const late: CheckRun[] = [];
    s.add({
      intervalMs: 1000,
      timeoutMs: 500,
      pool: 'io',
      run: () =>
        new Promise((resolve) => clock.setTimeout(() => resolve({ ok: true, message: '' }), 30)),
      onResult: (r) => late.push(r),
    });
    const added = reads;
    await clock.advance(100);
    expect(results).toHaveLength(50);
    for (const r of results) expect(r.durationMs).toBe(0);
    expect(late.map((r) => r.durationMs)).toEqual([30]);
    // The tick's one reading, and the late check's at its end.
    expect(reads - added).toBe(2);
    // Their next runs keep the grid: all 51 again at 1000.
    await clock.advance(1000);
    expect(results).toHaveLength(100);
    expect(late).toHaveLength(2);
  });

  it('with tickMs 0, each check starts at its own time', async () => {
    const clock = new VirtualTimers();
    let n = 0;
    const s = scheduler({ timers: clock, random: () => n++ / 1000, tickMs: 0 });
    const starts: number[] = [];
    for (let i = 0; i < 3; i++)
      s.add({
        intervalMs: 1000,
        timeoutMs: 500,
        pool: 'io',
        run: () => {
          starts.push(clock.now());
          return { ok: true, message: '' };
        },
        onResult: () => undefined,
      });
    await clock.advance(10);
    expect(starts).toEqual([0, 1, 2]);
  });

  it('a removed check stops, and a running one is aborted without reporting', async () => {
    const s = scheduler({ random: () => 0 });
    let aborted = false;
    let reported = 0;
    const stop = s.add({
      intervalMs: 1000,
      timeoutMs: 1000,
      pool: 'io',
      run: (signal) =>
        new Promise((_, reject) =>
          signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('x'));
          }),
        ),
      onResult: () => reported++,
    });
    await sleep(20);
    stop();
    await sleep(20);
    expect(aborted).toBe(true);
    expect(reported).toBe(0);
    expect(s.size).toBe(0);
  });
});
