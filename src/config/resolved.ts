/**
 * The config after loading: files merged, host overrides applied, defaults inherited,
 * validated, and translated to kernel-model objects. This is what the rest of lvsd sees;
 * nothing downstream reads YAML. Produced by loadConfig() (src/config/index.ts).
 */
import type { Dest, Service, SyncDaemon, Timeouts } from '../ipvs/model.js';
import type { CheckConfig } from './check.js';
import type { ResolvedAnnounce } from './announce.js';
import type { ResolvedVrrp } from './vrrp.js';

/** Where a thing was declared, for messages. */
export interface SourceRef {
  file: string;
  line: number;
  column: number;
}

export interface ResolvedReal {
  /** destId(dest): "192.168.10.2:80", "[2001:db8::2]:80". Unique within its service. */
  id: string;
  /** The dest as configured (weight before health). */
  dest: Dest;
  /** The effective check: the real's own, else the service's; null = not checked (always up). */
  check: CheckConfig | null;
  source: SourceRef;
}

export interface ResolvedVip {
  address: string;
  /** Prefix length to add the address with (32 / 128 by default). */
  prefix: number;
  interface: string;
}

export interface ResolvedService {
  /** The key under `services:`. */
  name: string;
  service: Service;
  reals: ResolvedReal[];
  /** The service-level check (reals may override it). */
  check: CheckConfig | null;
  /** Minimum sum of healthy weights; below it the sorry server goes in. null = no quorum. */
  quorum: { min: number; hysteresis: number } | null;
  /** Put in when quorum is lost (or all reals are down), taken out when it returns. */
  sorry: Dest | null;
  /** Alpha mode: every real starts down, whatever its check's `initial` says. */
  alpha: boolean;
  /** lvsd holds the service address on this interface; null = addresses are left alone. */
  vip: ResolvedVip | null;
  source: SourceRef;
}

export interface ResolvedConfig {
  /** Files read, in load order. */
  files: string[];
  /** sha256 of the files' contents (and the host chosen): identifies a config in /status and logs. */
  hash: string;
  /** The `hosts:` entry applied, or null. */
  host: string | null;
  /**
   * The config declares no service: an empty file, only comments, no `services` or an
   * empty one, or every service `enabled: false`. Applying it removes every service lvsd
   * manages, which is also what an emptied or truncated file would do, so the loader warns
   * (diagnostic code 'no-services') and a removal guard can refuse it unless forced.
   * The loader always sets it; optional only so that configs built by hand (tests) need not.
   */
  declaresNoServices?: boolean;
  services: ResolvedService[];
  kernel: {
    /** Only the timeouts the config sets; absent = leave them alone. */
    timeouts?: Partial<Timeouts>;
    /** Absent = leave sync daemons alone; [] = none should run. */
    daemons?: SyncDaemon[];
    /** Sysctls to hold, by dotted name ("net.ipv4.vs.conn_reuse_mode": 1). */
    sysctls: Record<string, number>;
  };
  /** Extra addresses to hold (top-level `vips:`), besides services' own. */
  vips: ResolvedVip[];
  reconcile: {
    /** A removed real keeps its connections at weight 0 this long before deletion; 0 deletes at once. */
    drainTimeoutMs: number;
    prune: 'managed' | 'all';
    /** The daemon re-reads the kernel and repairs drift this often. */
    driftIntervalMs: number;
    /** The largest share (0..1) of managed services one pass may start removing. */
    maxRemoval: number;
    /** The guard against mass removal is off (the operator's explicit word). */
    allowMassRemoval: boolean;
  };
  /** VRRP instances (the `vrrp:` section); absent when the config has none. */
  vrrp?: ResolvedVrrp;
  /** VIPs announced over BGP (the `announce:` section); absent when the config has none. */
  announce?: ResolvedAnnounce;
}
