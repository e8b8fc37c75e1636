/**
 * The fake kernel behind the kernel client's own encoder, for host benchmarks: every write
 * is turned into the exact netlink bytes KernelIpvsClient would send (encodeOp, framed with
 * NLM_F_REQUEST | NLM_F_ACK and its own sequence number, concatenated in sendmsg-sized
 * chunks as netlink-transport.ts does) before the in-memory FakeIpvs applies it. So a
 * benchmark that stops when execute() returns has paid for "the last netlink message
 * encoded", and can count the messages that would have gone to the kernel.
 *
 * Reads return the fake's objects: decoding a dump is measured apart (ipvs-codec.ts).
 */
import type { IpvsClient, IpvsOp, IpvsOpResult } from '../src/ipvs/client.js';
import { frameMessage } from '../src/ipvs/codec.js';
import { NLM_F_ACK, NLM_F_REQUEST } from '../src/ipvs/constants.js';
import { FakeIpvs } from '../src/ipvs/fake.js';
import { encodeOp } from '../src/ipvs/kernel-client.js';
import { DEFAULT_MAX_IN_FLIGHT } from '../src/ipvs/netlink-transport.js';

/** Any family id: the kernel assigns one at boot; only its presence in the header matters here. */
const IPVS_FAMILY_ID = 0x1d;
const MAX_BATCH_BYTES = 128 * 1024;

export class WireFake implements IpvsClient {
  readonly fake: FakeIpvs;
  /** Netlink messages that would have been sent, and the sendmsg calls carrying them. */
  messages = 0;
  sendmsgs = 0;
  bytes = 0;
  /** The sendmsg buffers of the last execute(), kept only when asked (tests decode them). */
  readonly sent: Buffer[] = [];
  keepSent = false;
  private seq = 1;

  constructor(fake = new FakeIpvs()) {
    this.fake = fake;
  }

  getInfo = () => this.fake.getInfo();
  listServices = () => this.fake.listServices();
  getService = (key: Parameters<IpvsClient['getService']>[0]) => this.fake.getService(key);
  listDests = (key: Parameters<IpvsClient['listDests']>[0]) => this.fake.listDests(key);
  readTable = () => this.fake.readTable();
  getTimeouts = () => this.fake.getTimeouts();
  listDaemons = () => this.fake.listDaemons();
  close = () => this.fake.close();

  async execute(ops: readonly IpvsOp[]): Promise<IpvsOpResult[]> {
    let chunk: Buffer[] = [];
    let chunkBytes = 0;
    this.sent.length = 0;
    const flush = () => {
      if (chunk.length === 0) return;
      // The concatenation is what the transport hands to sendmsg.
      const datagram = Buffer.concat(chunk, chunkBytes);
      this.bytes += datagram.length;
      if (this.keepSent) this.sent.push(datagram);
      this.sendmsgs++;
      chunk = [];
      chunkBytes = 0;
    };
    for (const op of ops) {
      const frame = frameMessage(IPVS_FAMILY_ID, NLM_F_REQUEST | NLM_F_ACK, this.seq++, 0, encodeOp(op));
      if (chunk.length >= DEFAULT_MAX_IN_FLIGHT || (chunk.length > 0 && chunkBytes + frame.length > MAX_BATCH_BYTES)) flush();
      chunk.push(frame);
      chunkBytes += frame.length;
      this.messages++;
    }
    flush();
    return this.fake.execute(ops);
  }

  resetCounters(): void {
    this.sent.length = 0;
    this.messages = 0;
    this.sendmsgs = 0;
    this.bytes = 0;
  }
}
