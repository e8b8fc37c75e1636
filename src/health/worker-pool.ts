/**
 * Socket checks on worker threads: each worker owns the sockets, timers and schedule of its
 * share of the checks (the same Scheduler and checkers as in process) and posts their
 * results in batches (result-batch.ts), one message per few milliseconds, except those that
 * cannot change a real's state, which it counts (settled.ts) and posts as counts once a
 * second. The main thread only turns results into decisions (HealthManager), so a busy
 * checker cannot delay a reconcile pass, and checks can use another core than the one
 * passes run on.
 *
 * tcp, http, https, smtp, udp and dns checks go to the workers: they are sockets and
 * nothing else. exec (a process each, its own small concurrency limit), file (a folder
 * watch), icmp (raw sockets with their own receive thread) and all (which may hold those)
 * stay in process: they are few where they are used, and moving them would gain nothing.
 *
 * While a hold is on (the daemon's pass pending or running), workers keep checking but keep
 * their results; results already on their way wait on the main thread; release() hands
 * them over in order of arrival. A worker that dies is started again and given its checks
 * anew, once the sockets it opened through libc are closed (they belong to the process, and
 * nothing else would close them: src/ffi/fd-ledger.ts): each check starts after a random
 * part of its interval, as at start, and the one result that was under way when the worker
 * died is the only one missing. A worker that keeps dying as soon as it starts (three times
 * in a row) is given up, and its checks run in process from then on: checks that silently
 * stop would leave dead reals in the kernel.
 */
import { Worker } from 'node:worker_threads';
import type { CheckConfig, CheckType } from '../config/check.js';
import { closeListed, FdLedger } from '../ffi/fd-ledger.js';
import { IDLE_MAX } from '../ffi/tcp-connect.js';
import { eachResult, type PostedResults } from './result-batch.js';
import type { CheckRunner, CheckSpec } from './runner.js';
import { Hold } from './scheduler.js';
import { realTimers, type Timers } from './attempt.js';
import type { CheckTally } from './tally.js';
import type { CheckTarget } from './types.js';

/** Check types a worker runs. */
const WORKER_TYPES: ReadonlySet<CheckType> = new Set([
  'tcp',
  'http',
  'https',
  'smtp',
  'udp',
  'dns',
]);

export function runsInWorker(config: CheckConfig): boolean {
  return WORKER_TYPES.has(config.type);
}

export type WorkerCommand =
  | {
      op: 'add';
      id: number;
      config: CheckConfig;
      target: CheckTarget;
      intervalMs: number;
      timeoutMs: number;
    }
  | { op: 'remove'; id: number }
  | { op: 'hold' }
  | { op: 'release' }
  | { op: 'stop' };

export type WorkerEvent =
  | { kind: 'results'; data: PostedResults }
  | { kind: 'tally'; tallies: CheckTally[] }
  | { kind: 'invalid'; id: number; message: string };

/**
 * How a worker makes its tcp and http checks: epoll (default: non-blocking sockets through
 * libc, checkers/tcp-epoll.ts and checkers/http-epoll.ts) or node (net.Socket,
 * checkers/tcp.ts and checkers/http.ts; for comparison, and a way back should the first
 * misbehave somewhere).
 */
export type TcpPath = 'epoll' | 'node';

export interface CheckWorkerPoolOptions {
  /** Worker threads (at least 1). */
  workers: number;
  /** Where the checks that stay in process run. */
  local: CheckRunner;
  /** Checks running at once in each worker (default 1024). */
  concurrency?: number;
  timers?: Timers;
  /** The longest a hold lasts (default 10 s, as Scheduler's). */
  maxHoldMs?: number;
  /** A result handler threw (default: rethrown outside, where it crashes loudly). */
  onError?: (err: unknown) => void;
  /**
   * The counts of the results the workers did not send (settled.ts: none could change a
   * real's state), about once a second; held with the results during a hold.
   */
  onTally?: (tallies: CheckTally[]) => void;
  /** A worker died (it is started again), leaving `closedFds` sockets the pool closed; for the log. */
  onWorkerExit?: (index: number, code: number, error: Error | undefined, closedFds: number) => void;
  /** A worker was given up (it kept dying at start); its `checks` run in process now. */
  onWorkerGivenUp?: (index: number, checks: number) => void;
  /** The worker's module (default check-worker.js beside this one). */
  workerUrl?: URL;
  /** How the workers make tcp and http checks (default epoll). */
  tcpPath?: TcpPath;
  /**
   * How often a worker posts its counts of settled results (default 1000 ms: they decide
   * nothing, and the metrics they feed are scraped every 15 s or so). A worker that dies
   * loses the counts of its last interval.
   */
  tallyMs?: number;
}

