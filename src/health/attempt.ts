/**
 * One run of a check, from its start to its result: the signal the checker gets, the
 * deadline that fails it, the result. The Scheduler (scheduler.ts) keeps one Attempt per
 * check and starts it again for each run; runCheck() makes one for a single run.
 *
 * At the deadline the signal aborts (the checker closes its socket or kills its process
 * group) and the result is a failure at once, whether or not the checker has noticed: the
 * runner enforces timeouts, not the checkers.
 *
 * What a run costs here is counted, because it is paid thousands of times a second on the
 * check worker and, under emulation, the collector's threads were a tenth of a check
 * (issue 15). So an Attempt is reused while its runs end by themselves, its callbacks made
 * once; the deadlines of checks under way wait in one queue per timeout with one timer
 * (Deadlines), not a timer each; and a check that answers before it returns (a tcp connect
 * to a local real) is settled at once, without a promise, a deadline or a clock reading.
 */
import type { CheckOutcome, CheckSignal, PreparedCheck } from './types.js';
import { errorText } from './types.js';

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Whether a pending timer keeps the process alive (absent: it always does). */
  ref?(handle: unknown, on: boolean): void;
}

export const realTimers: Timers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  ref: (handle, on) =>
    void (on ? (handle as NodeJS.Timeout).ref() : (handle as NodeJS.Timeout).unref()),
};

export interface CheckRun extends CheckOutcome {
  durationMs: number;
  timedOut: boolean;
}

/**
 * The abort reason at a check's deadline. Deliberately not an Error: capturing a stack
 * trace for every timed-out check costs more than the check when thousands time out.
 */
export class CheckTimeout {
  readonly name = 'CheckTimeout';
  constructor(readonly timeoutMs: number) {}
  get message(): string {
    return `timed out after ${this.timeoutMs}ms`;
  }
}

/**
 * The signal a check gets, one per run: aborted once, at the deadline or when the check is
 * stopped. Listeners run in the order added; one that throws is reported as an uncaught
 * exception, as an EventTarget listener's would be, after the others have run.
 */
class Deadline implements CheckSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: Array<() => void> | undefined;

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const listeners = this.listeners;
    if (!listeners) return;
    const at = listeners.indexOf(listener);
    // pop() for the last one (the usual case): splice() makes an array of what it removes.
    if (at === listeners.length - 1) listeners.pop();
    else if (at >= 0) listeners.splice(at, 1);
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    for (const listener of listeners ?? []) {
      try {
        listener();
      } catch (err) {
        process.nextTick(() => {
          throw err;
        });
      }
    }
  }
}

/**
 * A check's runs, one at a time: start() a run, which calls `onDone` once with its result.
 * A run stopped (its deadline, or stop()) leaves the Attempt spent (`reusable` false): a late
 * answer of its checker must not end a later run, so the owner makes a new one.
 */
export class Attempt {
  /** Counts the runs; a deadline queued for one run names it. */
  runs = 0;
  running = false;
  /** False once a run was stopped: the next run needs a new Attempt. */
  reusable = true;
  /** When the run started (the clock as the caller read it). */
  startedAt = 0;
  private signal: Deadline | undefined;
  private answeredAtOnce = true;
  /** The deadline queue holding this run, while it does. */
  queue: DeadlineQueue | undefined;
  private returned: Promise<void> | undefined;
  private markReturned: (() => void) | undefined;
  private readonly onOutcome = (outcome: CheckOutcome) =>
    this.finish(outcome.ok, outcome.message, outcome.weight, false);
  private readonly onError = (err: unknown) => this.finish(false, errorText(err), undefined, false);

  constructor(
    private readonly check: PreparedCheck,
    readonly timeoutMs: number,
    private readonly deadlines: Deadlines,
    private readonly onDone: (result: CheckRun) => void,
  ) {}

  /**
   * Runs the check from `now` (the caller's reading of the clock: the scheduler reads it
   * once for all the checks it starts together; a clock read is a system call in VMs whose
   * clock source has no vDSO, like the emulated lab). A check that answers at once is
   * settled before this returns, with durationMs 0.
   */
  start(now: number): void {
    this.running = true;
    this.runs++;
    this.startedAt = now;
    this.returned = undefined;
    const signal = new Deadline();
    this.signal = signal;
    let pending: CheckOutcome | Promise<CheckOutcome>;
    try {
      pending = this.check(signal);
    } catch (err) {
      pending = Promise.reject(err);
    }
    if (!(pending instanceof Promise)) {
      this.answeredAtOnce = true;
      return this.finish(pending.ok, pending.message, pending.weight, false);
    }
    this.answeredAtOnce = false;
    this.deadlines.add(this, now + this.timeoutMs);
    pending.then(this.onOutcome, this.onError);
  }

  /** Aborts the run's signal and settles it as failed with this reason. */
  stop(reason: unknown): void {
    if (!this.running) return;
    this.reusable = false;
    this.signal?.abort(reason);
    const timedOut = reason instanceof CheckTimeout;
    this.finish(false, timedOut ? reason.message : errorText(reason), undefined, timedOut);
  }

  /** Resolves once the run under way has ended (at once when none is). */
  whenEnded(): Promise<void> {
    if (!this.running) return Promise.resolve();
    this.returned ??= new Promise<void>((resolve) => (this.markReturned = resolve));
    return this.returned;
  }

