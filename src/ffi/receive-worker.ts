/**
 * The receive worker (see receiver.ts): blocks in poll() on the watched sockets and an
 * eventfd the main thread writes after each command; reads every waiting datagram and
 * posts it. Commands arrive on the parent port and are taken synchronously, because this
 * thread never returns to its event loop until it stops.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { drainWakeFd, pollReadable, receiveOn } from './raw-socket.js';
import type { WorkerCommand, WorkerEvent } from './receiver.js';

const port = parentPort;
if (!port) throw new Error('receive-worker.js runs as a worker thread');
const wake = (workerData as { wake: number }).wake;
const watched = new Set<number>();

function post(event: WorkerEvent): void {
  port?.postMessage(event);
}

/** Applies the commands waiting on the port; false once told to stop. */
function takeCommands(): boolean {
  for (;;) {
    const next = receiveMessageOnPort(port as never) as { message: WorkerCommand } | undefined;
    if (!next) return true;
    const command = next.message;
    if (command.op === 'stop') return false;
    if (command.op === 'add') watched.add(command.fd);
    else {
      watched.delete(command.fd);
      post({ kind: 'removed', ack: command.ack });
    }
  }
}

function readAll(fd: number): void {
  for (;;) {
    let datagram: ReturnType<typeof receiveOn>;
    try {
      datagram = receiveOn(fd);
    } catch (err) {
      post({ kind: 'error', fd, message: (err as Error).message });
      return;
    }
    if (!datagram) return;
    const at = performance.timeOrigin + performance.now();
    post({ kind: 'packet', fd, packet: { ...datagram, at } });
  }
}

for (;;) {
  const ready = pollReadable([wake, ...watched], -1);
  if (ready.includes(wake)) {
    drainWakeFd(wake);
    if (!takeCommands()) break;
  }
  for (const fd of ready) if (fd !== wake && watched.has(fd)) readAll(fd);
}
