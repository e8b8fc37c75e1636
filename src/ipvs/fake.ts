/**
 * An in-memory IPVS that behaves like the kernel's (net/netfilter/ipvs/ip_vs_ctl.c as seen
 * through generic netlink), for unit tests of everything above src/ipvs:
 *
 * - the same checks in the same order, with the same errno (EEXIST for a duplicate service
 *   or dest, ESRCH for a missing service, ENOENT for a missing dest or an unknown scheduler
 *   or persistence engine, ERANGE for lower > upper threshold, EINVAL for a GUE tunnel
 *   without port, a non-unicast dest address, mixed families without tunnelling, ...);
 * - the same identity rules: a service is (family, protocol, address, port) or
 *   (family, fwmark); a dest within its service is (family, address, port);
 * - the same defaults: timeouts tcp 900 / tcpfin 120 / udp 300 s, a sync daemon's multicast
 *   group 224.0.0.81, port 8848, TTL 1; the HASHED flag is never shown;
 * - the same listing order: dests newest first (the kernel adds them at the list head);
 * - the same refusals of DEL_DEST/ZERO on a missing service and the same silence of a dest
 *   dump for a missing service (an empty list, no error).
 *
 * It opens no socket and needs no native binding, so it loads anywhere. The contract tests in test/contract run
 * against it and against the kernel client; where they disagree, the kernel is right.
 */
import { canonicalAddress, familyOf } from '../netlink/inet.js';
import type { IpvsClient, IpvsOp, IpvsOpResult, ReadOptions } from './client.js';
import { Errno } from '../netlink/constants.js';
import {
  formatVersion,
  IP_VS_VERSION_CODE,
  KNOWN_PERSISTENCE_ENGINES,
  KNOWN_SCHEDULERS,
} from './constants.js';
import { opError, ReadYielded, validateOp } from './errors.js';
import type {
  Dest,
  DestKey,
  Family,
  IpvsInfo,
  IpvsTable,
  LiveDest,
  LiveService,
  Service,
  ServiceKey,
  Stats,
  SyncDaemon,
  Timeouts,
} from './model.js';
import { emptyStats, isFwmarkKey, serviceKeyOf } from './model.js';

export interface FakeIpvsOptions {
  /** Scheduler modules the fake kernel can load (default: those of a stock Debian 6.1 kernel). */
  schedulers?: readonly string[];
  /** Persistence engine modules (default: sip). */
  persistenceEngines?: readonly string[];
  /** Interfaces a sync daemon may bind to; undefined accepts any name. */
  interfaces?: readonly string[];
  /** IP_VS_CONN_TAB_SIZE (default 4096, the kernel's default of 2^12). */
  connTableSize?: number;
  /** Addresses that count as local (for IPv6 link-local dests); default none. */
  localAddresses?: readonly string[];
}

interface FakeDest {
  dest: Dest;
  activeConns: number;
  inactiveConns: number;
  persistConns: number;
  stats: Stats;
}

interface FakeService {
  service: Service;
  stats: Stats;
  /** Newest first, as the kernel lists them. */
  dests: FakeDest[];
}

const DEFAULT_TIMEOUTS: Timeouts = { tcp: 900, tcpFin: 120, udp: 300 };
const SYNC_DEFAULT_GROUP = '224.0.0.81';
const SYNC_DEFAULT_PORT = 8848;
const SYNC_DEFAULT_TTL = 1;
/** An Ethernet MTU of 1500 minus IPv4 (20) and UDP (8) headers. */
const SYNC_DEFAULT_MAXLEN_V4 = 1472;
const SYNC_DEFAULT_MAXLEN_V6 = 1452;
/** INT_MAX / HZ with the Debian kernel's HZ=250: larger timeouts are EINVAL. */
const MAX_TIMEOUT = Math.floor(0x7fffffff / 250);

/** A read with `stats: false` decodes no counters, as the kernel client then does. */
function withoutStats<T extends { stats?: Stats }>(object: T, options: ReadOptions): T {
  if (options.stats !== false) return object;
  const { stats: _stats, ...rest } = object;
  return rest as T;
}

