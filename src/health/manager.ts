/**
 * HealthManager: keeps one check per checked real server of the config, turns results
 * into up/down through the rise/fall state machine, tracks each service's quorum, and
 * tells the daemon what changed. It never touches the kernel: the daemon turns a
 * 'changes' event into one reconcile of desiredState(config, manager.snapshot()).
 *
 * What happens when a real fails (this file's half; src/daemon/daemon.ts has the rest):
 * - start() gave the real's check to the runner (runner.ts): the Scheduler, in process or,
 *   for socket checks with `workers` > 0, on a worker thread (worker-pool.ts). It runs the
 *   check every interval within its timeout and hands each CheckRun to onResult(), on this
 *   thread: the decision below is made here, whichever thread ran the check. (A worker
 *   keeps back only the repeats that cannot change the state, settled.ts, and sends their
 *   counts: a failure that follows a success always comes here.)
 * - onResult() feeds it to step() (state.ts): `fall` failures in a row make a RiseFallStep
 *   with a transition up -> down. The real's view is dropped (changed()), so the next
 *   snapshot() says { up: false }; adjustQuorum() follows the service's healthy weight.
 * - The Transition is logged and sent as a 'transition' event, and queue()d into the
 *   pending HealthChanges. Every result is counted for the metrics (tally.ts): those that
 *   come here into their real's tally, sent as a 'tally' at the end of the turn; the
 *   settled ones a worker kept back as its own 'tally' of counts.
 * - flush(), at the end of that turn of the event loop (or at batchSize changes), sends
 *   the batch as one 'changes' event: each change names its service.
 *
 * Reloads: update() finds each real by service name, then real id, and compares its check
 * field by field (sameCheck) and its target; a real whose check is unchanged keeps its
 * running check and its state, a changed check restarts alone (keeping the real's current
 * up/down as its starting point), removed ones stop. The cost is one pass over the config
 * with two map lookups per real: keepalived spent 100-130 s of a 37k-real reload moving
 * check state (acassen/keepalived#2318); bench/health-10k.ts measures ours.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { CheckConfig } from '../config/check.js';
import type { ResolvedConfig, ResolvedReal, ResolvedService } from '../config/resolved.js';
import { isFwmarkKey } from '../ipvs/model.js';
import { sameValue } from '../util/same-value.js';
import { reportsWeight, type CheckerRegistry } from './checkers/index.js';
import { quorumReason, sorryNeeded } from './quorum.js';
import { type CheckRunner, InProcessRunner } from './runner.js';
import { realTimers, type CheckRun, type Timers } from './attempt.js';
import { type CheckTally, CheckTallies, countResult } from './tally.js';
import { initialHealth, step, type RiseFallState } from './state.js';
import type { CheckTarget } from './types.js';
import { errorText } from './types.js';
import { CheckWorkerPool, type TcpPath } from './worker-pool.js';

export interface RealHealth {
  up: boolean;
  /** A weight the check reported (exec dynamic_weight); absent = the configured weight. */
  weight?: number;
}

/** What desiredState reads; a copy, unaffected by results that arrive later. */
export interface HealthSnapshot {
  /** undefined for a real lvsd does not check (always up with its configured weight). */
  real(service: string, realId: string): RealHealth | undefined;
  sorryActive(service: string): boolean;
}

export interface Transition {
  service: string;
  real: string;
  checker: CheckConfig['type'];
  from: 'up' | 'down';
  to: 'up' | 'down';
  reason: string;
  /** How long the check that decided took. */
  durationMs: number;
  /** How long the real had been in `from` (since lvsd started checking it, for the first transition). */
  sinceMs: number;
}

export interface WeightChange {
  service: string;
  real: string;
  from: number | undefined;
  to: number;
}

export interface QuorumChange {
  service: string;
  /** True when the sorry server goes in. */
  sorryActive: boolean;
  healthyWeight: number;
  reason: string;
}

/** One batch: what the daemon turns into one reconcile. */
export interface HealthChanges {
  transitions: Transition[];
  weights: WeightChange[];
  quorum: QuorumChange[];
}

export interface CheckResultEvent {
  service: string;
  real: string;
  type: CheckConfig['type'];
  ok: boolean;
  durationMs: number;
  timedOut: boolean;
  message: string;
}

/** One checked real as HealthManager.status() describes it (the daemon's /status shows `last`). */
export interface CheckStatus {
  service: string;
  real: string;
  checker: string;
  up: boolean;
  checked: boolean;
  streak: number;
  last: string;
  weight?: number;
}

