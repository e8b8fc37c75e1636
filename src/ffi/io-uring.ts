/**
 * An io_uring through koffi (issue 15: a check at keepalived's cost or less): the submission
 * and completion rings mapped into this thread's memory, written and read as typed arrays,
 * so that a batch of socket operations costs one io_uring_enter() instead of a system call
 * each. Under the lab's emulation a check made of five libc calls costs 630-660 us and the
 * same check through a ring 530-550 (same run, bench/results/2026-12-07-io-uring.md).
 *
 * Only what the connect path needs: the operations it submits, a memory arena whose
 * addresses the kernel may read (sockaddrs), and a probe of the opcodes the running kernel
 * has. `Ring.open()` answers null where there is no io_uring to have (a kernel before 5.19,
 * io_uring disabled by sysctl, a seccomp filter that refuses io_uring_setup): the callers
 * keep their libc path for that.
 *
 * One thread, one ring: koffi's functions and the ring's task work belong to the thread
 * that made them, and nothing here is shared between threads.
 */
import { createRequire } from 'node:module';
import { enterFd, strikeFd } from './fd-ledger.js';
import { libc } from './libc.js';

/** The opcodes lvsd submits (<linux/io_uring.h>). */
export const OP = { asyncCancel: 14, connect: 16, close: 19, socket: 45 } as const;
/** Submission flags: link the next entry to this one; post no completion for a success. */
export const SQE_FLAG = { link: 1 << 2, skipSuccess: 1 << 6 } as const;

const SYS = { setup: 425, enter: 426, register: 427 } as const;
const SETUP = { cqSize: 1 << 3, submitAll: 1 << 7, coopTaskrun: 1 << 8 } as const;
const ENTER_GETEVENTS = 1;
const FEAT_SINGLE_MMAP = 1;
const REGISTER_PROBE = 8;
const OFF_SQES = 0x10000000;
const PROT_RW = 0x1 | 0x2;
const MAP_SHARED_POPULATE = 0x01 | 0x8000;
const SQE_WORDS = 16; // 64 bytes
const CQE_WORDS = 4; // 16 bytes

interface RingCalls {
  syscall: (...args: unknown[]) => bigint | number;
  mmap: (addr: null, len: number, prot: number, flags: number, fd: number, off: number) => unknown;
  view: (pointer: unknown, length: number) => ArrayBuffer;
  address: (pointer: unknown) => bigint;
  alloc: (length: number) => unknown;
  errno: () => number;
}

let calls: RingCalls | null = null;

function ringCalls(): RingCalls {
  if (calls) return calls;
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  const lib = koffi.load('libc.so.6');
  const syscall = lib.func('long syscall(long, ...)');
  const mmap = lib.func('void *mmap(void *, size_t, int, int, int, int64_t)');
  calls = {
    syscall: (...args) => syscall(...args),
    mmap: (addr, len, prot, flags, fd, off) => mmap(addr, len, prot, flags, fd, off),
    view: (pointer, length) => koffi.view(pointer as never, length),
    address: (pointer) => koffi.address(pointer as never) as bigint,
    alloc: (length) => koffi.alloc('uint8_t', length),
    errno: () => koffi.errno(),
  };
  return calls;
}

/** What the running kernel says of each opcode: supported or not (IORING_REGISTER_PROBE). */
function probe(fd: number, c: RingCalls): Set<number> {
  const count = 256;
  const buffer = Buffer.alloc(16 + 8 * count);
  const r = Number(
    c.syscall(
      SYS.register,
      'int',
      fd,
      'uint32_t',
      REGISTER_PROBE,
      'void *',
      buffer,
      'uint32_t',
      count,
    ),
  );
  const supported = new Set<number>();
  if (r < 0) return supported;
  const ops = buffer[1] ?? 0;
  for (let i = 0; i < ops; i++)
    if (buffer.readUInt16LE(16 + 8 * i + 2) & 1) supported.add(buffer[16 + 8 * i] ?? -1);
  return supported;
}