interface Remote {
  id: number;
  spec: CheckSpec;
  slot: Slot;
  /** Stops the check in process, once its worker was given up. */
  local?: () => void;
}

interface Slot {
  index: number;
  /** Started with the slot's first check: a config without socket checks costs no thread. */
  worker: Worker | undefined;
  startedAt: number;
  /** Deaths in a row soon after start: the second waits 500 ms, the third gives the worker up. */
  quickDeaths: number;
  checks: Map<number, Remote>;
  outbox: WorkerCommand[];
  /** Given up: its checks run in process, and no new check comes to it. */
  failed: boolean;
}

/**
 * Room in a worker's fd table beyond its concurrency: a tcp check holds one socket at a
 * time, the connector one epoll set and its idle sockets of both families.
 */
const FD_TABLE_SLACK = 64 + 2 * IDLE_MAX;
/** A worker that dies within this long of its start counts as a quick death. */
const QUICK_DEATH_MS = 5000;
/** Quick deaths in a row after which a worker is given up. */
const MAX_QUICK_DEATHS = 3;
/**
 * The worker's young generation: semi-spaces of 1 MiB, as the systemd unit's NODE_OPTIONS
 * gives the main thread, so that a daemon started without them keeps the worker's young
 * garbage small too (V8 flags given to the process override it). Its old generation keeps
 * V8's default limit: a 512 MiB limit held the worker near its live heap (about 28 MiB less
 * at 10,000 tcp checks) but cost CPU per check in more full collections, and CPU per check
 * comes first. bench/results/2026-12-06-memory.md.
 */
const WORKER_HEAP = { maxYoungGenerationSizeMb: 3 };

export class CheckWorkerPool implements CheckRunner {
  private readonly slots: Slot[] = [];
  private readonly remotes = new Map<number, Remote>();
  private readonly local: CheckRunner;
  private readonly timers: Timers;
  private readonly onError: (err: unknown) => void;
  private readonly workerUrl: URL;
  private nextId = 1;
  private readonly gate: Hold;
  /** Results and counts that came during a hold, in order of arrival. */
  private held: WorkerEvent[] = [];
  private flushQueued = false;
  private stopping = false;
  /** Workers started again after dying. */
  restarts = 0;
  /** Sockets that workers left open when they died, closed by the pool. */
  closedFds = 0;

  constructor(private readonly options: CheckWorkerPoolOptions) {
    if (!(options.workers >= 1))
      throw new Error(`workers: ${options.workers}, expected at least 1`);
    this.local = options.local;
    this.timers = options.timers ?? realTimers;
    this.gate = new Hold(this.timers, options.maxHoldMs ?? 10_000, () => this.resume());
    this.onError =
      options.onError ??
      ((err) =>
        setImmediate(() => {
          throw err;
        }));
    this.workerUrl = options.workerUrl ?? new URL('./check-worker.js', import.meta.url);
    for (let index = 0; index < options.workers; index++) {
      this.slots.push({
        index,
        worker: undefined,
        startedAt: 0,
        quickDeaths: 0,
        checks: new Map(),
        outbox: [],
        failed: false,
      });
    }
  }

  /** The worker threads started, in order (tests end one to see it replaced). */
  get threads(): readonly Worker[] {
    return this.slots.flatMap((slot) => (slot.worker ? [slot.worker] : []));
  }

  /** Checks on each worker. */
  get loads(): number[] {
    return this.slots.map((slot) => slot.checks.size);
  }

  add(spec: CheckSpec): () => void {
    let slot: Slot | undefined;
    for (const other of this.slots)
      if (!other.failed && (!slot || other.checks.size < slot.checks.size)) slot = other;
    if (!slot || !runsInWorker(spec.config)) return this.local.add(spec);
    const remote: Remote = { id: this.nextId++, spec, slot };
    slot.checks.set(remote.id, remote);
    this.remotes.set(remote.id, remote);
    this.send(slot, addCommand(remote));
    return () => this.remove(remote);
  }

  private remove(remote: Remote): void {
    if (this.remotes.get(remote.id) !== remote) return;
    this.remotes.delete(remote.id);
    remote.slot.checks.delete(remote.id);
    if (remote.local) return remote.local();
    this.send(remote.slot, { op: 'remove', id: remote.id });
  }

  hold(): void {
    this.local.hold();
    if (!this.gate.take()) return;
    for (const slot of this.slots) if (slot.worker && !slot.failed) this.send(slot, { op: 'hold' });
  }

  release(): void {
    this.local.release();
    this.gate.give();
  }