export interface HealthEvents {
  transition: [Transition];
  changes: [HealthChanges];
  /** Each result that came here (sent only while something listens: the metrics use 'tally'). */
  result: [CheckResultEvent];
  /**
   * Counts of the results, for the metrics: of those that came here, at the end of the
   * turn; of those check workers did not send (settled.ts), about once a second.
   */
  tally: [CheckTally[]];
}

export interface HealthManagerOptions {
  logger: Logger;
  /** The checker of each check type (default CHECKERS, the real ones; tests pass scripted ones). */
  checkers?: CheckerRegistry;
  /** Checks running at once (default 1024; per worker with `workers`). */
  concurrency?: number;
  /**
   * Worker threads for the socket checks (tcp, http, https, smtp, udp, dns); 0 (default)
   * runs every check on this thread. Ignored with scripted `checkers`, which cannot cross
   * threads.
   */
  workers?: number;
  /** The check worker's module (default the built check-worker.js; tests run from source). */
  workerUrl?: URL;
  /** How the workers make tcp and http checks (default epoll; see worker-pool.ts). */
  tcpPath?: TcpPath;
  /** exec checks running at once (default 32). */
  execConcurrency?: number;
  /** The clock and timers of the checks and batches (default the real ones; tests pass manual ones). */
  timers?: Timers;
  /** Start-up jitter source, [0, 1) (default Math.random); () => 0 starts every check at once. */
  random?: () => number;
  /**
   * A batch is sent when it holds this many changes (default: no limit; each batch is one
   * pass, so 1000 reals failing in one turn are one read and one write, not ten passes)...
   */
  batchSize?: number;
  /**
   * ...or, by default (0), at the end of the turn of the event loop that made its first
   * change: every change decided in one turn (one poll of the sockets) goes together, and
   * goes at once. With a positive value, when no change has come for this long...
   */
  batchQuietMs?: number;
  /** ...or at the latest this long after its first change (default 100 ms; with batchQuietMs > 0 only). */
  batchDelayMs?: number;
}

export interface UpdateOptions {
  /**
   * The weight each real has in the kernel now (daemon start: read the table first), by
   * service name and real id; undefined = not in the kernel. A real the kernel already
   * serves with weight > 0 starts up pending its first result, so restarting lvsd never
   * takes healthy reals out; others follow their check's `initial` (alpha forces down).
   */
  liveWeights?: (service: string, realId: string) => number | undefined;
}

export interface HealthCounters {
  checks: number;
  failures: number;
  timeouts: number;
  transitions: number;
}

interface RealEntry {
  service: string;
  realId: string;
  config: CheckConfig;
  target: CheckTarget;
  /** The configured weight, for quorum sums. */
  configuredWeight: number;
  state: RiseFallState;
  weight: number | undefined;
  /** timers.now() of the last transition (or of the start of checking). */
  since: number;
  /** Where its results are counted for the metrics (shared by its service's checks of its type). */
  tally: CheckTally;
  /** False once stopped (removed, or replaced by a changed check). */
  live: boolean;
  stop: () => void;
}

interface ServiceEntry {
  name: string;
  quorum: ResolvedService['quorum'];
  /** Quorum changes matter to the table (and the logs) only with a sorry server or a quorum. */
  watched: boolean;
  hasSorry: boolean;
  sorryActive: boolean;
  /** Sum of the weights of the reals that are up (unchecked reals count as up). */
  healthyWeight: number;
  /** Checked reals by real id. */
  reals: Map<string, RealEntry>;
  /** The reals' health as snapshots show it, until one of them changes (then rebuilt). */
  view?: ReadonlyMap<string, RealHealth>;
}

/**
 * Whether two checks are the same check: every setting but on_failure (which only
 * desiredState reads), compared field by field. No text keys are built: a reload compares
 * 37k checks, and comparing values allocates nothing.
 */
export function sameCheck(a: CheckConfig, b: CheckConfig): boolean {
  if (a === b) return true;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  for (const key of keysA) {
    if (key === 'on_failure') continue;
    if (!sameValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]))
      return false;
  }
  return true;
}

function sameTarget(a: CheckTarget, b: CheckTarget): boolean {
  return (
    a.address === b.address &&
    a.port === b.port &&
    a.vip === b.vip &&
    a.vport === b.vport &&
    a.source === b.source &&
    a.realAddress === b.realAddress &&
    a.realPort === b.realPort
  );
}

