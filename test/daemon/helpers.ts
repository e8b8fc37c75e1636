/**
 * Test doubles for the daemon: a small YAML loader (the real one has its own tests; this
 * one only needs to turn a file or directory into a ResolvedConfig, or refuse it), the
 * real health manager with scripted checkers and a manual clock, a logger whose lines
 * tests can read, and waitFor.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { parse } from 'yaml';
import type { CheckConfig } from '../../src/config/check.js';
import type { ResolvedConfig, ResolvedService } from '../../src/config/resolved.js';
import type { LoadOutcome } from '../../src/daemon/config-loader.js';
import { CHECKERS, type CheckerRegistry } from '../../src/health/checkers/index.js';
import { HealthManager, type UpdateOptions } from '../../src/health/manager.js';
import type { Timers } from '../../src/health/attempt.js';
import type { CheckOutcome } from '../../src/health/types.js';
import {
  ForwardingIpvsClient,
  type IpvsOp,
  type IpvsOpResult,
  type ReadOptions,
} from '../../src/ipvs/client.js';
import type { IpvsTable, LiveDest, LiveService, ServiceKey } from '../../src/ipvs/model.js';
import { destId, serviceId } from '../../src/ipvs/model.js';
import { createLogger, type Logger } from '../../src/util/log.js';
import { dest, tcpService } from '../reconcile/fixtures.js';
import { waitUntil } from '../lab/wait.js';

interface TestService {
  vip: string;
  scheduler?: string;
  reals: Record<string, number>;
  checked?: boolean;
  /** Failures in a row that take a checked real down (default 1). */
  fall?: number;
}

interface TestFile {
  drift_interval_ms?: number;
  drain_timeout_ms?: number;
  error?: string;
  services?: Record<string, TestService>;
}

/** `checked: true` reals: one result decides (rise and fall 1); they start up. */
const tcpCheck: CheckConfig = {
  type: 'tcp',
  interval: 1000,
  timeout: 500,
  rise: 1,
  fall: 1,
  initial: 'up',
  on_failure: 'remove',
};

