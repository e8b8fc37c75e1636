/**
 * The one interface through which lvsd reads and changes IPVS. Two implementations:
 * the kernel client over generic netlink (kernel-client.ts) and an in-memory fake that
 * behaves like the kernel (fake.ts). Both pass the contract tests in test/contract.
 *
 * Writes go through `execute`: an ordered batch of operations, sent together, each with a
 * result of its own, so that one refused change is reported against the exact operation
 * and the independent rest still applies.
 */
import type {
  Dest,
  DestKey,
  IpvsInfo,
  IpvsTable,
  LiveDest,
  LiveService,
  Service,
  ServiceKey,
  SyncDaemon,
  Timeouts,
} from './model.js';
import { destId, serviceId } from './model.js';

export type IpvsOp =
  | { op: 'add-service'; service: Service }
  | { op: 'edit-service'; service: Service }
  | { op: 'delete-service'; service: ServiceKey }
  | { op: 'add-dest'; service: ServiceKey; dest: Dest }
  | { op: 'edit-dest'; service: ServiceKey; dest: Dest }
  | { op: 'delete-dest'; service: ServiceKey; dest: DestKey }
  | { op: 'set-timeouts'; timeouts: Partial<Timeouts> }
  | { op: 'add-daemon'; daemon: SyncDaemon }
  | { op: 'delete-daemon'; state: SyncDaemon['state'] }
  | { op: 'zero'; service?: ServiceKey }
  | { op: 'flush' };

export type IpvsOpResult = { ok: true } | { ok: false; error: IpvsError };

/**
 * A refused or failed IPVS operation, worded as ipvsadm users know it
 * ("Service not defined"), with the operation and the object it concerns.
 */
export class IpvsError extends Error {
  override readonly name = 'IpvsError';
  constructor(
    /** What was attempted, e.g. "add-dest". */
    readonly operation: string,
    /** The object concerned, e.g. "TCP 10.0.0.1:80 -> 192.168.10.2:80". */
    readonly object: string,
    /** Positive errno from the kernel (or the fake's imitation), 0 when not from the kernel. */
    readonly errno: number,
    /** The reason alone, e.g. "Destination already exists". */
    readonly reason: string,
  ) {
    super(object ? `${operation} ${object}: ${reason}` : `${operation}: ${reason}`);
  }
}

/** What a read decodes. */
export interface ReadOptions {
  /**
   * Decode counters and rates (default true). The kernel always sends them; a planner that
   * never looks at them saves about half of the decoding of a big table by skipping them.
   */
  stats?: boolean;
  /**
   * Asked between the services of a whole-table read (readTable): true ends the read there
   * with a ReadYielded, nothing read returned. A read writes nothing, so the caller simply
   * reads again later: the daemon's drift check gives way to health decisions with it.
   */
  yieldTo?: () => boolean;
}

export interface IpvsClient {
  getInfo(): Promise<IpvsInfo>;
  listServices(options?: ReadOptions): Promise<LiveService[]>;
  /** null when the kernel has no such service. */
  getService(key: ServiceKey): Promise<LiveService | null>;
  listDests(service: ServiceKey, options?: ReadOptions): Promise<LiveDest[]>;
  /** Every service with its dests. */
  readTable(options?: ReadOptions): Promise<IpvsTable>;
  /**
   * These services with their dests, in the order asked; those the kernel lacks are left
   * out. A scoped pass's read: one batch of lookups and the dest dumps back to back, not a
   * round trip or two per service.
   */
  readServices(keys: readonly ServiceKey[], options?: ReadOptions): Promise<IpvsTable>;
  getTimeouts(): Promise<Timeouts>;
  listDaemons(): Promise<SyncDaemon[]>;
  /** Runs the operations in order; never throws for a refused operation, reports it in its result. */
  execute(ops: readonly IpvsOp[]): Promise<IpvsOpResult[]>;
  close(): Promise<void>;
}

/**
 * An IpvsClient that hands every call to another: wrappers that watch or alter one call
 * (the daemon's table recorder, tests that count or refuse writes) override only that.
 */
export class ForwardingIpvsClient implements IpvsClient {
  constructor(protected readonly inner: IpvsClient) {}
  getInfo(): Promise<IpvsInfo> {
    return this.inner.getInfo();
  }
  listServices(options?: ReadOptions): Promise<LiveService[]> {
    return this.inner.listServices(options);
  }
  getService(key: ServiceKey): Promise<LiveService | null> {
    return this.inner.getService(key);
  }
  listDests(service: ServiceKey, options?: ReadOptions): Promise<LiveDest[]> {
    return this.inner.listDests(service, options);
  }
  readTable(options?: ReadOptions): Promise<IpvsTable> {
    return this.inner.readTable(options);
  }
  readServices(keys: readonly ServiceKey[], options?: ReadOptions): Promise<IpvsTable> {
    return this.inner.readServices(keys, options);
  }
  getTimeouts(): Promise<Timeouts> {
    return this.inner.getTimeouts();
  }
  listDaemons(): Promise<SyncDaemon[]> {
    return this.inner.listDaemons();
  }
  execute(ops: readonly IpvsOp[]): Promise<IpvsOpResult[]> {
    return this.inner.execute(ops);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** How an operation's object is named in messages and plans. */
export function describeOpObject(op: IpvsOp): string {
  switch (op.op) {
    case 'add-service':
    case 'edit-service':
    case 'delete-service':
      return serviceId(op.service);
    case 'add-dest':
    case 'edit-dest':
    case 'delete-dest':
      return `${serviceId(op.service)} -> ${destId(op.dest)}`;
    case 'set-timeouts':
      return 'timeouts';
    case 'add-daemon':
      return `sync daemon ${op.daemon.state}`;
    case 'delete-daemon':
      return `sync daemon ${op.state}`;
    case 'zero':
      return op.service ? serviceId(op.service) : 'all counters';
    case 'flush':
      return 'whole table';
  }
}

/** Runs one operation and throws its IpvsError when refused: for callers that do one thing. */
export async function executeOne(client: IpvsClient, op: IpvsOp): Promise<void> {
  const [result] = await client.execute([op]);
  if (result && !result.ok) throw result.error;
}