function targetOf(service: ResolvedService, real: ResolvedReal, config: CheckConfig): CheckTarget {
  const fwmark = isFwmarkKey(service.service);
  return {
    service: service.name,
    realId: real.id,
    address: config.address ?? real.dest.address,
    port: config.port ?? real.dest.port,
    realAddress: real.dest.address,
    realPort: real.dest.port,
    vip: fwmark ? '' : (service.service as { address: string }).address,
    vport: fwmark ? 0 : (service.service as { port: number }).port,
    ...(config.source ? { source: config.source } : {}),
  };
}

function weightOf(entry: RealEntry): number {
  return entry.state.up ? (entry.weight ?? entry.configuredWeight) : 0;
}

/**
 * The reals of a service without checked reals (most services of a config without checks):
 * one shared map, never written (update() fills only the maps it creates), instead of an
 * empty Map per service and per reload.
 */
const NO_REALS: Map<string, RealEntry> = new Map();

function viewOf(service: ServiceEntry): ReadonlyMap<string, RealHealth> {
  const reals = new Map<string, RealHealth>();
  for (const [id, entry] of service.reals)
    reals.set(
      id,
      entry.weight === undefined
        ? { up: entry.state.up }
        : { up: entry.state.up, weight: entry.weight },
    );
  return reals;
}

export class HealthManager extends EventEmitter<HealthEvents> {
  private readonly logger: Logger;
  private readonly timers: Timers;
  private readonly runner: CheckRunner;
  private readonly batchSize: number;
  private readonly batchDelayMs: number;
  private readonly batchQuietMs: number;
  private services = new Map<string, ServiceEntry>();
  private checks = 0;
  /** Reals part-way to a change (RiseFallState.streak > 0). */
  private undecided = 0;
  /** The last snapshot, while nothing has changed since. */
  private cachedSnapshot: HealthSnapshot | undefined;
  private pending: HealthChanges = { transitions: [], weights: [], quorum: [] };
  private pendingCount = 0;
  private batchTimer: unknown;
  private quietTimer: unknown;
  private turnEnd: NodeJS.Immediate | undefined;
  private readonly tallies = new CheckTallies();
  private tallyDue: NodeJS.Immediate | undefined;
  private stopped = false;
  readonly counters: HealthCounters = { checks: 0, failures: 0, timeouts: 0, transitions: 0 };

  constructor(options: HealthManagerOptions) {
    super();
    this.logger = options.logger;
    this.timers = options.timers ?? realTimers;
    this.batchSize = options.batchSize ?? Number.POSITIVE_INFINITY;
    this.batchDelayMs = options.batchDelayMs ?? 100;
    this.batchQuietMs = Math.min(options.batchQuietMs ?? 0, this.batchDelayMs);
    this.runner = this.makeRunner(options);
  }

  private makeRunner(options: HealthManagerOptions): CheckRunner {
    const onError = (err: unknown) =>
      this.logger.error(
        { event: 'health.listener-error', error: errorText(err) },
        `a health event listener threw: ${errorText(err)}`,
      );
    const local = new InProcessRunner({
      timers: this.timers,
      onError,
      ...(options.checkers ? { checkers: options.checkers } : {}),
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      ...(options.execConcurrency ? { execConcurrency: options.execConcurrency } : {}),
      ...(options.random ? { random: options.random } : {}),
    });
    if (!options.workers || options.checkers) return local;
    return new CheckWorkerPool({
      workers: options.workers,
      local,
      timers: this.timers,
      onError,
      onTally: (tallies) => this.onTally(tallies),
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      ...(options.workerUrl ? { workerUrl: options.workerUrl } : {}),
      ...(options.tcpPath ? { tcpPath: options.tcpPath } : {}),
      onWorkerExit: (index, code, error, closedFds) =>
        this.logger.error(
          { event: 'health.worker-exit', worker: index, code, error: error?.message, closedFds },
          `check worker ${index} ended (code ${code}${error ? `: ${error.message}` : ''}); ` +
            'starting it again with its checks',
        ),
      onWorkerGivenUp: (index, checks) =>
        this.logger.error(
          { event: 'health.worker-given-up', worker: index, checks },
          `check worker ${index} keeps ending as it starts; its ${checks} checks run in the daemon's thread now`,
        ),
    });
  }

  /**
   * The reconciler first: until as many releaseChecks(), no check starts and results wait
   * (Scheduler.hold). The daemon holds while a pass is pending or running.
   */
  holdChecks(): void {
    this.runner.hold();
  }

  releaseChecks(): void {
    this.runner.release();
  }

