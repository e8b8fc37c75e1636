/**
 * An IpvsClient that passes everything through and remembers the last table read.
 * Every reconcile pass reads the whole table anyway; keeping that read lets /status and
 * /metrics show it without a second dump, while the Reconciler stays the one path that
 * reads, plans and writes.
 */
import {
  ForwardingIpvsClient,
  type IpvsOp,
  type IpvsOpResult,
  type ReadOptions,
} from '../ipvs/client.js';
import type { IpvsTable } from '../ipvs/model.js';

export class RecordingClient extends ForwardingIpvsClient {
  /** The last table read through this client and when; null before the first read. */
  last: { table: IpvsTable; readAt: number } | null = null;
  /** Operations sent since the last table read (the table shown may be out of date). */
  writesSinceRead = 0;

  override async readTable(options?: ReadOptions): Promise<IpvsTable> {
    const readAt = Date.now();
    const table = await this.inner.readTable(options);
    this.last = { table, readAt };
    this.writesSinceRead = 0;
    return table;
  }

  override async execute(ops: readonly IpvsOp[]): Promise<IpvsOpResult[]> {
    this.writesSinceRead += ops.length;
    return this.inner.execute(ops);
  }
}
