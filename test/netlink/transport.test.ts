/**
 * The netlink transport against a scripted socket that answers like the kernel: every
 * message of a sendmsg handled in order, each answered with its own ACK carrying its
 * sequence number. Checks chunking, attribution of errors to the exact request, dumps
 * across datagrams, and what happens when ACKs are dropped (ENOBUFS).
 */
import { EventEmitter } from 'node:events';
import type { RawNetlinkSocket } from 'netlink/dist/raw.js';
import { describe, expect, it } from 'vitest';
import {
  Errno,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_MULTI,
  NLMSG_DONE,
  NLMSG_ERROR,
} from '../../src/netlink/constants.js';
import { NetlinkTransport } from '../../src/netlink/transport.js';
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
}

function ackFrame(seq: number, errno: number, request: Buffer): Buffer {
  const body = Buffer.alloc(4 + 16);
  body.writeInt32LE(-errno, 0);
  request.copy(body, 4, 0, 16);
  return frameMessage(NLMSG_ERROR, 0x100, seq, 0, body);
}

class ScriptedSocket extends EventEmitter {
  readonly sendmsgs: number[] = [];
  private requests = 0;
  constructor(private readonly script: Script) {
    super();
  }
  address() {
    return { port: 1234, groups: 0 };
  }
  getSendBufferSize() {
    return 256 * 1024;
  }
  getRecvBufferSize() {
    return 4 * 1024 * 1024;
  }
  ref() {}
  unref() {}
  close() {}
  send(buf: Buffer, _opts: object, callback: (err?: Error) => void) {
    const messages = splitMessages(buf);
    this.sendmsgs.push(messages.length);
    callback();
    setImmediate(() => this.answer(buf, messages));
  }
  /**
   * As the kernel: a refusal is always answered, a success only when its request asked for
   * an ACK; an answer that does not fit is dropped, and the socket's next recvmsg reports
   * ENOBUFS before any answer still queued.
   */
  private answer(buf: Buffer, messages: ReturnType<typeof splitMessages>) {
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
          this.emit('message', Buffer.concat(frames));
        }
        this.emit('message', frameMessage(NLMSG_DONE, NLM_F_MULTI, msg.seq, 1234, Buffer.alloc(4)));
        continue;
      }
      const errno = this.script.errnoFor?.(msg.data) ?? 0;
      if (errno === 0 && !(msg.flags & NLM_F_ACK)) continue;
      if (this.script.dropAcks?.has(index)) {
        if (!overflowReported)
          this.emit(
            'error',
            Object.assign(new Error('recvmsg: No buffer space available'), {
              errno: Errno.ENOBUFS,
            }),
          );
        overflowReported = true;
        continue;
      }
      this.emit('message', ackFrame(msg.seq, errno, raw));
    }
  }
}

function transportOn(script: Script, maxInFlight = 4, acks: 'each' | 'last' = 'last') {
  const socket = new ScriptedSocket(script);
  return {
    socket,
    transport: new NetlinkTransport(socket as unknown as RawNetlinkSocket, { maxInFlight, acks }),
  };
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

  it('refuses work after close', async () => {
    const { transport } = transportOn({});
    transport.close();
    await expect(transport.batch([request(1)])).rejects.toThrow(/closed/);
    expect(() => transport.dump(FAMILY, bytes(Buffer.alloc(4)), () => undefined)).toThrow(/closed/);
  });
});