  /** Number of checks running on their schedule. */
  get checkCount(): number {
    return this.checks;
  }

  /**
   * Reals part-way to a change: failed while up, or passed while down, fewer times in a row
   * than fall (rise) asks. Above 0, decisions are under way (the daemon's drift check waits).
   */
  get partWay(): number {
    return this.undecided;
  }

  /**
   * Follows a (re)loaded config: starts checks for new reals, stops those of removed ones,
   * restarts changed checks and keeps the rest untouched. Emits no 'changes': the caller
   * reconciles after a reload anyway. Returns counts for the reload log line.
   */
  update(
    config: ResolvedConfig,
    options: UpdateOptions = {},
  ): { kept: number; started: number; restarted: number; stopped: number } {
    if (this.stopped) throw new Error('HealthManager is stopped');
    const counts = { kept: 0, started: 0, restarted: 0, stopped: 0 };
    const next = new Map<string, ServiceEntry>();
    for (const service of config.services) {
      const old = this.services.get(service.name);
      const previous = old?.reals;
      let reals = NO_REALS;
      let healthyWeight = 0;
      for (const real of service.reals) {
        if (!real.check) {
          healthyWeight += real.dest.weight;
          continue;
        }
        if (reals === NO_REALS) reals = new Map();
        else if (reals.has(real.id)) continue;
        const before = previous?.get(real.id);
        const target = targetOf(service, real, real.check);
        let entry: RealEntry;
        if (before && sameCheck(before.config, real.check) && sameTarget(before.target, target)) {
          before.config = real.check;
          before.configuredWeight = real.dest.weight;
          previous!.delete(real.id);
          entry = before;
          counts.kept++;
        } else {
          if (before) {
            this.retire(before);
            previous!.delete(real.id);
            counts.restarted++;
          } else counts.started++;
          entry = this.start(service, real, real.check, target, before, options.liveWeights);
        }
        reals.set(real.id, entry);
        healthyWeight += weightOf(entry);
      }
      for (const gone of previous?.values() ?? []) {
        this.retire(gone);
        counts.stopped++;
      }
      this.services.delete(service.name);
      next.set(service.name, this.serviceEntry(service, old, reals, healthyWeight));
    }
    for (const gone of this.services.values()) {
      for (const entry of gone.reals.values()) {
        this.retire(entry);
        counts.stopped++;
      }
    }
    this.services = next;
    this.checks += counts.started - counts.stopped;
    this.cachedSnapshot = undefined;
    return counts;
  }

  private retire(entry: RealEntry): void {
    if (entry.live && entry.state.streak > 0) this.undecided--;
    entry.live = false;
    entry.stop();
    this.tallies.leave(entry.tally);
  }

  private start(
    service: ResolvedService,
    real: ResolvedReal,
    config: CheckConfig,
    target: CheckTarget,
    old: RealEntry | undefined,
    liveWeights: UpdateOptions['liveWeights'],
  ): RealEntry {
    const live = liveWeights?.(service.name, real.id);
    // A changed check carries the real's current state; a new real starts as the kernel
    // has it (weight > 0: up) or as configured.
    const up = old
      ? old.state.up
      : live !== undefined && live > 0
        ? true
        : !service.alpha && config.initial === 'up';
    const weight = reportsWeight(config)
      ? (old?.weight ?? (live !== undefined && live > 0 ? live : undefined))
      : undefined;
    const entry: RealEntry = {
      service: service.name,
      realId: real.id,
      config,
      target,
      configuredWeight: real.dest.weight,
      state: initialHealth(up),
      weight,
      since: this.timers.now(),
      tally: this.tallies.join(service.name, config.type),
      live: true,
      stop: () => undefined,
    };
    entry.stop = this.runner.add({
      config,
      target,
      intervalMs: config.interval,
      timeoutMs: Math.min(config.timeout, config.interval),
      onResult: (result) => this.onResult(entry, result),
      onInvalid: (message) => this.logInvalid(entry, message),
      // Part way to a change (a failure while up, a success while down): its next answer
      // may decide, so no pass puts it off (Scheduler.hold).
      urgent: () => entry.state.streak > 0,
    });
    return entry;
  }

