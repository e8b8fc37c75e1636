/**
 * The contract of a check runner, run against both: the Scheduler in process and the pool
 * of check workers (socket checks on worker threads). Real TCP and HTTP checks against
 * listeners on loopback; each listener counts the connections it accepts, so a result
 * lost or counted twice shows as a difference between what the checks reported and what
 * the servers saw.
 *
 * A worker sends only the results that may decide and counts the others (settled.ts), so
 * a probe's count is its results plus the counts of its service (each probe has its own).
 *
 * The pool's workers make their tcp checks through epoll (the default) or, in a third
 * run, through Node's net.Socket. They run the built worker (dist/health/check-worker.js):
 * `npm run build` first, as the test scripts do.
 */
import { existsSync } from 'node:fs';
import net from 'node:net';
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { CheckConfig } from '../../src/config/check.js';
import { HealthManager, type Transition } from '../../src/health/manager.js';
import { type CheckRunner, InProcessRunner } from '../../src/health/runner.js';
import type { CheckRun } from '../../src/health/attempt.js';
import type { CheckTally } from '../../src/health/tally.js';
import { CheckWorkerPool } from '../../src/health/worker-pool.js';
import { check, config, memoryLogger, real, service } from './fixtures.js';
import { liveConnections } from './helpers.js';
import { target } from './servers.js';

