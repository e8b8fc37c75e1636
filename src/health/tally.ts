/**
 * Counts of check results by service and check type, for lvsd_checks_total and
 * lvsd_check_duration_seconds: every result is counted into its check's tally, on the
 * thread that has it (a check worker for the settled results it keeps back, settled.ts;
 * the HealthManager for the results it decides on), and the counts go to the metrics as
 * tallies, taken once a turn or once a second. One path for every result, where the main
 * thread sent an event and looked up the metrics' series for each result it decided on
 * (issue 15: a few percent of its work in a mass failure).
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

/** Results of one service's checks of one type, counted since the last take(). */
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

/** Counts one result into a tally. */
export function countResult(tally: CheckTally, result: CheckRun): void {
  if (result.ok) tally.ok++;
  else tally.failed++;
  if (result.timedOut) tally.timedOut++;
  const seconds = result.durationMs / 1000;
  tally.seconds += seconds;
  tally.buckets[durationBucket(seconds)]!++;
}

/** The tallies of one thread's checks: one per service and type, shared by its checks. */
export class CheckTallies {
  /** Per service and type: its counts, and how many checks count into them. */
  private readonly tallies = new Map<string, { tally: CheckTally; checks: number }>();

  /** The tally a check of `service` and `type` counts into, one more check counting into it. */
  join(service: string, type: CheckType): CheckTally {
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

  /** One check fewer counts into `tally`; its counts not taken yet stay until the next take(). */
  leave(tally: CheckTally): void {
    const key = keyOf(tally.service, tally.type);
    const shared = this.tallies.get(key);
    if (shared && --shared.checks === 0 && tally.ok + tally.failed === 0) this.tallies.delete(key);
  }

  /** The counts since the last take(), of the services and types that had results. */
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
}

const keyOf = (service: string, type: CheckType) => `${type} ${service}`;
