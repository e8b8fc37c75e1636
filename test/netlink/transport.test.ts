/**
 * The netlink transport against a scripted socket that answers like the kernel: every
 * message of a sendmsg handled in order, each answered with its own ACK carrying its
 * sequence number. Checks chunking, attribution of errors to the exact request, dumps
 * across datagrams, and what happens when ACKs are dropped (ENOBUFS).
 */
import { describe, expect, it } from 'vitest';
import {
  Errno,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_MULTI,
  NLMSG_DONE,
  NLMSG_ERROR,
} from '../../src/netlink/constants.js';
import {
  DumpStopped,
  type NetlinkSocket,
  NetlinkTransport,
  type TransportOptions,
} from '../../src/netlink/transport.js';
import { frameMessage, type NetlinkWriter } from '../../src/netlink/writer.js';
import { splitMessages } from './helpers.js';

const FAMILY = 42;

interface Script {
  /** errno to answer for a request, by the first payload byte (the genl command in real use). */
  errnoFor?: (payload: Buffer) => number;
  /** Dump replies: payloads, sent a few per datagram. */
  dumpReplies?: Buffer[];
  /** Drop the ACKs of these 0-based request indexes and raise ENOBUFS once. */
  dropAcks?: Set<number>;
  /**
   * 'kernel': a send's answers are queued before it returns, as the kernel queues them
   * inside the sendmsg. 'later' (the default): they come a turn of the event loop later,
   * so the transport finds nothing queued at first and must look again.
   */
  answers?: 'kernel' | 'later';
  /** A data reply to send before a request's ACK (a GET request's answer). */
  replyFor?: (payload: Buffer) => Buffer | undefined;
}

function ackFrame(seq: number, errno: number, request: Buffer): Buffer {
  const body = Buffer.alloc(4 + 16);
  body.writeInt32LE(-errno, 0);
  request.copy(body, 4, 0, 16);
  return frameMessage(NLMSG_ERROR, 0x100, seq, 0, body);
}

/** A datagram, or a receive error reported in its place (ENOBUFS after a drop). */
type Queued = Buffer | { errno: number };

class ScriptedSocket implements NetlinkSocket {
  readonly sendmsgs: number[] = [];
  readonly port = 1234;
  readonly sendBufferSize = 256 * 1024;
  readonly recvBufferSize = 4 * 1024 * 1024;
  private readonly queue: Queued[] = [];
  private requests = 0;
  constructor(private readonly script: Script) {}
  close() {}
  describe(errno: number) {
    return `errno ${errno}`;
  }
  receive(into: Uint8Array): number {
    const next = this.queue.shift();
    if (next === undefined) return -Errno.EAGAIN;
    if (!Buffer.isBuffer(next)) return -next.errno;
    into.set(next.subarray(0, into.length));
    return next.length;
  }
  send(data: Uint8Array): number {
    const buf = Buffer.from(data); // the transport may reuse its bytes once this returns
    const messages = splitMessages(buf);
    this.sendmsgs.push(messages.length);
    const answers = this.answer(buf, messages);
    if (this.script.answers === 'kernel') this.queue.push(...answers);
    else setImmediate(() => this.queue.push(...answers));
    return 0;
  }
  /**
   * As the kernel: a refusal is always answered, a success only when its request asked for
   * an ACK; an answer that does not fit is dropped, and the socket's next recvmsg reports
   * ENOBUFS before any answer still queued.
   */
  private answer(buf: Buffer, messages: ReturnType<typeof splitMessages>): Queued[] {
    const out: Queued[] = [];
    let offset = 0;
    let overflowReported = false;
    for (const msg of messages) {
      const raw = buf.subarray(offset, offset + 16);
      offset += (raw.readUInt32LE(0) + 3) & ~3;
      const index = this.requests++;
      if (msg.flags & NLM_F_DUMP) {
        const replies = this.script.dumpReplies ?? [];
        for (let i = 0; i < replies.length; i += 2) {
          const frames = replies
            .slice(i, i + 2)
            .map((r) => frameMessage(FAMILY, NLM_F_MULTI, msg.seq, 1234, r));
          out.push(Buffer.concat(frames));
        }
        out.push(frameMessage(NLMSG_DONE, NLM_F_MULTI, msg.seq, 1234, Buffer.alloc(4)));
        continue;
      }
      const reply = this.script.replyFor?.(msg.data);
      if (reply) out.push(frameMessage(FAMILY, 0, msg.seq, 1234, reply));
      const errno = this.script.errnoFor?.(msg.data) ?? 0;
      if (errno === 0 && !(msg.flags & NLM_F_ACK)) continue;
      if (this.script.dropAcks?.has(index)) {
        if (!overflowReported) out.unshift({ errno: Errno.ENOBUFS });
        overflowReported = true;
        continue;
      }
      out.push(ackFrame(msg.seq, errno, raw));
    }
    return out;
  }
}

