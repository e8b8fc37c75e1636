/**
 * The small interfaces the health module is built from: a Checker runs one check of one
 * real server and says whether it passed; the runner (scheduler.ts) owns timing, timeouts
 * and concurrency; the state machine (state.ts) turns results into up/down.
 */
import type { CheckConfig, CheckType } from '../config/check.js';

/** Where a check goes, and what it is checking on behalf of. */
export interface CheckTarget {
  /** Config name of the service. */
  service: string;
  /** destId of the real ("192.168.10.2:80"). */
  realId: string;
  /** Address and port the check connects to: the real's own unless the check overrides them. */
  address: string;
  port: number;
  /** The real's traffic address and port (exec checks see them as LVSD_RIP / LVSD_RPORT). */
  realAddress: string;
  realPort: number;
  /** The virtual service's address and port; fwmark services have none (empty string, 0). */
  vip: string;
  vport: number;
  /** Source address to check from, when the check sets one. */
  source?: string;
}

/** What one check found. Failures carry a message people can act on. */
export interface CheckOutcome {
  ok: boolean;
  message: string;
  /** A weight the check reported (exec with dynamic_weight). */
  weight?: number;
}

/**
 * How a checker learns that its time is up: the part of AbortSignal that checkers use (a
 * real AbortSignal fits it). The runner hands over a plain object rather than an
 * AbortController's EventTarget: one controller per check was the largest single item of
 * lvsd's own cost per check, at ten thousand checks a second.
 */
export interface CheckSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * One check, prepared once (regexes compiled, files read) and run many times. `watch`, when
 * a check has it, is called by the scheduler when the check starts on its schedule, and
 * the function it returns when the check stops. It receives a wake function, which runs
 * the check now rather than at its next interval: a file check calls it when the file is
 * written. A check that holds something for its life on a schedule (the icmp checks' receive
 * worker) holds it from the one call to the other.
 *
 * A check whose answer is there before it returns (a tcp connect to a local real) may
 * return the outcome itself: the runner then settles it at once, without a deadline timer
 * or a promise, which at ten thousand checks a second is most of lvsd's own cost per check.
 *
 * A failure is an outcome with `ok: false` or a rejection; the runner reads both alike.
 * The checkers that run by the thousand answer with an outcome: an Error captures a stack,
 * and in a mass failure every check fails (bench/results/2026-12-07-failed-checks.md).
 */
export type PreparedCheck = ((signal: CheckSignal) => CheckOutcome | Promise<CheckOutcome>) & {
  watch?: (wake: () => void) => () => void;
};

/** Prepares another check with the same registry (a `type: all` check prepares its parts). */
export type PrepareOther = (config: CheckConfig, target: CheckTarget) => PreparedCheck;

/**
 * A checker: one per check type, one file each under checkers/. `prepare` may throw for a
 * setting it cannot use (an unreadable certificate file); the manager reports that as a
 * failing check rather than crashing. The returned function must stop all I/O when the
 * signal aborts; the runner, not the checker, decides when that is.
 */
export interface Checker<T extends CheckType = CheckType> {
  type: T;
  prepare(
    config: Extract<CheckConfig, { type: T }>,
    target: CheckTarget,
    prepareOther: PrepareOther,
  ): PreparedCheck;
}

/** Node's error text with its code, short: "connect ECONNREFUSED 127.0.0.1:9". */
export function errorText(err: unknown): string {
  if (err instanceof AggregateError)
    return err.errors.map(errorText).join('; ') || 'connection failed';
  if (err instanceof Error) return err.message || (err as NodeJS.ErrnoException).code || err.name;
  return String(err);
}

const ABORTED = new Error('aborted');

/**
 * What a checker rejects with once its signal has aborted: the abort reason itself. The
 * runner has already settled the check by then, so no new Error (and stack) is made.
 */
export function abortError(signal: CheckSignal): unknown {
  return signal.reason ?? ABORTED;
}