  private serviceEntry(
    service: ResolvedService,
    old: ServiceEntry | undefined,
    reals: Map<string, RealEntry>,
    healthyWeight: number,
  ): ServiceEntry {
    const entry: ServiceEntry = {
      name: service.name,
      quorum: service.quorum,
      watched: service.sorry !== null || service.quorum !== null,
      hasSorry: service.sorry !== null,
      sorryActive: old?.sorryActive ?? false,
      healthyWeight,
      reals,
    };
    const active = sorryNeeded(entry.sorryActive, healthyWeight, service.quorum);
    if (active !== entry.sorryActive || !old) {
      entry.sorryActive = active;
      if ((active || old) && entry.watched) this.logQuorum(entry);
    }
    return entry;
  }

  private onResult(entry: RealEntry, result: CheckRun): void {
    if (this.stopped || !entry.live) return;
    this.counters.checks++;
    if (!result.ok) this.counters.failures++;
    if (result.timedOut) this.counters.timeouts++;
    const before = weightOf(entry);
    const { state, transition } = step(entry.state, result.ok, result.message, entry.config);
    if (!entry.state.checked && !state.up && !result.ok) this.logFirstFailure(entry, result);
    this.undecided += Number(state.streak > 0) - Number(entry.state.streak > 0);
    entry.state = state;
    // A success of a check that reports weights without one: the configured weight again.
    const reported = reportsWeight(entry.config) ? result.weight : (result.weight ?? entry.weight);
    if (result.ok && reported !== entry.weight) {
      const change: WeightChange = {
        service: entry.service,
        real: entry.realId,
        from: entry.weight,
        to: reported ?? entry.configuredWeight,
      };
      entry.weight = reported;
      this.changed(entry.service);
      if (state.up && !transition) {
        this.logger.info(
          { event: 'health.weight', ...change },
          `${entry.service} ${entry.realId} weight ${change.from ?? 'configured'} -> ${change.to}`,
        );
        this.queue('weights', change);
      }
    }
    if (transition) {
      this.changed(entry.service);
      const now = this.timers.now();
      const event: Transition = {
        service: entry.service,
        real: entry.realId,
        checker: entry.config.type,
        from: transition.from,
        to: transition.to,
        reason: transition.reason,
        durationMs: Math.round(result.durationMs),
        sinceMs: Math.round(now - entry.since),
      };
      entry.since = now;
      this.counters.transitions++;
      const log = { event: 'health.transition', ...event };
      const text = `${event.service} ${event.real} ${event.from} -> ${event.to}: ${event.reason}`;
      if (event.to === 'down') this.logger.warn(log, text);
      else this.logger.info(log, text);
      this.queue('transitions', event);
      this.send('transition', event);
    }
    const after = weightOf(entry);
    if (after !== before) this.adjustQuorum(entry.service, after - before);
    this.count(entry, result);
  }

  /** Counts the result for the metrics, sent with the others of this turn; and to 'result' listeners. */
  private count(entry: RealEntry, result: CheckRun): void {
    countResult(entry.tally, result);
    this.tallyDue ??= setImmediate(() => this.sendTallies());
    if (this.listenerCount('result') === 0) return;
    this.send('result', {
      service: entry.service,
      real: entry.realId,
      type: entry.config.type,
      ok: result.ok,
      durationMs: result.durationMs,
      timedOut: result.timedOut,
      message: result.message,
    });
  }

  /** The counts of this turn's results, for the metrics. */
  private sendTallies(): void {
    this.tallyDue = undefined;
    const tallies = this.tallies.take();
    if (tallies.length) this.send('tally', tallies);
  }

  /** Settled results: counted, and passed on for the metrics; no state changes (settled.ts says why). */
  private onTally(tallies: CheckTally[]): void {
    if (this.stopped) return;
    for (const tally of tallies) {
      this.counters.checks += tally.ok + tally.failed;
      this.counters.failures += tally.failed;
      this.counters.timeouts += tally.timedOut;
    }
    this.send('tally', tallies);
  }

  private logInvalid(entry: RealEntry, message: string): void {
    const event = {
      event: 'health.check-invalid',
      service: entry.service,
      real: entry.realId,
      checker: entry.config.type,
      error: message,
    };
    this.logger.error(event, message);
  }

  /** A real that starts down and fails its first check has no transition to log: this says why, once. */
  private logFirstFailure(entry: RealEntry, result: CheckRun): void {
    const event = {
      event: 'health.first-check',
      service: entry.service,
      real: entry.realId,
      checker: entry.config.type,
      reason: result.message,
    };
    this.logger.info(
      event,
      `${entry.service} ${entry.realId} stays down: first check failed: ${result.message}`,
    );
  }

  /** A real of this service changed up/down or weight: snapshots from now on rebuild its view. */
  private changed(service: string): void {
    this.cachedSnapshot = undefined;
    const entry = this.services.get(service);
    if (entry) entry.view = undefined;
  }

