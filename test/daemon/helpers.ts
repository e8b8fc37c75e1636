/**
 * Test doubles for the daemon: a small YAML loader (the real one has its own tests; this
 * one only needs to turn a file or directory into a ResolvedConfig, or refuse it), a
 * scripted health source, a logger whose lines tests can read, and waitFor.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parse } from 'yaml';
import type { CheckConfig } from '../../src/config/check.js';
import type { ResolvedConfig, ResolvedService } from '../../src/config/resolved.js';
import type { HealthSnapshot } from '../../src/health/manager.js';
import {
  ForwardingIpvsClient,
  type IpvsOp,
  type IpvsOpResult,
  type ReadOptions,
} from '../../src/ipvs/client.js';
import type { IpvsTable, LiveDest, LiveService, ServiceKey } from '../../src/ipvs/model.js';
import { destId, serviceId } from '../../src/ipvs/model.js';
import type { LoadOutcome } from '../../src/daemon/ports.js';
import type { RealHealth } from '../../src/daemon/status.js';
import { createLogger, type Logger } from '../../src/util/log.js';
import { dest, tcpService } from '../reconcile/fixtures.js';
import { waitUntil } from '../lab/wait.js';

interface TestService {
  vip: string;
  scheduler?: string;
  reals: Record<string, number>;
  checked?: boolean;
}

interface TestFile {
  drift_interval_ms?: number;
  drain_timeout_ms?: number;
  error?: string;
  services?: Record<string, TestService>;
}

const tcpCheck: CheckConfig = {
  type: 'tcp',
  interval: 1000,
  timeout: 500,
  rise: 1,
  fall: 1,
  initial: 'down',
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
      const check = svc.checked ? tcpCheck : null;
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
    reconcile: { drainTimeoutMs, prune: 'managed', driftIntervalMs },
  };
  return { ok: true, config, warnings: [] };
}

/** A health source whose reals go up and down when the test says so. Checked reals start up. */
export class ScriptedHealth extends EventEmitter {
  readonly down = new Set<string>();
  updates: Array<{ config: ResolvedConfig; table?: IpvsTable }> = [];
  stopped = false;

  update(config: ResolvedConfig, options: { table?: IpvsTable }): void {
    this.updates.push({ config, ...(options.table ? { table: options.table } : {}) });
  }

  snapshot(): HealthSnapshot {
    const down = new Set(this.down);
    return {
      real: (service, real) => ({ up: !down.has(`${service} ${real}`) }),
      sorryActive: () => false,
    };
  }

  /**
   * A real changes state: a 'changes' batch naming its service, as the HealthManager sends
   * (`named: false`: a batch that names none).
   */
  setDown(service: string, real: string, isDown: boolean, options: { named?: boolean } = {}): void {
    if (isDown) this.down.add(`${service} ${real}`);
    else this.down.delete(`${service} ${real}`);
    const transitions =
      options.named === false
        ? []
        : [{ service, real, from: isDown ? 'up' : 'down', to: isDown ? 'down' : 'up' }];
    this.emit('changes', { transitions, weights: [], quorum: [] });
  }

  stop(): void {
    this.stopped = true;
  }
}

export const snapshotView =
  (snapshot: HealthSnapshot) =>
  (service: string, real: string): RealHealth | undefined => {
    const h = snapshot.real(service, real);
    return h ? { state: h.up ? 'up' : 'down' } : undefined;
  };

/** A logger writing JSON lines into an array. */
export function memoryLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n'))
        if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
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