const WORKER_URL = new URL('../../dist/health/check-worker.js', import.meta.url);
const built = existsSync(WORKER_URL);
if (!built) console.warn('skipping the check worker cases: no build (npm run build)');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(
  what: string,
  ok: () => boolean,
  ms = 5000,
  detail?: () => string,
): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what}${detail ? `: ${detail()}` : ''}`);
    await sleep(10);
  }
}

interface Listener {
  port: number;
  accepted: number;
  open: Set<net.Socket>;
  server: net.Server;
}

const listeners: Listener[] = [];

/** A loopback listener that counts connections; `silent` keeps them open and never answers. */
async function listen(silent = false): Promise<Listener> {
  const server = net.createServer();
  const listener: Listener = { port: 0, accepted: 0, open: new Set(), server };
  server.on('connection', (socket) => {
    listener.accepted++;
    socket.on('error', () => undefined);
    if (!silent) return socket.destroy();
    listener.open.add(socket);
    socket.once('close', () => listener.open.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  listener.port = (server.address() as net.AddressInfo).port;
  listeners.push(listener);
  return listener;
}

async function closedPort(): Promise<number> {
  const listener = await listen();
  await close(listener);
  return listener.port;
}

function close(listener: Listener): Promise<void> {
  for (const socket of listener.open) socket.destroy();
  return new Promise((resolve) => listener.server.close(() => resolve()));
}

afterEach(async () => {
  await Promise.all(listeners.splice(0).map((l) => (l.server.listening ? close(l) : undefined)));
});

interface Probe {
  service: string;
  results: CheckRun[];
  invalid: string[];
  stop: () => void;
}

/** Settled results the workers counted, by service (each probe checks a service of its own). */
const tallied = new Map<string, number>();
const countTallies = (tallies: CheckTally[]) => {
  for (const t of tallies) tallied.set(t.service, (tallied.get(t.service) ?? 0) + t.ok + t.failed);
};
/** How often the pools' workers post their counts here (quick, so a test need not wait). */
const TALLY_MS = 50;
let probes = 0;

/** The runs a probe's check made that reached the main thread: results and counts. */
const runs = (p: Probe) => p.results.length + (tallied.get(p.service) ?? 0);

function probe(
  runner: CheckRunner,
  cfg: CheckConfig,
  port: number,
  intervalMs = 100,
  timeoutMs = 1000,
): Probe {
  const results: CheckRun[] = [];
  const invalid: string[] = [];
  const service = `probe-${++probes}`;
  const stop = runner.add({
    config: cfg,
    target: target(port, { service }),
    intervalMs,
    timeoutMs,
    onResult: (result) => results.push(result),
    onInvalid: (message) => invalid.push(message),
  });
  return { service, results, invalid, stop };
}

const runners: Array<[string, () => CheckRunner]> = [
  ['in process', () => new InProcessRunner()],
  ...(built
    ? ([
        [
          'on worker threads',
          () =>
            new CheckWorkerPool({
              workers: 1,
              local: new InProcessRunner(),
              workerUrl: WORKER_URL,
              onTally: countTallies,
              tallyMs: TALLY_MS,
            }),
        ],
        [
          "on worker threads, tcp through Node's net.Socket",
          () =>
            new CheckWorkerPool({
              workers: 1,
              local: new InProcessRunner(),
              workerUrl: WORKER_URL,
              tcpPath: 'node',
              onTally: countTallies,
              tallyMs: TALLY_MS,
            }),
        ],
      ] as Array<[string, () => CheckRunner]>)
    : []),
];

describe.each(runners)('check runner contract: %s', (_name, make) => {
  let runner: CheckRunner | undefined;
  afterEach(async () => {
    await runner?.stop();
    runner = undefined;
  });

  it('delivers results: up where something listens, refused where nothing does', async () => {
    runner = make();
    const up = probe(runner, check({ type: 'tcp' }), (await listen()).port);
    const down = probe(runner, check({ type: 'tcp' }), await closedPort());
    await waitFor('three results each', () => up.results.length >= 3 && down.results.length >= 3);
    expect(up.results.every((r) => r.ok && r.message === 'connected' && !r.timedOut)).toBe(true);
    expect(down.results.every((r) => !r.ok && /ECONNREFUSED/.test(r.message))).toBe(true);
    expect(up.invalid).toEqual([]);
  });

  it('fails a check at its timeout, and closes its socket', async () => {
    runner = make();
    const silent = await listen(true);
    const slow = probe(runner, check({ type: 'http' }), silent.port, 400, 150);
    await waitFor('two results', () => slow.results.length >= 2);
    for (const result of slow.results) {
      expect(result).toMatchObject({ ok: false, timedOut: true, message: 'timed out after 150ms' });
      expect(result.durationMs).toBeGreaterThanOrEqual(140);
      expect(result.durationMs).toBeLessThan(1000);
    }
    await waitFor('the timed-out connections closed', () => silent.open.size <= 1);
  });

  it('holds results while held, then hands each over once: none lost, none counted twice', async () => {
    runner = make();
    const servers = await Promise.all([1, 2, 3, 4, 5].map(() => listen()));
    const probes = servers.map((s) => probe(runner as CheckRunner, check({ type: 'tcp' }), s.port));
    // Past max(rise, fall) = 3 results, a steady check's runs are counted, not sent.
    await waitFor('settled runs of every check', () => probes.every((p) => runs(p) >= 5));
    runner.hold();
    const atHold = probes.map(runs);
    await sleep(350);
    expect(probes.map(runs)).toEqual(atHold);
    runner.release();
    await waitFor('runs after the hold', () =>
      probes.every((p, i) => runs(p) > (atHold[i] as number)),
    );
    await sleep(200);
    await runner.stop();
    // What was accepted before the stop is counted by now.
    await sleep(200);
    servers.forEach((server, i) => {
      const reported = runs(probes[i] as Probe);
      // One run may have been under way at the stop: accepted, never reported.
      expect(server.accepted - reported).toBeGreaterThanOrEqual(0);
      expect(server.accepted - reported).toBeLessThanOrEqual(1);
    });
  });

  it('stops a removed check at once: no result after its stop function', async () => {
    runner = make();
    const server = await listen();
    const removed = probe(runner, check({ type: 'tcp' }), server.port, 50);
    const kept = probe(runner, check({ type: 'tcp' }), server.port, 50);
    await waitFor('results', () => removed.results.length >= 2);
    removed.stop();
    const atStop = removed.results.length;
    const keptAtStop = runs(kept);
    await sleep(300);
    expect(removed.results.length).toBe(atStop);
    expect(runs(kept)).toBeGreaterThan(keptAtStop);
  });

  it('reports a check it cannot prepare once, and fails it at each run', async () => {
    runner = make();
    const bad = probe(
      runner,
      check({ type: 'https', ca: '/nonexistent/ca.pem' }),
      (await listen()).port,
      50,
    );
    await waitFor('two failures', () => bad.results.length >= 2);
    expect(bad.invalid).toHaveLength(1);
    expect(bad.invalid[0]).toMatch(/^cannot prepare the check: .*nonexistent/);
    expect(bad.results.every((r) => !r.ok && r.message === bad.invalid[0])).toBe(true);
  });
});

describe.skipIf(!built)('check worker pool', () => {
  let pool: CheckWorkerPool | undefined;
  afterEach(async () => {
    await pool?.stop();
    pool = undefined;
  });

  const make = (workers: number, exits: number[] = []) =>
    new CheckWorkerPool({
      workers,
      local: new InProcessRunner(),
      workerUrl: WORKER_URL,
      onWorkerExit: (index) => exits.push(index),
      onTally: countTallies,
      tallyMs: TALLY_MS,
    });

  it('spreads the checks over the workers and keeps exec checks in process', async () => {
    pool = make(2);
    const server = await listen();
    probe(pool, check({ type: 'exec', command: ['true'] }), server.port);
    // No socket check yet, no thread.
    expect(pool.threads).toHaveLength(0);
    for (let i = 0; i < 6; i++) probe(pool, check({ type: 'tcp' }), server.port);
    expect(pool.loads).toEqual([3, 3]);
    expect(pool.threads).toHaveLength(2);
  });

  it('gives each worker semi-spaces of 1 MiB, whatever the process was started with', async () => {
    pool = make(1);
    const server = await listen();
    const probed = probe(pool, check({ type: 'tcp' }), server.port);
    await waitFor('a result', () => probed.results.length >= 1);
    // Read from the running thread: a young generation of 3 MiB is two 1 MiB semi-spaces and
    // their large-object space (2026-12-06-memory.md).
    const limits = (pool.threads[0] as Worker).resourceLimits;
    expect(limits?.maxYoungGenerationSizeMb).toBe(3);
  });

  it('starts a dead worker again and reschedules its checks; the others never stop', async () => {
    const exits: number[] = [];
    pool = make(2, exits);
    const servers = await Promise.all([1, 2, 3, 4].map(() => listen()));
    const probes = servers.map((s) =>
      probe(pool as CheckWorkerPool, check({ type: 'tcp' }), s.port),
    );
    await waitFor('settled runs of every check', () => probes.every((p) => runs(p) >= 5));
    const dead = pool.threads[0] as Worker;
    await dead.terminate();
    await waitFor('the worker started again', () => pool?.restarts === 1);
    expect(exits).toEqual([0]);
    expect(pool.threads[0]).not.toBe(dead);
    const atRestart = probes.map(runs);
    await waitFor('runs of every check again', () =>
      probes.every((p, i) => runs(p) >= (atRestart[i] as number) + 5),
    );
    expect(pool.loads).toEqual([2, 2]);
    await pool.stop();
    await sleep(200);
    servers.forEach((server, i) => {
      const lost = server.accepted - runs(probes[i] as Probe);
      // At most the run under way when the worker died, the settled run it had counted and
      // not posted yet (one interval of 100 ms against counts posted every 50 ms), and the
      // one under way at the stop.
      expect(lost).toBeGreaterThanOrEqual(0);
      expect(lost).toBeLessThanOrEqual(3);
    });
  });

  it('runs the checks in process once a worker keeps dying as it starts', async () => {
    const exits: number[] = [];
    const givenUp: Array<[number, number]> = [];
    pool = new CheckWorkerPool({
      workers: 1,
      local: new InProcessRunner(),
      workerUrl: new URL('./no-such-worker.js', WORKER_URL),
      onWorkerExit: (index) => exits.push(index),
      onWorkerGivenUp: (index, checks) => givenUp.push([index, checks]),
    });
    const server = await listen();
    const probes = [1, 2].map(() =>
      probe(pool as CheckWorkerPool, check({ type: 'tcp' }), server.port),
    );
    await waitFor('results from every check', () => probes.every((p) => p.results.length >= 2));
    expect(exits).toEqual([0, 0, 0]);
    expect(givenUp).toEqual([[0, 2]]);
    expect(probes.every((p) => p.results.every((r) => r.ok))).toBe(true);
    // New checks run in process too, and a removed one stops.
    const late = probe(pool, check({ type: 'tcp' }), server.port);
    await waitFor('results from the new check', () => late.results.length >= 1);
    (probes[0] as Probe).stop();
    const atStop = (probes[0] as Probe).results.length;
    await sleep(300);
    expect((probes[0] as Probe).results.length).toBe(atStop);
  });

  it('leaves no worker and no socket after stop', async () => {
    pool = make(3);
    const silent = await listen(true);
    for (let i = 0; i < 3; i++) probe(pool, check({ type: 'http' }), silent.port, 1000, 1000);
    await waitFor('three checks under way', () => silent.open.size === 3);
    const threads = [...pool.threads];
    const exited = threads.map((t) => new Promise((resolve) => t.once('exit', resolve)));
    await pool.stop();
    await Promise.all(exited);
    expect(threads.every((t) => t.threadId === -1)).toBe(true);
    // Counted in the kernel: the listener's own sockets may miss a reset (see liveConnections).
    await waitFor(
      'the check connections closed',
      () => liveConnections(silent.port) === 0,
      10_000,
      () => `${liveConnections(silent.port)} open of ${silent.accepted}`,
    );
    expect(pool.restarts).toBe(0);
  });

  it('lets the HealthManager decide on the main thread from the workers results', async () => {
    const server = await listen();
    const { logger } = memoryLogger();
    const manager = new HealthManager({
      logger,
      workers: 1,
      workerUrl: WORKER_URL,
      random: () => 0,
    });
    const tcp = check({ type: 'tcp', interval: '100ms', timeout: '90ms', rise: 1, fall: 1 });
    const transitions: Transition[] = [];
    manager.on('transition', (t) => transitions.push(t));
    try {
      manager.update(
        config([service('web', '10.0.0.1', 80, [real('127.0.0.1', server.port, tcp)])]),
      );
      await waitFor(
        'up',
        () => manager.snapshot().real('web', `127.0.0.1:${server.port}`)?.up === true,
      );
      await close(server);
      await waitFor('a transition to down', () => transitions.some((t) => t.to === 'down'));
      expect(transitions.at(-1)).toMatchObject({
        service: 'web',
        from: 'up',
        to: 'down',
        checker: 'tcp',
      });
      expect(manager.snapshot().real('web', `127.0.0.1:${server.port}`)).toEqual({ up: false });
    } finally {
      await manager.stop();
    }
  });
});
