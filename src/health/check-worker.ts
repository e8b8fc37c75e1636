/**
 * A check worker (see worker-pool.ts): runs the socket checks the main thread gives it on
 * its own Scheduler and posts their results, one message for those of the next 5 ms, or
 * none while the main thread holds them (a pass is pending or running there). Settled
 * results (settled.ts: a repeat that cannot change the real's state) are counted instead,
 * and their counts posted once a second.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { CheckType } from '../config/check.js';
import { keepFdsIn } from '../ffi/fd-ledger.js';
import { closeTcpConnector } from '../ffi/tcp-connect.js';
import type { Checker } from './types.js';
import type { CheckerRegistry } from './checkers/index.js';
import { dnsChecker } from './checkers/dns.js';
import { httpChecker, httpsChecker } from './checkers/http.js';
import { httpEpollChecker } from './checkers/http-epoll.js';
import { smtpChecker } from './checkers/smtp.js';
import { tcpChecker } from './checkers/tcp.js';
import { tcpEpollChecker } from './checkers/tcp-epoll.js';
import { udpChecker } from './checkers/udp.js';
import { preparedOrFailing } from './runner.js';
import { ResultBatch } from './result-batch.js';
import { Scheduler } from './scheduler.js';
import type { CheckRun } from './attempt.js';
import { SettledResults } from './settled.js';
import type { TcpPath, WorkerCommand, WorkerEvent } from './worker-pool.js';

/** The main thread keeps the other types (runsInWorker); this says so if one came anyway. */
function elsewhere<T extends CheckType>(type: T): Checker<T> {
  return {
    type,
    prepare() {
      throw new Error(`${type} checks run in the main thread`);
    },
  };
}

/**
 * How long a result waits for others to share its message: a message costs both threads
 * about as much as a few dozen results in it, and a decision can wait this long.
 */
const BATCH_WINDOW_MS = 5;

const options = workerData as {
  concurrency: number;
  tcpPath: TcpPath;
  fds: SharedArrayBuffer;
  tallyMs: number;
};
// The sockets opened through libc are listed where the pool closes them should this thread die.
keepFdsIn(options.fds);

const WORKER_CHECKERS: CheckerRegistry = {
  tcp: options.tcpPath === 'node' ? tcpChecker : tcpEpollChecker,
  http: options.tcpPath === 'node' ? httpChecker : httpEpollChecker,
  https: httpsChecker,
  udp: udpChecker,
  dns: dnsChecker,
  smtp: smtpChecker,
  exec: elsewhere('exec'),
  icmp: elsewhere('icmp'),
  file: elsewhere('file'),
  all: elsewhere('all'),
};

const port = parentPort;
if (!port) throw new Error('check-worker.js runs as a worker thread');

const scheduler = new Scheduler({ concurrency: options.concurrency });
const stops = new Map<number, () => void>();
const out = new ResultBatch();
const settled = new SettledResults();
let holding = false;
let flushTimer: NodeJS.Timeout | undefined;
const tallyTimer = setInterval(() => {
  // While holding, the counts wait with the results (the main thread's loop is the pass's).
  if (!holding) postTallies();
}, options.tallyMs);

function postTallies(): void {
  const tallies = settled.take();
  if (tallies.length > 0) post({ kind: 'tally', tallies });
}

function post(event: WorkerEvent, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(event, transfer);
}

function flush(): void {
  if (flushTimer) clearTimeout(flushTimer);
  flushTimer = undefined;
  if (holding || out.size === 0) return;
  const data = out.take();
  post({ kind: 'results', data }, [data.numbers.buffer as ArrayBuffer]);
}

function record(id: number, result: CheckRun): void {
  if (settled.settle(id, result)) return;
  out.push(id, result);
  if (holding || flushTimer) return;
  flushTimer = setTimeout(flush, BATCH_WINDOW_MS);
}

async function obey(command: WorkerCommand): Promise<void> {
  switch (command.op) {
    case 'add': {
      const { id, config, target } = command;
      stops.get(id)?.();
      settled.track(id, target.service, config.type, config);
      const run = preparedOrFailing(config, target, WORKER_CHECKERS, (message) =>
        post({ kind: 'invalid', id, message }),
      );
      const stop = scheduler.add({
        intervalMs: command.intervalMs,
        timeoutMs: command.timeoutMs,
        pool: 'io',
        run,
        onResult: (result) => record(id, result),
      });
      stops.set(id, stop);
      return;
    }
    case 'remove':
      stops.get(command.id)?.();
      stops.delete(command.id);
      settled.forget(command.id);
      return;
    case 'hold':
      holding = true;
      return;
    case 'release':
      holding = false;
      flush();
      return;
    case 'stop':
      await scheduler.stop();
      if (flushTimer) clearTimeout(flushTimer);
      clearInterval(tallyTimer);
      postTallies();
      closeTcpConnector();
      port!.close();
      return;
  }
}

port.on('message', (commands: WorkerCommand[]) => {
  for (const command of commands) void obey(command);
});
