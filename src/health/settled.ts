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

/** Upper bounds (seconds) of lvsd_check_duration_seconds' buckets; the last bucket is +Inf. */
export const DURATION_BUCKETS_S = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The bucket a duration falls in (DURATION_BUCKETS_S.length: above the last bound). */
export function durationBucket(seconds: number): number {
  let slot = 0;
  while (slot < DURATION_BUCKETS_S.length && seconds > DURATION_BUCKETS_S[slot]!) slot++;
  return slot;
}

/** Settled results of one service's checks of one type, counted since the last take(). */
export interface CheckTally {
  service: string;
  type: CheckType;
  ok: number;
  failed: number;
  timedOut: number;
  /** Sum of the durations, in seconds. */
  seconds: number;
  /** Count per bucket of DURATION_BUCKETS_S, then +Inf (not cumulative). */
  buckets: number[];
}

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
  /** Per service and type: its counts, and how many tracked checks count into them. */
  private readonly tallies = new Map<string, { tally: CheckTally; checks: number }>();

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
      tally: this.tallyOf(service, type),
    });
  }

  forget(id: number): void {
    const check = this.checks.get(id);
    if (!check) return;
    this.checks.delete(id);
    const key = keyOf(check.tally.service, check.tally.type);
    const shared = this.tallies.get(key)!;
    // Its counts not taken yet stay until the next take().
    if (--shared.checks === 0 && shared.tally.ok + shared.tally.failed === 0)
      this.tallies.delete(key);
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
        this.count(check.tally, result);
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

  /** The counts since the last take(), of the services and types that had settled results. */
  take(): CheckTally[] {
    const taken: CheckTally[] = [];
    for (const [key, { tally, checks }] of this.tallies) {
      if (tally.ok + tally.failed === 0) continue;
      if (checks === 0) this.tallies.delete(key);
      taken.push({ ...tally, buckets: tally.buckets.slice() });
      tally.ok = tally.failed = tally.timedOut = tally.seconds = 0;
      tally.buckets.fill(0);
    }
    return taken;
  }

  private count(tally: CheckTally, result: CheckRun): void {
    if (result.ok) tally.ok++;
    else tally.failed++;
    if (result.timedOut) tally.timedOut++;
    const seconds = result.durationMs / 1000;
    tally.seconds += seconds;
    tally.buckets[durationBucket(seconds)]!++;
  }

  private tallyOf(service: string, type: CheckType): CheckTally {
    const key = keyOf(service, type);
    let shared = this.tallies.get(key);
    if (!shared) {
      const buckets = new Array<number>(DURATION_BUCKETS_S.length + 1).fill(0);
      const tally = { service, type, ok: 0, failed: 0, timedOut: 0, seconds: 0, buckets };
      this.tallies.set(key, (shared = { tally, checks: 0 }));
    }
    shared.checks++;
    return shared.tally;
  }
}

const keyOf = (service: string, type: CheckType) => `${type} ${service}`;