/** A completion as the ring posted it: the entry's user data, its result (-errno on failure). */
export type Completion = (userData: number, result: number) => void;

/** One thread's io_uring: queue entries with `prepare`, hand them over with `enter`, read what came with `reap`. */
export class Ring {
  /** Entries queued and not yet handed to the kernel. */
  private queued = 0;
  private tail: number;
  private readonly ring: Uint32Array;
  private readonly ringSigned: Int32Array;
  private readonly sqes: Uint32Array;
  private readonly sqHead: number;
  private readonly sqTail: number;
  private readonly sqMask: number;
  private readonly sqArray: number;
  private readonly cqHead: number;
  private readonly cqTail: number;
  private readonly cqMask: number;
  private readonly cqes: number;
  readonly entries: number;

  /**
   * A ring of `entries` submission entries (a power of two) and twice as many completion
   * entries, or null when this kernel has none or lacks one of `needs` (opcodes).
   */
  static open(entries: number, needs: readonly number[]): Ring | null {
    let c: RingCalls;
    try {
      c = ringCalls();
    } catch {
      return null;
    }
    const params = Buffer.alloc(120);
    let fd = -1;
    // COOP_TASKRUN (5.19): completions wait for this thread's next system call rather
    // than interrupting it; every harvest makes one. SUBMIT_ALL (5.18): an entry that
    // fails does not stop the ones after it.
    for (const flags of [SETUP.cqSize | SETUP.submitAll | SETUP.coopTaskrun, SETUP.cqSize]) {
      params.fill(0);
      params.writeUInt32LE(entries * 2, 4);
      params.writeUInt32LE(flags, 8);
      fd = Number(c.syscall(SYS.setup, 'uint32_t', entries, 'void *', params));
      if (fd >= 0) break;
    }
    if (fd < 0) return null;
    enterFd(fd);
    const supported = probe(fd, c);
    if (!(params.readUInt32LE(20) & FEAT_SINGLE_MMAP) || needs.some((op) => !supported.has(op))) {
      closeRingFd(fd);
      return null;
    }
    return new Ring(fd, params, c);
  }

  private constructor(
    readonly fd: number,
    params: Buffer,
    private readonly c: RingCalls,
  ) {
    const sqEntries = params.readUInt32LE(0);
    const cqEntries = params.readUInt32LE(4);
    const sqArray = params.readUInt32LE(64);
    const cqes = params.readUInt32LE(100);
    const ringBytes = Math.max(sqArray + 4 * sqEntries, cqes + 16 * cqEntries);
    const ringMemory = c.mmap(null, ringBytes, PROT_RW, MAP_SHARED_POPULATE, fd, 0);
    const sqeMemory = c.mmap(null, 64 * sqEntries, PROT_RW, MAP_SHARED_POPULATE, fd, OFF_SQES);
    const ringBuffer = c.view(ringMemory, ringBytes);
    this.ring = new Uint32Array(ringBuffer);
    this.ringSigned = new Int32Array(ringBuffer);
    this.sqes = new Uint32Array(c.view(sqeMemory, 64 * sqEntries));
    this.sqHead = params.readUInt32LE(40) / 4;
    this.sqTail = params.readUInt32LE(44) / 4;
    this.sqMask = this.ring[params.readUInt32LE(48) / 4] ?? 0;
    this.sqArray = sqArray / 4;
    this.cqHead = params.readUInt32LE(80) / 4;
    this.cqTail = params.readUInt32LE(84) / 4;
    this.cqMask = this.ring[params.readUInt32LE(88) / 4] ?? 0;
    this.cqes = cqes / 4;
    this.tail = this.ring[this.sqTail] ?? 0;
    this.entries = sqEntries;
  }

  /** Free submission entries. */
  get room(): number {
    return this.entries - (this.tail - Atomics.load(this.ring, this.sqHead));
  }

