/**
 * The rise/fall state machine of one real server, pure: results in, state and transitions
 * out. No clock, no I/O; the manager feeds it and times it.
 *
 * - `fall` consecutive failures take an up real down; `rise` consecutive successes bring a
 *   down real up (keepalived and ldirectord have no rise: a flapping backend then moves in
 *   and out of the table at every check).
 * - Before its first result a real is in its initial state. Starting down, the first
 *   result decides: a success brings it up at once (so a start does not wait rise x
 *   interval), a failure leaves it down and from then on it needs `rise` successes.
 *   Starting up (the `initial: up` option, or a real the kernel already serves when lvsd
 *   restarts) it behaves as any up real: `fall` failures take it down.
 */

/** Where one real stands in the rise/fall machine. */
export interface RiseFallState {
  up: boolean;
  /** Consecutive results that point away from the current state. */
  streak: number;
  /** False until the first result. */
  checked: boolean;
  /** Message of the last result, for transitions' reasons and status. */
  last: string;
}

export interface Thresholds {
  rise: number;
  fall: number;
}

/** What one result did: the new state, and the transition when up/down changed. */
export interface RiseFallStep {
  state: RiseFallState;
  /** Set when this result changed up/down. */
  transition?: { from: 'up' | 'down'; to: 'up' | 'down'; reason: string };
}

export function initialHealth(up: boolean): RiseFallState {
  return {
    up,
    streak: 0,
    checked: false,
    last: up ? 'not checked yet (starts up)' : 'not checked yet',
  };
}

function consecutive(n: number, ok: boolean): string {
  const noun = ok ? (n === 1 ? 'success' : 'successes') : n === 1 ? 'failure' : 'failures';
  return `${n} consecutive ${noun}`;
}

export function step(
  state: RiseFallState,
  ok: boolean,
  message: string,
  thresholds: Thresholds,
): RiseFallStep {
  if (!state.checked && !state.up && ok) {
    return {
      state: { up: true, streak: 0, checked: true, last: message },
      transition: { from: 'down', to: 'up', reason: `first check passed: ${message}` },
    };
  }
  const pointsAway = state.up ? !ok : ok;
  if (!pointsAway) return { state: { up: state.up, streak: 0, checked: true, last: message } };
  const streak = state.streak + 1;
  const needed = state.up ? thresholds.fall : thresholds.rise;
  if (streak < needed) return { state: { up: state.up, streak, checked: true, last: message } };
  const count = consecutive(streak, ok);
  return {
    state: { up: !state.up, streak: 0, checked: true, last: message },
    transition: {
      from: state.up ? 'up' : 'down',
      to: state.up ? 'down' : 'up',
      reason: `${count}: ${message}`,
    },
  };
}
