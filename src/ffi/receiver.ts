/**
 * The receive side of raw sockets: one worker thread blocks in poll() on every socket
 * watched and posts each datagram to the main thread, stamped with the time it was read.
 * The event loop never waits on a socket and libuv's thread pool is left to fs and dns.
 */
import { Worker } from 'node:worker_threads';
import { closeFd, type Datagram, openWakeFd, type RawSocket, signalWakeFd } from './raw-socket.js';

/** A datagram as delivered: `at` is the wall-clock time (ms, fractional) the worker read it. */
export interface Received extends Datagram {
  at: number;
}

export type WorkerCommand =
  | { op: 'add'; fd: number }
  | { op: 'remove'; fd: number; ack: number }
  | { op: 'stop' };

export type WorkerEvent =
  | { kind: 'packet'; fd: number; packet: Received }
  | { kind: 'removed'; ack: number }
  | { kind: 'error'; fd: number; message: string };

export class Receiver {
  private readonly worker: Worker;
  private readonly wake: number;
  private readonly handlers = new Map<number, (packet: Received) => void>();
  private readonly acks = new Map<number, () => void>();
  private nextAck = 1;
  private closing: Promise<void> | null = null;
  private exited = false;

  constructor(private readonly onError: (message: string) => void = () => undefined) {
    this.wake = openWakeFd();
    this.worker = new Worker(new URL('./receive-worker.js', import.meta.url), {
      workerData: { wake: this.wake },
      // The worker needs none of the parent's flags (--input-type, --eval would stop it).
      execArgv: [],
    });
    this.worker.on('message', (event: WorkerEvent) => this.dispatch(event));
    this.worker.once('exit', () => {
      this.exited = true;
      for (const resolve of this.acks.values()) resolve();
      this.acks.clear();
    });
    this.worker.on('error', (err: Error) => this.onError(`receive worker: ${err.message}`));
    // The worker alone must not keep the process alive.
    this.worker.unref();
  }

  watch(socket: RawSocket, handler: (packet: Received) => void): void {
    this.handlers.set(socket.fd, handler);
    this.command({ op: 'add', fd: socket.fd });
  }

  /** Resolves once the worker no longer polls the socket: only then may it be closed. */
  unwatch(socket: RawSocket): Promise<void> {
    this.handlers.delete(socket.fd);
    if (this.exited) return Promise.resolve();
    const ack = this.nextAck++;
    const done = new Promise<void>((resolve) => this.acks.set(ack, resolve));
    // An answer is awaited: the process must live until it comes.
    this.worker.ref();
    this.command({ op: 'remove', fd: socket.fd, ack });
    return done;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const exited = this.exited
        ? Promise.resolve()
        : new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
      // Held until it has stopped: the wake fd is closed only after the worker let go of it.
      this.worker.ref();
      this.command({ op: 'stop' });
      await exited;
      closeFd(this.wake);
      for (const resolve of this.acks.values()) resolve();
    })();
    return this.closing;
  }

  private command(command: WorkerCommand): void {
    if (this.exited) return;
    this.worker.postMessage(command);
    signalWakeFd(this.wake);
  }

  private dispatch(event: WorkerEvent): void {
    if (event.kind === 'packet') {
      const packet = event.packet;
      packet.data = Buffer.from(packet.data.buffer, packet.data.byteOffset, packet.data.byteLength);
      for (const c of packet.controls) c.data = Buffer.from(c.data);
      this.handlers.get(event.fd)?.(packet);
    } else if (event.kind === 'removed') {
      this.acks.get(event.ack)?.();
      this.acks.delete(event.ack);
      if (this.acks.size === 0 && !this.closing) this.worker.unref();
    } else this.onError(event.message);
  }
}
