/**
 * The fake kernel behind the kernel client's own write path, for host benchmarks: every
 * write goes through KernelIpvsClient.execute() (the same encoder, chunking and ACK handling
 * that talk to the kernel) over a scripted socket that acknowledges each message, before the
 * in-memory FakeIpvs applies it. So a benchmark that stops when execute() returns has paid
 * for "the last netlink message encoded" (and its ACK), and can count the messages that
 * went out.
 *
 * Reads return the fake's objects: decoding a dump is measured apart (ipvs-codec.ts).
 */
import type { IpvsClient, IpvsOp, IpvsOpResult } from '../src/ipvs/client.js';
import { FakeIpvs } from '../src/ipvs/fake.js';
import { KernelIpvsClient } from '../src/ipvs/kernel-client.js';
import { NetlinkTransport } from '../src/netlink/transport.js';
import { ScriptedKernelSocket } from './scripted-kernel-socket.js';

export class WireFake implements IpvsClient {
  readonly fake: FakeIpvs;
  /** Netlink messages sent since the last resetCounters(), and the sendmsg calls carrying them. */
  messages = 0;
  sendmsgs = 0;
  bytes = 0;
  /** The sendmsg buffers since the last resetCounters(), kept only when asked (tests decode them). */
  readonly sent: Buffer[] = [];
  keepSent = false;
  private readonly socket = new ScriptedKernelSocket([]);
  private client: Promise<KernelIpvsClient> | null = null;

  constructor(fake = new FakeIpvs()) {
    this.fake = fake;
    this.socket.onSend = (buf, messages) => {
      this.sendmsgs++;
      this.messages += messages;
      this.bytes += buf.length;
      if (this.keepSent) this.sent.push(Buffer.from(buf));
    };
  }

  getInfo = () => this.fake.getInfo();
  listServices = () => this.fake.listServices();
  getService = (key: Parameters<IpvsClient['getService']>[0]) => this.fake.getService(key);
  listDests = (key: Parameters<IpvsClient['listDests']>[0]) => this.fake.listDests(key);
  readTable = () => this.fake.readTable();
  readServices = (keys: Parameters<IpvsClient['readServices']>[0]) => this.fake.readServices(keys);
  getTimeouts = () => this.fake.getTimeouts();
  listDaemons = () => this.fake.listDaemons();

  async execute(ops: readonly IpvsOp[]): Promise<IpvsOpResult[]> {
    if (ops.length) {
      this.client ??= KernelIpvsClient.over(new NetlinkTransport(this.socket)).then((client) => {
        this.resetCounters(); // the family lookup is not a write
        return client;
      });
      await (await this.client).execute(ops);
    }
    return this.fake.execute(ops);
  }

  async close(): Promise<void> {
    if (this.client) await (await this.client).close();
    await this.fake.close();
  }

  resetCounters(): void {
    this.sent.length = 0;
    this.messages = 0;
    this.sendmsgs = 0;
    this.bytes = 0;
  }
}
