/**
 * An IpvsClient that passes everything through and remembers the last table read.
 * Every reconcile pass reads the whole table anyway; keeping that read lets /status and
 * /metrics show it without a second dump, while reconcile() stays the one path that
 * reads, plans and writes.
 */
import type { IpvsClient, IpvsOp, IpvsOpResult, ReadOptions } from '../ipvs/client.js';
import type { IpvsTable, ServiceKey } from '../ipvs/model.js';

export class RecordingClient implements IpvsClient {
  /** The last table read through this client and when; null before the first read. */
  last: { table: IpvsTable; readAt: number } | null = null;
  /** Operations sent since the last table read (the table shown may be out of date). */
  writesSinceRead = 0;

  constructor(private readonly inner: IpvsClient) {}

  getInfo = () => this.inner.getInfo();
  listServices = (options?: ReadOptions) => this.inner.listServices(options);
  getService = (key: ServiceKey) => this.inner.getService(key);
  listDests = (key: ServiceKey, options?: ReadOptions) => this.inner.listDests(key, options);
  getTimeouts = () => this.inner.getTimeouts();
  listDaemons = () => this.inner.listDaemons();
  close = () => this.inner.close();

  async readTable(options?: ReadOptions): Promise<IpvsTable> {
    const readAt = Date.now();
    const table = await this.inner.readTable(options);
    this.last = { table, readAt };
    this.writesSinceRead = 0;
    return table;
  }

  async execute(ops: readonly IpvsOp[]): Promise<IpvsOpResult[]> {
    this.writesSinceRead += ops.length;
    return this.inner.execute(ops);
  }
}