  private resume(): void {
    for (const slot of this.slots)
      if (slot.worker && !slot.failed) this.send(slot, { op: 'release' });
    const held = this.held;
    this.held = [];
    for (const event of held) this.deliver(event);
  }

  /** Commands go out once per microtask turn: a reload adding 10,000 checks is one message a worker. */
  private send(slot: Slot, command: WorkerCommand): void {
    if (!slot.worker && command.op === 'add') this.spawn(slot);
    slot.outbox.push(command);
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      for (const each of this.slots) {
        if (each.outbox.length === 0 || !each.worker || each.failed) continue;
        each.worker.postMessage(each.outbox);
        each.outbox = [];
      }
    });
  }

  private spawn(slot: Slot): void {
    const concurrency = this.options.concurrency ?? 1024;
    // A table per worker: the one a dead worker leaves is read while its successor starts.
    const fds = FdLedger.table(concurrency + FD_TABLE_SLACK);
    const worker = new Worker(this.workerUrl, {
      workerData: {
        concurrency,
        tcpPath: this.options.tcpPath ?? 'epoll',
        fds,
        tallyMs: this.options.tallyMs ?? 1000,
      },
      // The worker needs none of the parent's flags (--input-type, --eval would stop it).
      execArgv: [],
      resourceLimits: WORKER_HEAP,
    });
    slot.worker = worker;
    slot.startedAt = this.timers.now();
    worker.on('message', (event: WorkerEvent) => this.receive(event));
    if (this.gate.on) slot.outbox.push({ op: 'hold' });
    let error: Error | undefined;
    worker.on('error', (err: Error) => (error = err));
    // Its sockets are closed first, whatever the exit (a stop leaves none listed).
    worker.once('exit', (code) => this.exited(slot, worker, code, error, closeListed(fds)));
    // The workers alone must not keep the process alive.
    worker.unref();
  }

  private exited(
    slot: Slot,
    worker: Worker,
    code: number,
    error: Error | undefined,
    closedFds: number,
  ): void {
    this.closedFds += closedFds;
    if (this.stopping || slot.worker !== worker) return;
    this.options.onWorkerExit?.(slot.index, code, error, closedFds);
    slot.quickDeaths =
      this.timers.now() - slot.startedAt < QUICK_DEATH_MS ? slot.quickDeaths + 1 : 0;
    if (slot.quickDeaths >= MAX_QUICK_DEATHS) return this.giveUp(slot);
    const delay = slot.quickDeaths <= 1 ? 0 : 500;
    this.timers.setTimeout(() => this.restart(slot), delay);
  }

  private giveUp(slot: Slot): void {
    slot.failed = true;
    slot.outbox = [];
    for (const remote of slot.checks.values()) remote.local = this.local.add(remote.spec);
    this.options.onWorkerGivenUp?.(slot.index, slot.checks.size);
  }

  private restart(slot: Slot): void {
    if (this.stopping) return;
    this.restarts++;
    // Commands queued for the dead worker are replaced by the full list of its checks.
    slot.outbox = [];
    this.spawn(slot);
    for (const remote of slot.checks.values()) this.send(slot, addCommand(remote));
  }

  private receive(event: WorkerEvent): void {
    if (event.kind === 'invalid') {
      this.remotes.get(event.id)?.spec.onInvalid(event.message);
      return;
    }
    if (this.gate.on) this.held.push(event);
    else this.deliver(event);
  }

  private deliver(event: WorkerEvent): void {
    if (event.kind === 'tally') return void this.options.onTally?.(event.tallies);
    if (event.kind !== 'results') return;
    eachResult(event.data, (id, result) => {
      // A check removed since (a reload) has no more say.
      const remote = this.remotes.get(id);
      if (!remote) return;
      try {
        remote.spec.onResult(result);
      } catch (err) {
        this.onError(err);
      }
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.gate.clear();
    this.held = [];
    this.remotes.clear();
    const exits = this.threads.map(stopWorker);
    await Promise.all([...exits, this.local.stop()]);
  }
}

function addCommand(remote: Remote): WorkerCommand {
  const { config, target, intervalMs, timeoutMs } = remote.spec;
  return { op: 'add', id: remote.id, config, target, intervalMs, timeoutMs };
}

/** Asks the worker to stop its checks and end; ends it outright if it has not within 2 s. */
function stopWorker(worker: Worker): Promise<void> {
  if (worker.threadId === -1) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => void worker.terminate(), 2000);
    worker.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    // Held until it has stopped.
    worker.ref();
    worker.postMessage([{ op: 'stop' }]);
  });
}