function transportOn(
  script: Script,
  maxInFlight = 4,
  acks: 'each' | 'last' = 'last',
  options: TransportOptions = {},
) {
  const socket = new ScriptedSocket(script);
  return { socket, transport: new NetlinkTransport(socket, { maxInFlight, acks, ...options }) };
}

const bytes = (payload: Buffer) => (w: NetlinkWriter) => w.append(payload);
const request = (cmd: number) => ({ type: FAMILY, write: bytes(Buffer.from([cmd, 1, 0, 0])) });

describe('NetlinkTransport', () => {
  it('sends a batch in chunks of maxInFlight messages, one result per request, in order', async () => {
    const { socket, transport } = transportOn({});
    const results = await transport.batch(Array.from({ length: 10 }, (_, i) => request(i)));
    expect(socket.sendmsgs).toEqual([4, 4, 2]);
    expect(results.map((r) => r.errno)).toEqual(new Array(10).fill(0));
    expect(transport.counters).toMatchObject({ sendmsgs: 3, messagesSent: 10 });
  });

  for (const acks of ['each', 'last'] as const) {
    it(`attributes a refusal to the exact request, and the rest still succeed (acks: ${acks})`, async () => {
      const { socket, transport } = transportOn(
        { errnoFor: (p) => (p[0] === 5 || p[0] === 7 ? Errno.EEXIST : 0) },
        4,
        acks,
      );
      const results = await transport.batch(Array.from({ length: 8 }, (_, i) => request(i)));
      expect(results.map((r) => r.errno)).toEqual([0, 0, 0, 0, 0, Errno.EEXIST, 0, Errno.EEXIST]);
      expect(results.every((r) => !r.lost)).toBe(true);
      expect(transport.counters.ackErrors).toBe(2);
      expect(socket.sendmsgs).toEqual([4, 4]);
      // 'last': one ACK per sendmsg plus the refusals (the last message's refusal is its ACK).
      expect(transport.counters.datagramsReceived).toBe(acks === 'each' ? 8 : 3);
    });
  }

  it('streams a dump across datagrams and resolves at DONE', async () => {
    const replies = Array.from({ length: 5 }, (_, i) => Buffer.from([i, 1, 0, 0]));
    const { transport } = transportOn({ dumpReplies: replies });
    const seen: number[] = [];
    await transport.dump(FAMILY, bytes(Buffer.from([4, 1, 0, 0])), (buf, payload) =>
      seen.push(buf[payload] as number),
    );
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });

  it('reports requests whose ACK was dropped (ENOBUFS) as lost, never as done (acks: each)', async () => {
    const { transport } = transportOn({ dropAcks: new Set([1, 2]) }, 4, 'each');
    const results = await transport.batch([request(0), request(1), request(2), request(3)]);
    expect(results.map((r) => Boolean(r.lost))).toEqual([false, true, true, false]);
    expect(results[1]?.lost?.errno).toBe(Errno.ENOBUFS);
    expect(transport.counters.lostAcks).toBe(2);
  });

  it('after an overflow, silence proves nothing: unanswered requests are lost, not done (acks: last)', async () => {
    // Request 1 is refused but its answer is dropped; the last one's ACK still arrives.
    const { transport } = transportOn(
      { errnoFor: (p) => (p[0] === 1 ? Errno.EEXIST : 0), dropAcks: new Set([1]) },
      4,
      'last',
    );
    const results = await transport.batch([request(0), request(1), request(2), request(3)]);
    expect(results.map((r) => Boolean(r.lost))).toEqual([true, true, true, false]);
    expect(results[3]?.errno).toBe(0);
    expect(transport.counters.lostAcks).toBe(3);
  });

  it('reports a whole chunk lost when even the last answer was dropped (acks: last)', async () => {
    const { transport } = transportOn({ dropAcks: new Set([3]) }, 4, 'last');
    const results = await transport.batch([request(0), request(1), request(2), request(3)]);
    expect(results.map((r) => r.lost?.errno)).toEqual(new Array(4).fill(Errno.ENOBUFS));
  });

  it('runs dumps one at a time per socket, in the order asked, and fails those queued at close', async () => {
    const replies = Array.from({ length: 3 }, (_, i) => Buffer.from([i, 1, 0, 0]));
    const { socket, transport } = transportOn({ dumpReplies: replies });
    const seen: string[] = [];
    const dumps = ['a', 'b', 'c'].map((name) =>
      transport.dump(FAMILY, bytes(Buffer.from([4, 1, 0, 0])), (buf, payload) =>
        seen.push(`${name}${buf[payload]}`),
      ),
    );
    expect(socket.sendmsgs).toEqual([1]); // the others wait for the first one's DONE
    await Promise.all(dumps);
    expect(seen).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'b2', 'c0', 'c1', 'c2']);
    const running = transport.dump(FAMILY, bytes(Buffer.from([4, 1, 0, 0])), () => undefined);
    const queued = transport.dump(FAMILY, bytes(Buffer.from([4, 1, 0, 0])), () => undefined);
    transport.close();
    await expect(running).rejects.toThrow(/closed/);
    await expect(queued).rejects.toThrow(/closed/);
  });

  it(
    'dumpEach: one request per sendmsg, each sent after the previous DONE, ' +
      'replies attributed to their dump',
    async () => {
      const replies = Array.from({ length: 2 }, (_, i) => Buffer.from([i, 1, 0, 0]));
      const { socket, transport } = transportOn({ dumpReplies: replies });
      const seen: string[] = [];
      const sentAt: number[] = [];
      await transport.dumpEach(
        FAMILY,
        3,
        (w, i) => w.append(Buffer.from([4, 1, i, 0])),
        (i, buf, payload) => {
          seen.push(`${i}:${buf[payload]}`);
          sentAt.push(socket.sendmsgs.length);
        },
      );
      expect(socket.sendmsgs).toEqual([1, 1, 1]);
      expect(seen).toEqual(['0:0', '0:1', '1:0', '1:1', '2:0', '2:1']);
      expect(sentAt).toEqual([1, 1, 2, 2, 3, 3]); // dump i's replies came before dump i+1 was sent
    },
  );

  it('dumpEach: a dump that fails names its index and the dumps after it are not sent', async () => {
    const failing = transportOn({ dumpReplies: [Buffer.from([9, 1, 0, 0])] });
    const failed = failing.transport.dumpEach(
      FAMILY,
      4,
      (w, i) => w.append(Buffer.from([4, 1, i, 0])),
      (i) => {
        if (i === 1) throw new Error('bad reply');
      },
    );
    await expect(failed).rejects.toMatchObject({
      index: 1,
      errno: Errno.EIO,
      message: 'bad reply',
    });
    expect(failing.socket.sendmsgs).toEqual([1, 1]);
  });

  it('dumpEach: stop, asked as each dump ends, ends the run there; no dump after it is sent', async () => {
    const { socket, transport } = transportOn({ dumpReplies: [Buffer.from([9, 1, 0, 0])] });
    const seen: number[] = [];
    let asked = 0;
    const run = transport.dumpEach(
      FAMILY,
      4,
      (w, i) => w.append(Buffer.from([4, 1, i, 0])),
      (i) => void seen.push(i),
      () => ++asked === 2,
    );
    await expect(run).rejects.toMatchObject({ index: 2 });
    await expect(run).rejects.toBeInstanceOf(DumpStopped);
    expect(seen).toEqual([0, 1]);
    expect(socket.sendmsgs).toEqual([1, 1]);
    // The socket is free for the next dump.
    await transport.dumpEach(
      FAMILY,
      1,
      (w) => w.append(Buffer.from([4, 1, 9, 0])),
      () => undefined,
    );
    expect(socket.sendmsgs).toEqual([1, 1, 1]);
  });

  it('dumpEach: a request that cannot be written fails the run before anything is sent', async () => {
    const { socket, transport } = transportOn({ dumpReplies: [] });
    const run = transport.dumpEach(
      FAMILY,
      3,
      (w, i) => {
        if (i === 2) throw new Error('not an address');
        w.append(Buffer.from([4, 1, i, 0]));
      },
      () => undefined,
    );
    await expect(run).rejects.toMatchObject({
      errno: Errno.EINVAL,
      message: 'not an address',
      index: 2,
    });
    expect(socket.sendmsgs).toEqual([]);
    // The socket is free for the next dump.
    await expect(
      transport.dump(FAMILY, bytes(Buffer.from([4, 1, 0, 0])), () => undefined),
    ).resolves.toBeUndefined();
  });

  it('reads what the kernel queued inside the send at once: a run of dumps needs no turn of the loop', async () => {
    const replies = [Buffer.from([7, 1, 0, 0])];
    const { socket, transport } = transportOn({ dumpReplies: replies, answers: 'kernel' });
    const seen: number[] = [];
    const run = transport.dumpEach(
      FAMILY,
      3,
      (w, i) => w.append(Buffer.from([4, 1, i, 0])),
      (i) => seen.push(i),
    );
    // Every dump was sent and read before dumpEach returned its promise.
    expect(socket.sendmsgs).toEqual([1, 1, 1]);
    expect(seen).toEqual([0, 1, 2]);
    await run;
    expect(transport.counters.datagramsReceived).toBe(6);
  });

  it('keeps the replies of GET requests intact though every datagram is read into one buffer', async () => {
    const { transport } = transportOn(
      { answers: 'kernel', replyFor: (p) => Buffer.from(`reply to ${p[0]}`) },
      8,
      'each',
    );
    const results = await transport.batch([request(1), request(2), request(3)]);
    expect(results.map((r) => r.replies.map((m) => m.data.toString()))).toEqual([
      ['reply to 1'],
      ['reply to 2'],
      ['reply to 3'],
    ]);
  });

  it('lets the event loop turn between slices of a long read, and not within one', async () => {
    const replies = [Buffer.from([7, 1, 0, 0])];
    const turnsSeen = async (sliceMs: number) => {
      const { transport } = transportOn({ dumpReplies: replies, answers: 'kernel' }, 4, 'last', {
        sliceMs,
      });
      let turns = 0;
      const ticker = setInterval(() => turns++, 0);
      let seenByLastDump = 0;
      await transport.dumpEach(
        FAMILY,
        200,
        (w, i) => w.append(Buffer.from([4, 1, i & 0xff, 0])),
        () => {
          seenByLastDump = turns;
        },
      );
      clearInterval(ticker);
      return seenByLastDump;
    };
    expect(await turnsSeen(60_000)).toBe(0); // one slice: read without a turn
    expect(await turnsSeen(0)).toBeGreaterThan(0); // a slice per datagram: timers ran meanwhile
  });

  it('fails what is in flight when a datagram does not fit the receive buffer', async () => {
    const big = Buffer.alloc(5000, 1);
    const { transport } = transportOn({ dumpReplies: [big], answers: 'kernel' }, 4, 'last', {
      messageBufferBytes: 4096,
    });
    await expect(
      transport.dump(FAMILY, bytes(Buffer.from([4, 1, 0, 0])), () => undefined),
    ).rejects.toMatchObject({
      errno: Errno.EMSGSIZE,
      message: expect.stringMatching(/truncated to 4096/),
    });
  });

  it('refuses work after close', async () => {
    const { transport } = transportOn({});
    transport.close();
    await expect(transport.batch([request(1)])).rejects.toThrow(/closed/);
    expect(() => transport.dump(FAMILY, bytes(Buffer.alloc(4)), () => undefined)).toThrow(/closed/);
  });
});
