/**
 * A check worker that dies leaves no descriptor behind: its tcp checks open their sockets
 * through libc (src/ffi/tcp-connect.ts), which nothing but the pool closes once the thread
 * is gone (src/ffi/fd-ledger.ts). The connects stay in flight: the listener, in a process
 * of its own, never accepts, and its accept queue is full, so the kernel drops their SYNs.
 * The process's descriptor count (/proc/self/fd) with one worker and its connects in flight
 * is the baseline; after each death (an uncaught exception, terminate()) and restart, the
 * new worker with its connects in flight must come back to it.
 *
 * Runs the built worker (dist/health/check-worker.js): `npm run build` first.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessRunner } from '../../src/health/runner.js';
import { CheckWorkerPool } from '../../src/health/worker-pool.js';
import { check } from './fixtures.js';
import { waitFor } from './helpers.js';
import { target } from './servers.js';

const WORKER_URL = new URL('../../dist/health/check-worker.js', import.meta.url);
const built = existsSync(WORKER_URL);
if (!built) console.warn('skipping the check worker descriptor cases: no build (npm run build)');

const CHECKS = 12;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fdCount = () => readdirSync('/proc/self/fd').length;

/** The descriptor count once it held still for half a second. */
async function settledFdCount(): Promise<number> {
  let last = -1;
  let same = 0;
  const end = Date.now() + 10_000;
  while (same < 5) {
    if (Date.now() > end) throw new Error(`the descriptor count did not settle (last ${last})`);
    await sleep(100);
    const now = fdCount();
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return last;
}

/** A listener (backlog 1) whose process blocks right after listen(): it never accepts. */
function deafListener(): Promise<{ child: ChildProcess; port: number }> {
  const code = `const s = require('node:net').createServer();
s.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
  process.stdout.write(s.address().port + '\\n');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
});`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.stdout?.once('data', (line: Buffer) => resolve({ child, port: Number(String(line)) }));
  });
}

/** Connects until one hangs: the accept queue is full then, and every later SYN is dropped. */
async function fillAcceptQueue(port: number): Promise<net.Socket[]> {
  const queued: net.Socket[] = [];
  for (let i = 0; i < 8; i++) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    const connected = await Promise.race([
      new Promise<boolean>((resolve) => socket.once('connect', () => resolve(true))),
      sleep(500).then(() => false),
    ]);
    if (!connected) {
      socket.destroy();
      return queued;
    }
    queued.push(socket);
  }
  throw new Error('the listener kept accepting');
}

describe.skipIf(!built)('a check worker that dies', () => {
  let listener: { child: ChildProcess; port: number };
  let queued: net.Socket[] = [];
  let pool: CheckWorkerPool | undefined;

  beforeAll(async () => {
    listener = await deafListener();
    queued = await fillAcceptQueue(listener.port);
  });

  afterAll(async () => {
    await pool?.stop();
    for (const socket of queued) socket.destroy();
    listener?.child.kill('SIGKILL');
  });

  it('has its sockets closed by the pool before it is started again', async () => {
    const before = fdCount();
    const exits: number[] = [];
    // No connect may end while the test runs: each one stays in flight until the worker dies.
    const ended: string[] = [];
    pool = new CheckWorkerPool({
      workers: 1,
      local: new InProcessRunner(),
      workerUrl: WORKER_URL,
      onWorkerExit: (_index, _code, _error, closed) => exits.push(closed),
    });
    for (let i = 0; i < CHECKS; i++)
      pool.add({
        config: check({ type: 'tcp' }),
        target: target(listener.port),
        intervalMs: 1000,
        timeoutMs: 30_000,
        onResult: (result) => void ended.push(result.message),
        onInvalid: (message) => void ended.push(message),
      });
    const baseline = await settledFdCount();
    // The checks' sockets and the epoll set, besides the thread's own descriptors.
    expect(baseline).toBeGreaterThanOrEqual(before + CHECKS + 1);

    // An uncaught exception: the worker's message handler cannot iterate a null.
    const p = pool;
    p.threads[0]?.postMessage(null);
    await waitFor(() => p.restarts === 1, 'the restart after an uncaught exception');
    expect(exits).toEqual([CHECKS + 1]);
    expect(await settledFdCount()).toBe(baseline);

    await p.threads[0]?.terminate();
    await waitFor(() => p.restarts === 2, 'the restart after terminate()');
    expect(exits).toEqual([CHECKS + 1, CHECKS + 1]);
    expect(await settledFdCount()).toBe(baseline);
    expect(p.closedFds).toBe(2 * (CHECKS + 1));
    expect(ended).toEqual([]);

    // A stop leaves none: the worker closes its own, and the table is empty.
    await p.stop();
    pool = undefined;
    expect(p.closedFds).toBe(2 * (CHECKS + 1));
    expect(await settledFdCount()).toBe(before);
  });
});
