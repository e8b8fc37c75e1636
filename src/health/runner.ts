/**
 * Where checks run. The HealthManager decides (rise/fall, quorum, batches) on the main
 * thread; a CheckRunner runs each check on its schedule and hands every result back to it.
 * Two runners: InProcessRunner (the Scheduler on the daemon's own event loop) and
 * CheckWorkerPool (worker-pool.ts: socket checks on worker threads, the rest in process).
 */
import type { CheckConfig } from '../config/check.js';
import { CHECKERS, type CheckerRegistry, poolOf, prepareCheck } from './checkers/index.js';
import { Scheduler, type SchedulerOptions } from './scheduler.js';
import type { CheckRun } from './attempt.js';
import type { CheckOutcome, CheckTarget, PreparedCheck } from './types.js';
import { errorText } from './types.js';

/** One check to run: what, how often, within what time, and where its results go. */
export interface CheckSpec {
  config: CheckConfig;
  target: CheckTarget;
  intervalMs: number;
  timeoutMs: number;
  onResult(result: CheckRun): void;
  /** The check could not be prepared: it then fails at each run with this message. */
  onInvalid(message: string): void;
  /** Starts on time even while held (Scheduler: a real part way to a change); absent: never. */
  urgent?: () => boolean;
}

export interface CheckRunner {
  /** Starts a check on its schedule; returns its stop function. */
  add(spec: CheckSpec): () => void;
  /** The reconciler first: until as many release() calls, results wait (see Scheduler.hold). */
  hold(): void;
  release(): void;
  /** Stops every check; resolves when none is running any more. */
  stop(): Promise<void>;
}

/**
 * The check `config` asks for, or, when its checker cannot prepare it (an unreadable
 * certificate), a check that fails with the reason: a bad check is a failing check, reported
 * once through `onInvalid`, never a crash.
 */
export function preparedOrFailing(
  config: CheckConfig,
  target: CheckTarget,
  checkers: CheckerRegistry,
  onInvalid: (message: string) => void,
): PreparedCheck {
  try {
    return prepareCheck(config, target, checkers);
  } catch (err) {
    const message = `cannot prepare the check: ${errorText(err)}`;
    onInvalid(message);
    const failed: CheckOutcome = { ok: false, message };
    return async () => failed;
  }
}

export interface InProcessRunnerOptions extends SchedulerOptions {
  /** The checker of each type (default CHECKERS; tests pass scripted ones). */
  checkers?: CheckerRegistry;
}

/** Checks on the calling thread's event loop, run by one Scheduler. */
export class InProcessRunner implements CheckRunner {
  private readonly scheduler: Scheduler;
  private readonly checkers: CheckerRegistry;

  constructor(options: InProcessRunnerOptions = {}) {
    const { checkers, ...scheduler } = options;
    this.checkers = checkers ?? CHECKERS;
    this.scheduler = new Scheduler(scheduler);
  }

  add(spec: CheckSpec): () => void {
    return this.scheduler.add({
      intervalMs: spec.intervalMs,
      timeoutMs: spec.timeoutMs,
      pool: poolOf(spec.config),
      run: preparedOrFailing(spec.config, spec.target, this.checkers, (m) => spec.onInvalid(m)),
      onResult: (result) => spec.onResult(result),
      ...(spec.urgent ? { urgent: spec.urgent } : {}),
    });
  }

  hold(): void {
    this.scheduler.hold();
  }

  release(): void {
    this.scheduler.release();
  }

  stop(): Promise<void> {
    return this.scheduler.stop();
  }
}
