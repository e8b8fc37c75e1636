/**
 * Runs checks: each on a grid of its interval (start to start, so a slow check does not
 * push the next ones later and later), the first one after a random part of its interval
 * (seesaw staggers start-up the same way, so thousands of checks do not fire in the same
 * millisecond), never more than `concurrency` at once (exec checks have their own, lower
 * limit: each one is a process), and each within its timeout.
 *
 * A run that ends past its next slot (a check slower than its interval, a queue, a stall,
 * a long hold) starts again at once as the run of the slot it ended in, and the runs after
 * it keep to its grid: no burst to catch up on the slots it missed, and no new phase taken
 * from the moment it ended. That moment is shared by every check a stall held up, so
 * taking it would bunch them together for good: each round's burst of connects overflows
 * the real's accept queue, and the SYNs it drops time out the next round too.
 *
 * Starts fall on ticks (10 ms by default): the checks due within one tick start from one
 * timer, in one turn of the event loop, instead of a turn each. A turn is a few syscalls
 * and the timer lists' bookkeeping, which at thousands of checks a second is a good part
 * of a check's cost; a tick later is nothing next to an interval, and a tick's worth of
 * connects (ten at 1000 checks a second) is no burst.
 *
 * The runner enforces timeouts, not the checkers: at the deadline the check's AbortSignal
 * fires (the checker closes its socket or kills its process group) and the result is a
 * failure at once, even if a checker were slow to notice.
 *
 * The reconciler comes first: while a hold is on (hold(), the daemon's pending or running
 * pass), no check starts and the results of checks already under way wait, in order, until
 * release(). Their sockets and deadlines keep running, so a result is neither lost nor
 * failed for the wait; the event loop is left to the pass, and what the held results
 * decide comes out together as the next batch. One exception: a check that says it is
 * urgent (its real is part way to a change: a failure seen while up) starts on time even
 * during a hold, its result waiting as the others do. In a mass failure those are exactly
 * the checks that decide, and each pass would otherwise put them off by its length, once
 * more on top of the wait for the pass; in the steady state none is urgent.
 */
import { Attempt, Deadlines, realTimers, type CheckRun, type Timers } from './attempt.js';
import type { PreparedCheck } from './types.js';

export interface ScheduledCheck {
  intervalMs: number;
  timeoutMs: number;
  /** Which concurrency pool the check takes a place in. */
  pool: 'io' | 'exec';
  run: PreparedCheck;
  onResult(result: CheckRun): void;
  /** Whether the check starts on time even during a hold (absent: never). */
  urgent?: () => boolean;
}

export interface SchedulerOptions {
  timers?: Timers;
  /** Checks running at once (default 1024). */
  concurrency?: number;
  /** exec checks running at once (default 32). */
  execConcurrency?: number;
  /** Start-up jitter source, [0, 1) (default Math.random). */
  random?: () => number;
  /** A result handler that throws (default: rethrown outside the scheduler, where it crashes loudly). */
  onError?: (err: unknown) => void;
  /**
   * The longest a hold lasts (default 10 s): a pass that hangs must not stop health
   * checking with it. Past it, checks run again until the next hold.
   */
  maxHoldMs?: number;
  /** Starts are rounded up to ticks of this many ms (default 10; 0: exact). */
  tickMs?: number;
}

const STOPPED = new Error('check stopped');

interface Entry {
  check: ScheduledCheck;
  /** When the next run is due (timers.now() clock): a slot of its grid, not rounded to a tick. */
  due: number;
  /** The tick whose timer starts it (undefined: queued, running, or stopped). */
  tick: number | undefined;
  /** Its runs (made at the first; made again after a run that was stopped, see Attempt). */
  attempt?: Attempt;
  stopped: boolean;
  /** Stops the check's watch (a watched check: see PreparedCheck.watch). */
  unwatch?: () => void;
  /** Woken while running: run again as soon as this run is done. */
  woken?: boolean;
}

/** The checks that start at one tick, and its timer. */
interface Tick {
  entries: Entry[];
  timer: unknown;
}

class Pool {
  readonly queue: Entry[] = [];
  head = 0;
  running = 0;
  pumping = false;
  constructor(readonly limit: number) {}

