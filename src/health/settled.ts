/**
 * Settled results: what a check worker counts instead of sending (issue 15). At scale
 * nearly every result repeats the one before it (a healthy real answers "connected" every
 * second) and decides nothing, yet each one crossing to the main thread cost that thread
 * about as much as the check cost its worker. A worker sends the results that may decide;
 * the others it counts, per service and check type, for the metrics.
 *
 * When a result is settled: it repeats (same ok, message, weight and timeout) the last
 * `max(rise, fall)` results of its check. After that many equal results the real's
 * rise/fall state (state.ts) agrees with them whatever it was before: `fall` failures in a
 * row took an up real down, `rise` successes brought a down real up, and a result that
 * points where the state is clears its streak. So the state after it is the state before
 * it, and the main thread loses nothing by not seeing it. The first results of a check
 * (after an add, a worker's restart, a changed check) are never settled: the main thread
 * sees at least `max(rise, fall)` of them, whatever state it starts the real in.
 *
 * Pure: no clock, no I/O; the worker feeds it (check-worker.ts), the main thread reads the
 * counts (HealthManager's 'tally' event, the daemon's lvsd_checks_total and
 * lvsd_check_duration_seconds).
 */
import type { CheckType } from '../config/check.js';
import type { CheckRun } from './attempt.js';
import { type CheckTally, CheckTallies, countResult } from './tally.js';

interface Tracked {
  /** Equal results needed before the next equal one is settled: max(rise, fall). */
  needed: number;
  /** Equal results in a row so far, the last one included (0: none yet). */
  repeats: number;
  ok: boolean;
  message: string;
  weight: number | undefined;
  timedOut: boolean;
  tally: CheckTally;
}

/** A worker's checks' recent results, and the counts of the settled ones. */
export class SettledResults {
  private readonly checks = new Map<number, Tracked>();
  private readonly tallies = new CheckTallies();

  /** Starts (or starts again) following check `id`: none of its next `max(rise, fall)` results is settled. */
  track(
    id: number,
    service: string,
    type: CheckType,
    thresholds: { rise: number; fall: number },
  ): void {
    this.forget(id);
    this.checks.set(id, {
      needed: Math.max(thresholds.rise, thresholds.fall, 1),
      repeats: 0,
      ok: false,
      message: '',
      weight: undefined,
      timedOut: false,
      tally: this.tallies.join(service, type),
    });
  }

  forget(id: number): void {
    const check = this.checks.get(id);
    if (!check) return;
    this.checks.delete(id);
    this.tallies.leave(check.tally);
  }

  /**
   * Whether `result` of check `id` is settled; if so it is counted here (and not to be
   * sent), else it becomes the last result the next ones are compared with.
   */
  settle(id: number, result: CheckRun): boolean {
    const check = this.checks.get(id);
    if (!check) return false;
    if (
      check.repeats > 0 &&
      result.ok === check.ok &&
      result.message === check.message &&
      result.weight === check.weight &&
      result.timedOut === check.timedOut
    ) {
      if (check.repeats >= check.needed) {
        countResult(check.tally, result);
        return true;
      }
      check.repeats++;
      return false;
    }
    check.repeats = 1;
    check.ok = result.ok;
    check.message = result.message;
    check.weight = result.weight;
    check.timedOut = result.timedOut;
    return false;
  }

  /** The counts of the settled results since the last take(). */
  take(): CheckTally[] {
    return this.tallies.take();
  }
}
