/**
 * Settled results (src/health/settled.ts): a worker keeps back the results that cannot
 * change a real's rise/fall state. The property: the main thread, seeing only the results
 * sent, ends every step in the state it would have had seeing all of them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SettledResults } from '../../src/health/settled.js';
import { DURATION_BUCKETS_S, durationBucket } from '../../src/health/tally.js';
import type { CheckRun } from '../../src/health/attempt.js';
import { initialHealth, type RiseFallState, step } from '../../src/health/state.js';

const run = (ok: boolean, message = ok ? 'connected' : 'refused', durationMs = 0): CheckRun => ({
  ok,
  message,
  durationMs,
  timedOut: false,
});

describe('SettledResults', () => {
  it('keeps back only results after which the state is what it was (any rise, fall, start and results)', () => {
    const result = fc.record({
      ok: fc.boolean(),
      message: fc.constantFrom('connected', 'refused', 'HTTP 500'),
      timedOut: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        fc.array(result, { maxLength: 60 }),
        (rise, fall, startUp, results) => {
          const settled = new SettledResults();
          settled.track(1, 'web', 'tcp', { rise, fall });
          let all: RiseFallState = initialHealth(startUp);
          let seen: RiseFallState = initialHealth(startUp);
          for (const r of results) {
            const checkRun: CheckRun = { ...r, durationMs: 1 };
            all = step(all, r.ok, r.message, { rise, fall }).state;
            if (!settled.settle(1, checkRun))
              seen = step(seen, r.ok, r.message, { rise, fall }).state;
            expect(seen).toEqual(all);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('sends the first max(rise, fall) equal results, then counts the rest', () => {
    const settled = new SettledResults();
    settled.track(7, 'web', 'tcp', { rise: 2, fall: 3 });
    const sent = [1, 2, 3, 4, 5].map(() => !settled.settle(7, run(true)));
    expect(sent).toEqual([true, true, true, false, false]);
    // Another answer starts the count again, and so does the next change back.
    expect(settled.settle(7, run(false))).toBe(false);
    expect(settled.settle(7, run(true))).toBe(false);
    expect([1, 2, 3].map(() => settled.settle(7, run(true)))).toEqual([false, false, true]);
  });

  it('tells a new message, weight or timeout from a repeat', () => {
    const settled = new SettledResults();
    settled.track(1, 'web', 'http', { rise: 1, fall: 1 });
    settled.settle(1, run(false, 'HTTP 500'));
    expect(settled.settle(1, run(false, 'HTTP 500'))).toBe(true);
    expect(settled.settle(1, run(false, 'HTTP 503'))).toBe(false);
    expect(settled.settle(1, { ...run(false, 'HTTP 503'), timedOut: true })).toBe(false);
    settled.settle(1, run(true));
    expect(settled.settle(1, { ...run(true), weight: 5 })).toBe(false);
  });

  it('starts again when a check is tracked anew, and settles nothing of a check it does not track', () => {
    const settled = new SettledResults();
    settled.track(1, 'web', 'tcp', { rise: 1, fall: 1 });
    settled.settle(1, run(true));
    expect(settled.settle(1, run(true))).toBe(true);
    settled.track(1, 'web', 'tcp', { rise: 1, fall: 1 });
    expect(settled.settle(1, run(true))).toBe(false);
    settled.forget(1);
    expect(settled.settle(1, run(true))).toBe(false);
    expect(settled.settle(2, run(true))).toBe(false);
  });

  it('counts by service and type: ok, failed, timed out, seconds and buckets; take() starts from zero', () => {
    const settled = new SettledResults();
    settled.track(1, 'web', 'tcp', { rise: 1, fall: 1 });
    settled.track(2, 'web', 'tcp', { rise: 1, fall: 1 });
    settled.track(3, 'api', 'tcp', { rise: 1, fall: 1 });
    settled.settle(1, run(true, 'connected', 2));
    settled.settle(2, { ...run(false, 'timed out after 900ms', 900), timedOut: true });
    settled.settle(1, run(true, 'connected', 2));
    settled.settle(1, run(true, 'connected', 30));
    settled.settle(2, { ...run(false, 'timed out after 900ms', 900), timedOut: true });
    expect(settled.take()).toEqual([
      {
        service: 'web',
        type: 'tcp',
        ok: 2,
        failed: 1,
        timedOut: 1,
        seconds: 0.002 + 0.03 + 0.9,
        buckets: DURATION_BUCKETS_S.map((_, i) =>
          i === durationBucket(0.002) || i === durationBucket(0.03) || i === durationBucket(0.9)
            ? 1
            : 0,
        ).concat(0),
      },
    ]);
    expect(settled.take()).toEqual([]);
  });

  it('lets go of a service once its last check is forgotten and its counts are taken', () => {
    const settled = new SettledResults();
    settled.track(1, 'web', 'tcp', { rise: 1, fall: 1 });
    settled.settle(1, run(true));
    settled.settle(1, run(true));
    settled.forget(1);
    // Counted before the check went: still taken once.
    expect(settled.take().map((t) => t.ok)).toEqual([1]);
    settled.track(2, 'web', 'tcp', { rise: 1, fall: 1 });
    settled.settle(2, run(true));
    settled.settle(2, run(true));
    expect(settled.take().map((t) => t.ok)).toEqual([1]);
  });

  it('puts a duration in the first bucket whose bound holds it', () => {
    expect(durationBucket(0)).toBe(0);
    expect(durationBucket(0.001)).toBe(0);
    expect(durationBucket(0.0011)).toBe(1);
    expect(durationBucket(10)).toBe(DURATION_BUCKETS_S.length - 1);
    expect(durationBucket(11)).toBe(DURATION_BUCKETS_S.length);
  });
});