  /**
   * Queues one entry. `fd`, `addr`, `len` and `off` mean what the opcode makes them mean
   * (socket: domain, -, protocol, type; connect: socket, sockaddr, -, its length; close:
   * descriptor; async cancel: -, the user data to cancel). False when the ring is full.
   */
  prepare(
    opcode: number,
    flags: number,
    fd: number,
    addr: number,
    len: number,
    off: number,
    userData: number,
  ): boolean {
    if (this.room <= 0) return false;
    const index = this.tail & this.sqMask;
    const at = index * SQE_WORDS;
    const s = this.sqes;
    s[at] = opcode | (flags << 8);
    s[at + 1] = fd >>> 0;
    s[at + 2] = off >>> 0;
    s[at + 3] = 0;
    s[at + 4] = addr % 0x100000000;
    s[at + 5] = Math.floor(addr / 0x100000000);
    s[at + 6] = len >>> 0;
    s[at + 7] = 0;
    s[at + 8] = userData >>> 0;
    s.fill(0, at + 9, at + SQE_WORDS);
    this.ring[this.sqArray + index] = index;
    this.tail = (this.tail + 1) >>> 0;
    this.queued++;
    return true;
  }

  /** Entries queued and not handed over yet. */
  get pending(): number {
    return this.queued;
  }

  /**
   * Hands the queued entries to the kernel and runs the completions waiting for this
   * thread (GETEVENTS: the task work of operations that finished in flight). One system
   * call; never waits. The count submitted, or -errno.
   */
  enter(): number {
    Atomics.store(this.ring, this.sqTail, this.tail);
    const count = this.queued;
    this.queued = 0;
    const r = Number(
      this.c.syscall(
        SYS.enter,
        'int',
        this.fd,
        'uint32_t',
        count,
        'uint32_t',
        0,
        'uint32_t',
        ENTER_GETEVENTS,
        'void *',
        null,
        'size_t',
        0,
      ),
    );
    return r < 0 ? -this.c.errno() : r;
  }

  /** Calls `each` for every completion posted so far, in order; the count read. */
  reap(each: Completion): number {
    let head = this.ring[this.cqHead] ?? 0;
    const tail = Atomics.load(this.ring, this.cqTail);
    let count = 0;
    while (head !== tail) {
      const at = this.cqes + (head & this.cqMask) * CQE_WORDS;
      const userData = this.ring[at] ?? 0;
      const result = this.ringSigned[at + 2] ?? 0;
      head = (head + 1) >>> 0;
      // Handed back before `each` runs: it may queue and enter again.
      Atomics.store(this.ring, this.cqHead, head);
      each(userData, result);
      count++;
    }
    return count;
  }

  /** Closes the ring: the kernel cancels what is still in flight. Its mappings stay until the thread ends. */
  close(): void {
    closeRingFd(this.fd);
  }
}

function closeRingFd(fd: number): void {
  strikeFd(fd);
  libc().close(fd);
}

/**
 * Native memory the kernel may read at any time while an operation is in flight (a
 * connect's sockaddr), in fixed-size slots: a Buffer's memory is the collector's to move or
 * free, and its address is not to be had.
 */
export class Arena {
  readonly bytes: Uint8Array;
  private readonly base: number;

  constructor(
    readonly slots: number,
    readonly slotSize: number,
  ) {
    const c = ringCalls();
    const memory = c.alloc(slots * slotSize);
    this.bytes = new Uint8Array(c.view(memory, slots * slotSize));
    this.base = Number(c.address(memory));
  }

  /** The address of slot `slot`, for an entry's addr. */
  address(slot: number): number {
    return this.base + slot * this.slotSize;
  }

  /** Copies `data` into slot `slot`. */
  write(slot: number, data: Uint8Array): void {
    this.bytes.set(data, slot * this.slotSize);
  }
}