  take(): Entry | undefined {
    while (this.head < this.queue.length) {
      const entry = this.queue[this.head++] as Entry;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      if (!entry.stopped) return entry;
    }
    return undefined;
  }
}

/**
 * A counted hold with a time limit: on from the first take() until as many give() calls,
 * or until maxMs have passed (a pass that hangs must not stop health checking with it).
 * `onEnd` runs when it ends either way.
 */
export class Hold {
  private count = 0;
  private timer: unknown;

  constructor(
    private readonly timers: Timers,
    private readonly maxMs: number,
    private readonly onEnd: () => void,
  ) {}

  get on(): boolean {
    return this.count > 0;
  }

  /** Returns whether this call turned the hold on. */
  take(): boolean {
    if (this.count++ > 0) return false;
    this.timer = this.timers.setTimeout(() => this.end(), this.maxMs);
    return true;
  }

  give(): void {
    if (this.count > 0 && --this.count === 0) this.end();
  }

  /** Off, without onEnd: the owner is stopping. */
  clear(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.count = 0;
  }

  private end(): void {
    this.clear();
    this.onEnd();
  }
}

/**
 * The slot of a check's grid (`due + k * interval`, k >= 1) that its next run belongs to:
 * the next one, or when that has passed, the one `now` is in (run late, at once).
 */
export function nextSlot(due: number, intervalMs: number, now: number): number {
  const next = due + intervalMs;
  if (next >= now || intervalMs <= 0) return next;
  return next + Math.floor((now - next) / intervalMs) * intervalMs;
}

export class Scheduler {
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly onError: (err: unknown) => void;
  private readonly pools: Record<ScheduledCheck['pool'], Pool>;
  private readonly entries = new Set<Entry>();
  private readonly ticks = new Map<number, Tick>();
  private readonly tickMs: number;
  private readonly gate: Hold;
  /** The deadlines of the runs under way (Attempt says why not a timer each). */
  private readonly deadlines: Deadlines;
  /** Results that came during a hold, in order of arrival. */
  private held: Array<{ entry: Entry; result: CheckRun }> = [];

  constructor(options: SchedulerOptions = {}) {
    this.timers = options.timers ?? realTimers;
    this.deadlines = new Deadlines(this.timers);
    this.random = options.random ?? Math.random;
    this.onError =
      options.onError ??
      ((err) =>
        setImmediate(() => {
          throw err;
        }));
    this.pools = {
      io: new Pool(options.concurrency ?? 1024),
      exec: new Pool(options.execConcurrency ?? 32),
    };
    this.gate = new Hold(this.timers, options.maxHoldMs ?? 10_000, () => this.resume());
    this.tickMs = options.tickMs ?? 10;
  }

  /** Whether checks are held (no start, results waiting). */
  get holding(): boolean {
    return this.gate.on;
  }

  /** Holds the checks until as many release() calls (or maxHoldMs) have come. */
  hold(): void {
    this.gate.take();
  }

  release(): void {
    this.gate.give();
  }

  /** Hands over the held results, then starts what became due meanwhile. */
  private resume(): void {
    const held = this.held;
    this.held = [];
    for (const { entry, result } of held) this.deliver(entry, result);
    const now = this.timers.now();
    this.pump(this.pools.io, now);
    this.pump(this.pools.exec, now);
  }