  private finish(ok: boolean, message: string, weight: number | undefined, timedOut: boolean) {
    if (!this.running) return;
    this.running = false;
    this.signal = undefined;
    this.queue?.settled();
    this.queue = undefined;
    const durationMs = this.answeredAtOnce ? 0 : this.deadlines.timers.now() - this.startedAt;
    const result: CheckRun = { ok, message, durationMs, timedOut };
    if (weight !== undefined) result.weight = weight;
    const markReturned = this.markReturned;
    this.markReturned = undefined;
    try {
      this.onDone(result);
    } finally {
      markReturned?.();
    }
  }
}

/**
 * The deadlines of the runs under way, one queue per timeout (see DeadlineQueue). Cleared
 * with its owner: a queue's timer is the only thing it holds.
 */
export class Deadlines {
  private readonly queues = new Map<number, DeadlineQueue>();

  constructor(readonly timers: Timers) {}

  add(attempt: Attempt, at: number): void {
    let queue = this.queues.get(attempt.timeoutMs);
    if (!queue) {
      queue = new DeadlineQueue(this.timers);
      this.queues.set(attempt.timeoutMs, queue);
    }
    queue.push(attempt, at);
  }

  clear(): void {
    for (const queue of this.queues.values()) queue.clear();
    this.queues.clear();
  }
}

/**
 * The deadlines of runs with one timeout. Runs start in time order, so their deadlines come
 * in the order they were queued, and one timer, for the first run still under way, serves
 * them all. A run that ends stays queued until its turn comes and is passed over then. The
 * timer keeps the process alive only while some run is under way.
 *
 * At a deadline, one more turn of the event loop before the verdict: after a stall (a long
 * reconcile, GC) libuv runs due timers before it polls I/O, and a check whose answer has
 * already arrived must not be failed for the stall.
 */
class DeadlineQueue {
  private readonly attempts: Attempt[] = [];
  /** The run of each queued attempt (its `runs` when queued), and its deadline. */
  private readonly runs: number[] = [];
  private readonly at: number[] = [];
  private head = 0;
  /** Queued runs still under way. */
  private underWay = 0;
  private timer: unknown = undefined;

  constructor(private readonly timers: Timers) {}

  push(attempt: Attempt, at: number): void {
    this.attempts.push(attempt);
    this.runs.push(attempt.runs);
    this.at.push(at);
    attempt.queue = this;
    if (this.underWay++ === 0 && this.timer !== undefined) this.timers.ref?.(this.timer, true);
    if (this.timer === undefined) this.arm(attempt.startedAt);
  }

  /** A queued run has ended. */
  settled(): void {
    if (--this.underWay === 0 && this.timer !== undefined) this.timers.ref?.(this.timer, false);
  }

  clear(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    for (let i = this.head; i < this.attempts.length; i++) {
      const attempt = this.attempts[i] as Attempt;
      if (attempt.queue === this) attempt.queue = undefined;
    }
    this.clearArrays();
    this.underWay = 0;
  }

  private pending(i: number): boolean {
    const attempt = this.attempts[i] as Attempt;
    return attempt.running && attempt.runs === this.runs[i];
  }

  /** A timer for the first run still under way, if any; `now` as the caller last read the clock. */
  private arm(now: number): void {
    while (this.head < this.attempts.length && !this.pending(this.head)) this.head++;
    this.compact();
    if (this.head >= this.attempts.length) return;
    const delay = Math.max(0, (this.at[this.head] as number) - now);
    this.timer = this.timers.setTimeout(() => this.fire(), delay);
  }

  private fire(): void {
    this.timer = undefined;
    const now = this.timers.now();
    const due: Attempt[] = [];
    const dueRuns: number[] = [];
    while (this.head < this.attempts.length && (this.at[this.head] as number) <= now) {
      if (this.pending(this.head)) {
        due.push(this.attempts[this.head] as Attempt);
        dueRuns.push(this.runs[this.head] as number);
      }
      this.head++;
    }
    if (due.length > 0)
      setImmediate(() => {
        due.forEach((attempt, i) => {
          if (attempt.running && attempt.runs === dueRuns[i])
            attempt.stop(new CheckTimeout(attempt.timeoutMs));
        });
      });
    this.arm(now);
  }

  /** Drops what the head has passed, now and then (not on every shift: a copy each time). */
  private compact(): void {
    if (this.head === this.attempts.length) {
      if (this.head > 0) this.clearArrays();
      return;
    }
    if (this.head < 1024 || this.head * 2 < this.attempts.length) return;
    this.attempts.splice(0, this.head);
    this.runs.splice(0, this.head);
    this.at.splice(0, this.head);
    this.head = 0;
  }

  private clearArrays(): void {
    this.attempts.length = 0;
    this.runs.length = 0;
    this.at.length = 0;
    this.head = 0;
  }
}

/** Runs one check within its timeout. Never throws. */
export function runCheck(
  run: PreparedCheck,
  timeoutMs: number,
  timers: Timers = realTimers,
): Promise<CheckRun> {
  const deadlines = new Deadlines(timers);
  return new Promise((resolve) => {
    const attempt = new Attempt(run, timeoutMs, deadlines, (result) => {
      deadlines.clear();
      resolve(result);
    });
    attempt.start(timers.now());
  });
}