  /** Emits to listeners; one that throws is logged and does not disturb health or the others' events. */
  private send<K extends keyof HealthEvents>(event: K, ...args: HealthEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: HealthEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      this.logger.error(
        { event: 'health.listener-error', listener: event, error: errorText(err) },
        `a '${event}' listener threw: ${errorText(err)}`,
      );
    }
  }

  private adjustQuorum(name: string, delta: number): void {
    const service = this.services.get(name);
    if (!service) return;
    service.healthyWeight += delta;
    const active = sorryNeeded(service.sorryActive, service.healthyWeight, service.quorum);
    if (active === service.sorryActive) return;
    service.sorryActive = active;
    if (!service.watched) return;
    const change = this.logQuorum(service);
    if (service.hasSorry) this.queue('quorum', change);
  }

  private logQuorum(service: ServiceEntry): QuorumChange {
    const change: QuorumChange = {
      service: service.name,
      sorryActive: service.sorryActive,
      healthyWeight: service.healthyWeight,
      reason: quorumReason(service.sorryActive, service.healthyWeight, service.quorum),
    };
    const text = `${service.name} ${change.sorryActive ? 'quorum lost' : 'quorum back'}: ${change.reason}`;
    if (change.sorryActive) this.logger.warn({ event: 'health.quorum', ...change }, text);
    else this.logger.info({ event: 'health.quorum', ...change }, text);
    return change;
  }

  private queue<K extends keyof HealthChanges>(kind: K, change: HealthChanges[K][number]): void {
    (this.pending[kind] as HealthChanges[K][number][]).push(change);
    this.pendingCount++;
    if (this.pendingCount >= this.batchSize) return this.flush();
    if (this.batchQuietMs === 0) {
      this.turnEnd ??= setImmediate(() => this.flush());
      return;
    }
    if (this.batchTimer === undefined)
      this.batchTimer = this.timers.setTimeout(() => this.flush(), this.batchDelayMs);
    if (this.quietTimer !== undefined) this.timers.clearTimeout(this.quietTimer);
    this.quietTimer = this.timers.setTimeout(() => this.flush(), this.batchQuietMs);
  }

  private clearBatchTimers(): void {
    if (this.batchTimer !== undefined) this.timers.clearTimeout(this.batchTimer);
    if (this.quietTimer !== undefined) this.timers.clearTimeout(this.quietTimer);
    if (this.turnEnd !== undefined) clearImmediate(this.turnEnd);
    this.batchTimer = undefined;
    this.quietTimer = undefined;
    this.turnEnd = undefined;
  }

  /** Sends the pending batch now (also called by the batch timer). */
  flush(): void {
    this.clearBatchTimers();
    if (this.pendingCount === 0 || this.stopped) return;
    const batch = this.pending;
    this.pending = { transitions: [], weights: [], quorum: [] };
    this.pendingCount = 0;
    this.send('changes', batch);
  }

  snapshot(): HealthSnapshot {
    if (this.cachedSnapshot) return this.cachedSnapshot;
    // Only the services that changed since the last snapshot are copied again: a health
    // pass takes a snapshot, and copying all 10k reals for each was most of its cost.
    const services = new Map<string, ReadonlyMap<string, RealHealth>>();
    const sorry = new Set<string>();
    for (const service of this.services.values()) {
      if (service.sorryActive) sorry.add(service.name);
      // No checked real: real() answers undefined without a map for it.
      if (service.reals.size > 0) services.set(service.name, (service.view ??= viewOf(service)));
    }
    this.cachedSnapshot = {
      real: (service, realId) => services.get(service)?.get(realId),
      sorryActive: (service) => sorry.has(service),
    };
    return this.cachedSnapshot;
  }

  /** Per-real detail for status pages: state, streak, last message. */
  status(): CheckStatus[] {
    const out: CheckStatus[] = [];
    for (const service of this.services.values()) {
      for (const e of service.reals.values()) {
        out.push({
          service: e.service,
          real: e.realId,
          checker: e.config.type,
          up: e.state.up,
          checked: e.state.checked,
          streak: e.state.streak,
          last: e.state.last,
          ...(e.weight === undefined ? {} : { weight: e.weight }),
        });
      }
    }
    return out;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clearBatchTimers();
    if (this.tallyDue) clearImmediate(this.tallyDue);
    this.tallyDue = undefined;
    await this.runner.stop();
  }
}