  private deliver(entry: Entry, result: CheckRun): void {
    try {
      if (!entry.stopped) entry.check.onResult(result);
    } catch (err) {
      this.onError(err);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** Starts a check; its first run comes after a random part of its interval. Returns its stop function. */
  add(check: ScheduledCheck): () => void {
    const entry: Entry = { check, due: 0, tick: undefined, stopped: false };
    this.entries.add(entry);
    const now = this.timers.now();
    entry.due = now + Math.floor(this.random() * check.intervalMs);
    this.arm(entry, now);
    if (check.run.watch) entry.unwatch = check.run.watch(() => this.wake(entry));
    return () => this.remove(entry);
  }

  /** A watched check says its answer may have changed: run it now, or right after this run. */
  private wake(entry: Entry): void {
    if (entry.stopped) return;
    if (entry.attempt?.running) {
      entry.woken = true;
      return;
    }
    // Not waiting for a tick: it is queued for a place in its pool already.
    if (entry.tick === undefined) return;
    // Its tick passes it by (see fire).
    entry.tick = undefined;
    entry.due = this.timers.now();
    this.enqueue(entry, entry.due);
  }

  private remove(entry: Entry): void {
    if (entry.stopped) return;
    entry.stopped = true;
    this.entries.delete(entry);
    entry.tick = undefined;
    entry.unwatch?.();
    entry.attempt?.stop(STOPPED);
  }

  /** Waits for the first tick at or after the entry's due time. */
  private arm(entry: Entry, now: number): void {
    const at = this.tickMs > 0 ? Math.ceil(entry.due / this.tickMs) * this.tickMs : entry.due;
    entry.tick = at;
    const tick = this.ticks.get(at);
    if (tick) return void tick.entries.push(entry);
    const timer = this.timers.setTimeout(() => this.fire(at), Math.max(0, at - now));
    this.ticks.set(at, { entries: [entry], timer });
  }

  /**
   * Queues the checks still waiting for this tick (not those woken or stopped meanwhile),
   * with one reading of the clock for all of them (Attempt.start says why).
   */
  private fire(at: number): void {
    const tick = this.ticks.get(at);
    this.ticks.delete(at);
    const now = this.timers.now();
    for (const entry of tick?.entries ?? []) {
      if (entry.tick !== at) continue;
      entry.tick = undefined;
      this.enqueue(entry, now);
    }
  }

  /** `now`: the clock as last read, for the checks this starts. */
  private enqueue(entry: Entry, now: number): void {
    if (entry.stopped) return;
    const pool = this.pools[entry.check.pool];
    if (this.gate.on && pool.running < pool.limit && entry.check.urgent?.()) {
      pool.running++;
      return this.run(entry, now);
    }
    pool.queue.push(entry);
    this.pump(pool, now);
  }

  private pump(pool: Pool, now: number): void {
    // A check settled as it started (see Attempt.start) pumps again from within run(): the
    // loop below goes on instead, so a long queue of such checks is no deep recursion.
    if (pool.pumping) return;
    pool.pumping = true;
    try {
      while (pool.running < pool.limit && !this.gate.on) {
        const entry = pool.take();
        if (!entry) return;
        pool.running++;
        this.run(entry, now);
      }
    } finally {
      pool.pumping = false;
    }
  }

  /** Starts the entry's check at `now`; when it is over, reschedules it and starts what is queued. */
  private run(entry: Entry, now: number): void {
    let attempt = entry.attempt;
    if (!attempt?.reusable) {
      const { run, timeoutMs } = entry.check;
      attempt = new Attempt(run, timeoutMs, this.deadlines, (result) => this.ended(entry, result));
      entry.attempt = attempt;
    }
    attempt.start(now);
  }

  /** A run is over: its result goes out (or waits out a hold), and the next run is booked. */
  private ended(entry: Entry, result: CheckRun): void {
    const pool = this.pools[entry.check.pool];
    const end = (entry.attempt as Attempt).startedAt + result.durationMs;
    pool.running--;
    if (this.gate.on) {
      if (!entry.stopped) this.held.push({ entry, result });
    } else this.deliver(entry, result);
    // A throwing handler must not stop the check's schedule.
    this.reschedule(entry, end);
    this.pump(pool, end);
  }

  private reschedule(entry: Entry, now: number): void {
    if (entry.stopped) return;
    entry.due = entry.woken ? now : nextSlot(entry.due, entry.check.intervalMs, now);
    entry.woken = false;
    this.arm(entry, now);
  }

  /** Stops every check; running ones are aborted. Resolves when they have all returned. */
  async stop(): Promise<void> {
    this.held = [];
    this.gate.clear();
    for (const tick of this.ticks.values()) this.timers.clearTimeout(tick.timer);
    this.ticks.clear();
    const running: Promise<void>[] = [];
    for (const entry of [...this.entries]) {
      if (entry.attempt?.running) running.push(entry.attempt.whenEnded());
      this.remove(entry);
    }
    this.deadlines.clear();
    await Promise.allSettled(running);
  }
}
