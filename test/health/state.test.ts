import { describe, expect, it } from 'vitest';
import { initialHealth, step, type RiseFallState } from '../../src/health/state.js';
import { sorryNeeded } from '../../src/health/quorum.js';
import { sameCheck } from '../../src/health/manager.js';
import type { CheckConfig } from '../../src/config/check.js';
import { check } from './fixtures.js';

/** Runs a sequence of results ('+' success, '-' failure) and writes the state after each: U or D. */
function run(
  initial: RiseFallState,
  results: string,
  rise: number,
  fall: number,
): { states: string; transitions: string[] } {
  let state = initial;
  let states = '';
  const transitions: string[] = [];
  for (const r of results) {
    const out = step(state, r === '+', r === '+' ? 'ok' : 'refused', { rise, fall });
    state = out.state;
    states += state.up ? 'U' : 'D';
    if (out.transition)
      transitions.push(`${out.transition.from}->${out.transition.to}: ${out.transition.reason}`);
  }
  return { states, transitions };
}

describe('rise/fall state machine', () => {
  const table: Array<[string, boolean, string, number, number, string]> = [
    // name, starts up, results, rise, fall, states after each result
    ['down: the first success brings it up at once', false, '+', 2, 3, 'U'],
    ['down: a first failure, then rise successes', false, '-++', 2, 3, 'DDU'],
    ['down after a failure needs rise in a row', false, '-+-++', 2, 3, 'DDDDU'],
    ['up: fall failures in a row take it down', true, '--+---', 2, 3, 'UUUUUD'],
    ['up: a success resets the failure count', true, '-+-+-+', 2, 3, 'UUUUUU'],
    ['fall 1: one failure is enough', true, '-', 2, 1, 'D'],
    ['rise 1 after settling: one success is enough', false, '-+', 1, 3, 'DU'],
    ['flapping +-+- never reaches rise 2 once down', false, '-+-+-+-+', 2, 2, 'DDDDDDDD'],
    ['flapping never reaches fall 2 once up', true, '-+-+-+-+', 2, 2, 'UUUUUUUU'],
    ['down, up, down, up with rise 3 fall 2', false, '+--+++--', 3, 2, 'UUDDDUUD'],
  ];
  it.each(table)('%s', (_name, up, results, rise, fall, expected) => {
    expect(run(initialHealth(up), results, rise, fall).states).toBe(expected);
  });

  it('says why in each transition', () => {
    expect(run(initialHealth(true), '---', 2, 3).transitions).toEqual([
      'up->down: 3 consecutive failures: refused',
    ]);
    expect(run(initialHealth(false), '-++', 2, 3).transitions).toEqual([
      'down->up: 2 consecutive successes: ok',
    ]);
    expect(run(initialHealth(false), '+', 2, 3).transitions).toEqual([
      'down->up: first check passed: ok',
    ]);
    expect(run(initialHealth(true), '-', 2, 1).transitions).toEqual([
      'up->down: 1 consecutive failure: refused',
    ]);
  });

  it('an initial-up real is not brought down by one failure when fall > 1', () => {
    expect(run(initialHealth(true), '-', 2, 3).states).toBe('U');
  });
});

describe('quorum with hysteresis', () => {
  const q = { min: 10, hysteresis: 2 };
  const table: Array<[string, boolean, number, typeof q | null, boolean]> = [
    ['no quorum, some weight: out', false, 1, null, false],
    ['no quorum, no healthy weight: in', false, 0, null, true],
    ['no quorum, weight back: out', true, 1, null, false],
    ['above min - h: stays out', false, 8, q, false],
    ['below min - h: in', false, 7, q, true],
    ['in, at min: stays in', true, 10, q, true],
    ['in, just below min + h: stays in', true, 11, q, true],
    ['in, at min + h: out', true, 12, q, false],
    ['quorum but no healthy weight: in', false, 0, q, true],
    ['hysteresis 0: in below min', false, 9, { min: 10, hysteresis: 0 }, true],
    ['hysteresis 0: out at min', true, 10, { min: 10, hysteresis: 0 }, false],
  ];
  it.each(table)('%s', (_name, active, weight, quorum, expected) => {
    expect(sorryNeeded(active, weight, quorum)).toBe(expected);
  });
});

describe('sameCheck (what a reload compares)', () => {
  const base = check({
    type: 'http',
    path: '/health',
    status: [200, '300-399'],
    headers: { a: '1' },
  });
  it.each([
    [
      'the same settings in another key order',
      { ...Object.fromEntries(Object.entries(base).reverse()) },
      true,
    ],
    ['only on_failure differs', { ...base, on_failure: 'inhibit' }, true],
    ['the path differs', { ...base, path: '/other' }, false],
    ['a status entry differs', { ...base, status: [200, '300-398'] }, false],
    ['a header differs', { ...base, headers: { a: '2' } }, false],
    ['a header is added', { ...base, headers: { a: '1', b: '1' } }, false],
    ['rise differs', { ...base, rise: 5 }, false],
  ])('%s: %s', (_name, other, same) => {
    expect(sameCheck(base, other as CheckConfig)).toBe(same);
  });
});
