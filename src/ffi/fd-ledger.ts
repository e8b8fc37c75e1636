/**
 * The descriptors a worker thread holds through libc, listed in memory its parent shares.
 * A descriptor belongs to the process, not to the thread that opened it: when a worker
 * dies abnormally (an uncaught exception, terminate()), Node closes the handles of its own
 * sockets but nothing closes the ones opened through koffi, and a worker started again
 * after each death would leak them without bound. The parent closes those the table still
 * lists once the worker has exited (a Worker's 'exit' comes after its thread was joined,
 * so the table no longer changes).
 *
 * The order of the worker's steps keeps the parent from closing a descriptor that is not
 * the worker's any more: a descriptor is entered after the call that opened it returned,
 * and struck out before it is closed. A death between two steps leaves that one descriptor
 * open; it never has the parent close a number the process has given out again since.
 */
import { libc } from './libc.js';

/** Descriptor + 1 in each slot: 0 (as a new SharedArrayBuffer holds) is a free slot. */
export class FdLedger {
  private readonly slots: Int32Array;
  private readonly free: number[] = [];
  /** Slot + 1 by descriptor (0: not listed); descriptors are small numbers, and this is per connect. */
  private slotOf = new Int32Array(1024);

  /** A table for a worker of at most `capacity` descriptors at once. */
  static table(capacity: number): SharedArrayBuffer {
    return new SharedArrayBuffer(4 * capacity);
  }

  constructor(table: SharedArrayBuffer) {
    this.slots = new Int32Array(table);
    for (let i = this.slots.length - 1; i >= 0; i--) this.free.push(i);
  }

  /**
   * Lists a descriptor just opened. False when the table is full: the descriptor stays
   * unlisted (closed if the worker dies, only by the process's exit), rather than failing
   * the socket that needs it.
   */
  enter(fd: number): boolean {
    const slot = this.free.pop();
    if (slot === undefined) return false;
    if (fd >= this.slotOf.length) {
      const grown = new Int32Array(Math.max(fd + 1, this.slotOf.length * 2));
      grown.set(this.slotOf);
      this.slotOf = grown;
    }
    this.slotOf[fd] = slot + 1;
    Atomics.store(this.slots, slot, fd + 1);
    return true;
  }

  /** Strikes a descriptor out, before it is closed. */
  strike(fd: number): void {
    const slot = (this.slotOf[fd] ?? 0) - 1;
    if (slot < 0) return;
    this.slotOf[fd] = 0;
    Atomics.store(this.slots, slot, 0);
    this.free.push(slot);
  }
}

/** Closes the descriptors a worker that has exited left in its table; returns how many. */
export function closeListed(table: SharedArrayBuffer): number {
  const slots = new Int32Array(table);
  let closed = 0;
  for (let i = 0; i < slots.length; i++) {
    const entry = Atomics.exchange(slots, i, 0);
    if (entry === 0) continue;
    libc().close(entry - 1);
    closed++;
  }
  return closed;
}

let threadLedger: FdLedger | null = null;

/** Gives the calling thread (a check worker) the table its parent reads when it dies. */
export function keepFdsIn(table: SharedArrayBuffer): void {
  threadLedger = new FdLedger(table);
}

/** Lists a descriptor the calling thread just opened (no-op in a thread without a table). */
export function enterFd(fd: number): void {
  threadLedger?.enter(fd);
}

/** Strikes out a descriptor the calling thread is about to close. */
export function strikeFd(fd: number): void {
  threadLedger?.strike(fd);
}