function keyString(key: ServiceKey): string {
  if (isFwmarkKey(key)) return `${key.family}|fwm|${key.fwmark}`;
  return `${key.family}|${key.protocol}|${canonicalAddress(key.address) ?? key.address}|${key.port}`;
}

function sameDest(
  a: { address: string; port: number; family: Family },
  b: { address: string; port: number; family: Family },
): boolean {
  return (
    a.family === b.family &&
    a.port === b.port &&
    canonicalAddress(a.address) === canonicalAddress(b.address)
  );
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** inet_addr_type() != RTN_UNICAST/RTN_LOCAL, and ipv6_addr_type() without UNICAST or with LINKLOCAL. */
function isUnusableDestAddress(
  address: string,
  family: Family,
  local: ReadonlySet<string>,
): boolean {
  const canonical = canonicalAddress(address) ?? address;
  if (family === 'ipv4') {
    const [a, , , d] = canonical.split('.').map(Number) as [number, number, number, number];
    if (canonical === '0.0.0.0' || canonical === '255.255.255.255') return true;
    if (a >= 224) return true; // multicast and class E
    if (a === 0) return true;
    void d;
    return false;
  }
  if (canonical === '::' || canonical.startsWith('ff')) return true; // unspecified, multicast
  if (/^fe[89ab]/.test(canonical)) return !local.has(canonical); // link-local
  return false;
}

function isMulticast(address: string): boolean {
  const family = familyOf(address);
  if (family === 'ipv4')
    return Number(address.split('.')[0]) >= 224 && Number(address.split('.')[0]) <= 239;
  if (family === 'ipv6') return (canonicalAddress(address) ?? '').startsWith('ff');
  return false;
}

export class FakeIpvs implements IpvsClient {
  private readonly services = new Map<string, FakeService>();
  private timeouts: Timeouts = { ...DEFAULT_TIMEOUTS };
  private readonly daemons = new Map<SyncDaemon['state'], SyncDaemon>();
  private readonly schedulers: ReadonlySet<string>;
  private readonly engines: ReadonlySet<string>;
  private readonly interfaces: ReadonlySet<string> | null;
  private readonly local: ReadonlySet<string>;
  private readonly connTableSize: number;
  private closed = false;
  /** Every operation executed, in order (for tests that check what was sent). */
  readonly log: IpvsOp[] = [];

  constructor(options: FakeIpvsOptions = {}) {
    this.schedulers = new Set(options.schedulers ?? KNOWN_SCHEDULERS);
    this.engines = new Set(options.persistenceEngines ?? KNOWN_PERSISTENCE_ENGINES);
    this.interfaces = options.interfaces ? new Set(options.interfaces) : null;
    this.local = new Set((options.localAddresses ?? []).map((a) => canonicalAddress(a) ?? a));
    this.connTableSize = options.connTableSize ?? 4096;
  }

  // -------------------------------------------------------------------------
  // Reads

  async getInfo(): Promise<IpvsInfo> {
    this.checkOpen();
    return { version: formatVersion(IP_VS_VERSION_CODE), connTableSize: this.connTableSize };
  }

  async listServices(options: ReadOptions = {}): Promise<LiveService[]> {
    this.checkOpen();
    return [...this.services.values()].map((s) =>
      withoutStats(this.liveService(s, false), options),
    );
  }

  async getService(key: ServiceKey): Promise<LiveService | null> {
    this.checkOpen();
    const svc = this.services.get(keyString(key));
    return svc ? this.liveService(svc, false) : null;
  }

  async listDests(key: ServiceKey, options: ReadOptions = {}): Promise<LiveDest[]> {
    this.checkOpen();
    const svc = this.services.get(keyString(key));
    // The kernel's dest dump for an unknown service ends without entries and without error.
    return svc ? svc.dests.map((d) => withoutStats(this.liveDest(d), options)) : [];
  }

  async readTable(options: ReadOptions = {}): Promise<IpvsTable> {
    this.checkOpen();
    const services = [...this.services.values()];
    // As the kernel client: asked before each service's dests are read.
    if (options.yieldTo && services.some(() => options.yieldTo?.())) throw new ReadYielded();
    return this.tableOf(services, options);
  }

  async readServices(keys: readonly ServiceKey[], options: ReadOptions = {}): Promise<IpvsTable> {
    this.checkOpen();
    const found = keys.map((key) => this.services.get(keyString(key)));
    return this.tableOf(
      found.filter((s): s is FakeService => s !== undefined),
      options,
    );
  }

  async getTimeouts(): Promise<Timeouts> {
    this.checkOpen();
    return { ...this.timeouts };
  }

  async listDaemons(): Promise<SyncDaemon[]> {
    this.checkOpen();
    const out: SyncDaemon[] = [];
    for (const state of ['master', 'backup'] as const) {
      const d = this.daemons.get(state);
      if (d) out.push(clone(d));
    }
    return out;
  }

  // -------------------------------------------------------------------------
  // Writes

  async execute(ops: readonly IpvsOp[]): Promise<IpvsOpResult[]> {
    this.checkOpen();
    return ops.map((op) => {
      this.log.push(clone(op));
      const invalid = validateOp(op);
      if (invalid) return { ok: false, error: invalid };
      const errno = this.apply(op);
      return errno === 0 ? { ok: true } : { ok: false, error: opError(op, errno) };
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  // -------------------------------------------------------------------------
  // Test helpers (not part of IpvsClient)

  /** Sets a service's or dest's counters and connection counts, as traffic would. */
  setCounters(
    key: ServiceKey,
    counters: {
      stats?: Partial<Stats>;
      dest?: DestKey;
      activeConns?: number;
      inactiveConns?: number;
      persistConns?: number;
    },
  ): void {
    const svc = this.services.get(keyString(key));
    if (!svc) throw new Error(`no such service in fake: ${keyString(key)}`);
    if (!counters.dest) {
      Object.assign(svc.stats, counters.stats ?? {});
      return;
    }
    const d = svc.dests.find(
      (x) =>
        x.dest.port === counters.dest!.port &&
        canonicalAddress(x.dest.address) === canonicalAddress(counters.dest!.address),
    );
    if (!d) throw new Error('no such dest in fake');
    Object.assign(d.stats, counters.stats ?? {});
    if (counters.activeConns !== undefined) d.activeConns = counters.activeConns;
    if (counters.inactiveConns !== undefined) d.inactiveConns = counters.inactiveConns;
    if (counters.persistConns !== undefined) d.persistConns = counters.persistConns;
  }

  // -------------------------------------------------------------------------

  private checkOpen(): void {
    if (this.closed) throw new Error('FakeIpvs is closed');
  }

  private tableOf(services: readonly FakeService[], options: ReadOptions): IpvsTable {
    const live = services.map((s) => this.liveService(s, true));
    if (options.stats !== false) return { services: live };
    return {
      services: live.map((s) => ({
        ...withoutStats(s, options),
        dests: s.dests.map((d) => withoutStats(d, options)),
      })),
    };
  }

  private liveService(svc: FakeService, withDests: boolean): LiveService {
    return {
      ...clone(svc.service),
      stats: { ...svc.stats },
      dests: withDests ? svc.dests.map((d) => this.liveDest(d)) : [],
    } as LiveService;
  }

  private liveDest(d: FakeDest): LiveDest {
    return {
      ...clone(d.dest),
      activeConns: d.activeConns,
      inactiveConns: d.inactiveConns,
      persistConns: d.persistConns,
      stats: { ...d.stats },
    };
  }

  private mixedFamilyDests(): number {
    let n = 0;
    for (const svc of this.services.values()) {
      for (const d of svc.dests) if (d.dest.family !== svc.service.family) n++;
    }
    return n;
  }

  /** ip_vs_genl_set_cmd / ip_vs_genl_set_daemon: 0 or a positive errno. */
  private apply(op: IpvsOp): number {
    const global = this.applyGlobal(op);
    if (global !== null) return global;
    // Every op left names a service: those that name none were applied above.
    if (!('service' in op) || !op.service) return Errno.EINVAL;
    const k = keyString(op.service);
    const svc = this.services.get(k);
    if (op.op !== 'add-service' && !svc) return Errno.ESRCH;
    if (op.op === 'add-dest' || op.op === 'edit-dest' || op.op === 'delete-dest') {
      const s = svc as FakeService;
      const destFamily: Family =
        'family' in op.dest ? op.dest.family : (familyOf(op.dest.address) ?? s.service.family);
      if (destFamily !== s.service.family && op.op !== 'delete-dest') {
        if (this.daemons.size > 0) return Errno.EINVAL;
        if ((op.dest as Dest).forwarding !== 'tun') return Errno.EINVAL;
      }
    }
    return this.applyToService(op, k, svc);
  }

  /** The commands that name no service (flush, timeouts, zero all, daemons); null for the others. */
  private applyGlobal(op: IpvsOp): number | null {
    switch (op.op) {
      case 'flush':
        this.services.clear();
        return 0;
      case 'set-timeouts':
        return this.setTimeouts(op.timeouts);
      case 'zero':
        if (op.service) return null;
        for (const svc of this.services.values()) this.zeroService(svc);
        return 0;
      case 'add-daemon':
        return this.addDaemon(op.daemon);
      case 'delete-daemon':
        if (!this.daemons.has(op.state)) return Errno.ESRCH;
        this.daemons.delete(op.state);
        return 0;
      default:
        return null;
    }
  }

  /** A command on one service (k) or its dests; `svc` is absent only for add-service. */
  private applyToService(op: IpvsOp, k: string, svc: FakeService | undefined): number {
    switch (op.op) {
      case 'add-service': {
        if (svc) return Errno.EEXIST;
        const err = this.checkServiceSettings(op.service);
        if (err) return err;
        this.services.set(k, {
          service: normalizeService(op.service),
          stats: emptyStats(),
          dests: [],
        });
        return 0;
      }
      case 'edit-service': {
        const err = this.checkServiceSettings(op.service);
        if (err) return err;
        (svc as FakeService).service = normalizeService(op.service);
        return 0;
      }
      case 'delete-service':
        this.services.delete(k);
        return 0;
      case 'zero':
        this.zeroService(svc as FakeService);
        return 0;
      case 'add-dest':
        return this.addDest(svc as FakeService, op.dest);
      case 'edit-dest': {
        const s = svc as FakeService;
        const err = checkDestSettings(op.dest);
        if (err) return err;
        const d = s.dests.find((x) => sameDest(x.dest, op.dest));
        if (!d) return Errno.ENOENT;
        d.dest = normalizeDest(op.dest);
        return 0;
      }
      case 'delete-dest': {
        const s = svc as FakeService;
        const family: Family = familyOf(op.dest.address) ?? s.service.family;
        const i = s.dests.findIndex((x) => sameDest(x.dest, { ...op.dest, family }));
        if (i < 0) return Errno.ENOENT;
        s.dests.splice(i, 1);
        return 0;
      }
      default:
        return Errno.EINVAL;
    }
  }

  /** ip_vs_add_dest: settings, then a duplicate, then an address the kernel cannot use. */
  private addDest(s: FakeService, dest: Dest): number {
    const err = checkDestSettings(dest);
    if (err) return err;
    if (s.dests.some((d) => sameDest(d.dest, dest))) return Errno.EEXIST;
    if (isUnusableDestAddress(dest.address, dest.family, this.local)) return Errno.EINVAL;
    s.dests.unshift({
      dest: normalizeDest(dest),
      activeConns: 0,
      inactiveConns: 0,
      persistConns: 0,
      stats: emptyStats(),
    });
    return 0;
  }

  /** ip_vs_add_service / ip_vs_edit_service: scheduler, then engine, then the IPv6 prefix. */
  private checkServiceSettings(service: Service): number {
    if (service.scheduler !== 'none' && !this.schedulers.has(service.scheduler))
      return Errno.ENOENT;
    if (service.pe && !this.engines.has(service.pe)) return Errno.ENOENT;
    if (service.family === 'ipv6' && (service.netmask < 1 || service.netmask > 128))
      return Errno.EINVAL;
    return 0;
  }

  private zeroService(svc: FakeService): void {
    svc.stats = emptyStats();
    for (const d of svc.dests) d.stats = emptyStats();
  }

  /** ip_vs_set_timeout: values beyond INT_MAX/HZ are EINVAL, 0 keeps the current value. */
  private setTimeouts(t: Partial<Timeouts>): number {
    const next = { ...this.timeouts };
    for (const name of ['tcp', 'tcpFin', 'udp'] as const) {
      const value = t[name];
      if (value === undefined) continue;
      if (value > MAX_TIMEOUT) return Errno.EINVAL;
      if (value !== 0) next[name] = value;
    }
    this.timeouts = next;
    return 0;
  }

  /** ip_vs_genl_new_daemon + start_sync_thread. */
  private addDaemon(daemon: SyncDaemon): number {
    if (daemon.mcastGroup && !isMulticast(daemon.mcastGroup)) return Errno.EINVAL;
    if (this.mixedFamilyDests() > 0) return Errno.EINVAL;
    if (this.daemons.has(daemon.state)) return Errno.EEXIST;
    if (this.interfaces && !this.interfaces.has(daemon.interface)) return Errno.ENODEV;
    const v6 = daemon.mcastGroup ? familyOf(daemon.mcastGroup) === 'ipv6' : false;
    this.daemons.set(daemon.state, {
      state: daemon.state,
      interface: daemon.interface,
      syncId: daemon.syncId,
      syncMaxLen: daemon.syncMaxLen || (v6 ? SYNC_DEFAULT_MAXLEN_V6 : SYNC_DEFAULT_MAXLEN_V4),
      mcastGroup: daemon.mcastGroup ? canonicalAddress(daemon.mcastGroup) : SYNC_DEFAULT_GROUP,
      mcastPort: daemon.mcastPort || SYNC_DEFAULT_PORT,
      mcastTtl: daemon.mcastTtl || SYNC_DEFAULT_TTL,
    });
    return 0;
  }
}

/** ip_vs_add_dest / ip_vs_edit_dest: thresholds (ERANGE), then the GUE port (EINVAL). */
function checkDestSettings(dest: Dest): number {
  if (dest.lowerThreshold > dest.upperThreshold) return Errno.ERANGE;
  if (dest.tunnelType === 'gue' && dest.tunnelPort === 0) return Errno.EINVAL;
  return 0;
}

function normalizeService(service: Service): Service {
  const copy = clone(service);
  if (!isFwmarkKey(copy)) copy.address = canonicalAddress(copy.address) ?? copy.address;
  return { ...serviceKeyOf(copy), ...pickSettings(copy) } as Service;
}

function pickSettings(
  service: Service,
): Omit<Service, 'family' | 'protocol' | 'address' | 'port' | 'fwmark'> {
  return {
    scheduler: service.scheduler,
    flags: { ...service.flags },
    timeout: service.timeout,
    netmask: service.netmask,
    pe: service.pe ?? null,
  };
}

function normalizeDest(dest: Dest): Dest {
  return {
    address: canonicalAddress(dest.address) ?? dest.address,
    port: dest.port,
    family: dest.family,
    forwarding: dest.forwarding,
    weight: dest.weight,
    upperThreshold: dest.upperThreshold,
    lowerThreshold: dest.lowerThreshold,
    tunnelType: dest.tunnelType,
    tunnelPort: dest.tunnelPort,
    tunnelFlags: { ...dest.tunnelFlags },
  };
}