/** Reads a file, or every *.yaml of a directory, into a ResolvedConfig; `error:` or bad YAML refuses it. */
export async function testLoader(path: string): Promise<LoadOutcome> {
  const isDir = await stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
  const files = isDir
    ? (await readdir(path))
        .filter((f) => f.endsWith('.yaml'))
        .sort()
        .map((f) => join(path, f))
    : [path];
  const hash = createHash('sha256');
  const services: ResolvedService[] = [];
  let driftIntervalMs = 30_000;
  let drainTimeoutMs = 0;
  const errors: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      errors.push(`${file}: ${(err as Error).message}`);
      continue;
    }
    hash.update(file).update(text);
    let data: TestFile;
    try {
      data = (parse(text) ?? {}) as TestFile;
    } catch (err) {
      errors.push(`${file}:1:1: error: ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    if (data.error) errors.push(`${file}:1:1: error: ${data.error}`);
    driftIntervalMs = data.drift_interval_ms ?? driftIntervalMs;
    drainTimeoutMs = data.drain_timeout_ms ?? drainTimeoutMs;
    for (const [name, svc] of Object.entries(data.services ?? {})) {
      const [address, port] = svc.vip.split(':');
      const service = tcpService(address!, Number(port), { scheduler: svc.scheduler ?? 'wlc' });
      const check = svc.checked ? { ...tcpCheck, fall: svc.fall ?? 1 } : null;
      services.push({
        name,
        service,
        check,
        quorum: null,
        sorry: null,
        alpha: false,
        vip: null,
        source: { file, line: 1, column: 1 },
        reals: Object.entries(svc.reals).map(([hostPort, weight]) => {
          const [a, p] = hostPort.split(':');
          const d = dest(a!, Number(p), { weight });
          return { id: destId(d), dest: d, check, source: { file, line: 1, column: 1 } };
        }),
      });
    }
  }
  if (files.length === 0) errors.push(`${path}: no *.yaml files`);
  if (errors.length) return { ok: false, errors, warnings: [] };
  const config: ResolvedConfig = {
    files,
    hash: hash.digest('hex'),
    host: null,
    services,
    kernel: { sysctls: {} },
    vips: [],
    reconcile: {
      drainTimeoutMs,
      prune: 'managed',
      driftIntervalMs,
      maxRemoval: 0.5,
      allowMassRemoval: false,
    },
  };
  return { ok: true, config, warnings: [] };
}

/**
 * Timers for HealthManager that move only when told: `fireNext` moves the clock to the
 * next due callback and runs every callback due then, in order.
 */
export class ManualTimers implements Timers {
  private time = 0;
  private seq = 0;
  private queue: Array<{ at: number; seq: number; fn: () => void }> = [];

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const handle = { at: this.time + ms, seq: this.seq++, fn };
    this.queue.push(handle);
    return handle;
  }

  clearTimeout(handle: unknown): void {
    const at = this.queue.indexOf(handle as (typeof this.queue)[number]);
    if (at >= 0) this.queue.splice(at, 1);
  }

  /** Runs the callbacks of the next due time; false when none is pending. */
  fireNext(): boolean {
    if (this.queue.length === 0) return false;
    this.time = Math.max(this.time, Math.min(...this.queue.map((h) => h.at)));
    const due = this.queue
      .filter((h) => h.at <= this.time)
      .sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.queue = this.queue.filter((h) => h.at > this.time);
    for (const handle of due) handle.fn();
    return true;
  }
}

/** The real HealthManager, remembering what the daemon handed it. */
class RecordingManager extends HealthManager {
  readonly updates: Array<{ config: ResolvedConfig } & UpdateOptions> = [];
  stopCalled = false;

  override update(config: ResolvedConfig, options: UpdateOptions = {}) {
    this.updates.push({ config, ...options });
    return super.update(config, options);
  }

  override async stop(): Promise<void> {
    this.stopCalled = true;
    await super.stop();
  }
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Health for daemon tests: the real HealthManager (rise/fall, batches, snapshots) whose
 * checkers are scripted (every check type answers what the test set for that real: up
 * unless setDown said otherwise) and whose checks run on a manual clock, only when
 * setDown makes them. Checked reals of the test loader start up (`initial: up`).
 */
export class ScriptedHealth {
  readonly timers = new ManualTimers();
  /** What the daemon is given as its `health`. */
  readonly manager: RecordingManager;
  private readonly down = new Set<string>();
  /** Check runs per real ("service real"). */
  private readonly runs = new Map<string, number>();
  private unnamed = false;
  private last: Promise<void> = Promise.resolve();

  constructor(logger: pino.Logger = pino({ level: 'silent' })) {
    const outcome = (key: string): CheckOutcome => {
      this.runs.set(key, (this.runs.get(key) ?? 0) + 1);
      return this.down.has(key)
        ? { ok: false, message: 'scripted failure' }
        : { ok: true, message: 'scripted success' };
    };
    const scripted = Object.fromEntries(
      Object.keys(CHECKERS).map((type) => [
        type,
        {
          type,
          prepare: (_config: CheckConfig, target: { service: string; realId: string }) => {
            const key = `${target.service} ${target.realId}`;
            return async () => outcome(key);
          },
        },
      ]),
    ) as unknown as CheckerRegistry;
    this.manager = new RecordingManager({
      logger,
      checkers: scripted,
      timers: this.timers,
      random: () => 0,
    });
    // `named: false`: the manager names the service of every change, so the helper empties
    // the batch on its way to the daemon (the daemon's rule for a batch that names none).
    this.manager.prependListener('changes', (batch) => {
      if (!this.unnamed) return;
      batch.transitions.length = 0;
      batch.weights.length = 0;
      batch.quorum.length = 0;
    });
  }

  get updates() {
    return this.manager.updates;
  }

  get stopped(): boolean {
    return this.manager.stopCalled;
  }

  /**
   * Sets a real's outcome and runs its check: the clock moves to its next run (reals due at
   * the same time are checked too; their outcomes did not change), the manager decides
   * and sends its 'changes' batch. Resolves once that batch has gone out. Calls run one
   * after the other.
   */
  setDown(
    service: string,
    real: string,
    isDown: boolean,
    options: { named?: boolean } = {},
  ): Promise<void> {
    const key = `${service} ${real}`;
    this.last = this.last
      .catch(() => undefined)
      .then(async () => {
        if (isDown) this.down.add(key);
        else this.down.delete(key);
        this.unnamed = options.named === false;
        try {
          const before = this.runs.get(key) ?? 0;
          for (let rounds = 0; (this.runs.get(key) ?? 0) === before; rounds++) {
            // Stopped: no check runs any more.
            if (!this.timers.fireNext()) return;
            if (rounds > 10) throw new Error(`no check of ${key} runs`);
            await turn();
          }
          // The result lands, then the batch goes out at the end of that turn.
          await turn();
          await turn();
        } finally {
          this.unnamed = false;
        }
      });
    return this.last;
  }
}

/**
 * The top-level keys of one JSON object line, in order, duplicates included (JSON.parse
 * keeps the last of a duplicated key silently; strict consumers reject the line).
 */
export function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (depth === 1 && line[j + 1] === ':') keys.push(JSON.parse(line.slice(i, j + 1)) as string);
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

/** A logger writing JSON lines into an array; a line that holds a key twice fails the test. */
export function memoryLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) {
        if (!line.trim()) continue;
        const keys = topLevelKeys(line);
        const twice = keys.filter((k, i) => keys.indexOf(k) !== i);
        if (twice.length)
          return done(new Error(`log line holds ${twice.join(', ')} twice: ${line}`));
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', format: 'json', destination: stream }), lines };
}

/** Polls until `check` returns true (or a value), failing after `timeoutMs` with `what`. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
): Promise<NonNullable<T>> {
  return waitUntil(what, check, { timeoutMs, pollMs: 20 });
}

/**
 * An IpvsClient that logs every call it passes on, by method and the service concerned
 * ("listDests TCP 10.0.0.1:80").
 */
export class CallLog extends ForwardingIpvsClient {
  readonly calls: string[] = [];
  override readTable(options?: ReadOptions): Promise<IpvsTable> {
    this.calls.push('readTable');
    return super.readTable(options);
  }
  override listServices(options?: ReadOptions): Promise<LiveService[]> {
    this.calls.push('listServices');
    return super.listServices(options);
  }
  override getService(key: ServiceKey): Promise<LiveService | null> {
    this.calls.push(`getService ${serviceId(key)}`);
    return super.getService(key);
  }
  override listDests(key: ServiceKey, options?: ReadOptions): Promise<LiveDest[]> {
    this.calls.push(`listDests ${serviceId(key)}`);
    return super.listDests(key, options);
  }
  override readServices(keys: readonly ServiceKey[], options?: ReadOptions): Promise<IpvsTable> {
    this.calls.push(`readServices ${keys.map(serviceId).join(', ')}`);
    return super.readServices(keys, options);
  }
  override getTimeouts() {
    this.calls.push('getTimeouts');
    return super.getTimeouts();
  }
  override listDaemons() {
    this.calls.push('listDaemons');
    return super.listDaemons();
  }
  override execute(ops: readonly IpvsOp[]): Promise<IpvsOpResult[]> {
    this.calls.push(
      ...ops.map(
        (op) =>
          `execute ${op.op}${'service' in op && op.service ? ` ${serviceId(op.service)}` : ''}`,
      ),
    );
    return super.execute(ops);
  }
  /** The calls since the last take(). */
  take(): string[] {
    return this.calls.splice(0);
  }
}
