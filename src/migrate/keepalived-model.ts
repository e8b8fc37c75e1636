/**
 * keepalived's LVS configuration as its parser (keepalived/check/check_parser.c) keeps it:
 * virtual servers with what each keyword set (undefined = not written, so keepalived's
 * defaults and the virtual server -> real server -> checker inheritance can be applied
 * later, as validate_check_config() does), virtual server groups, the SSL block and the
 * global_defs that concern IPVS. Times are milliseconds.
 */
import type { Family, Protocol, TunnelType } from '../ipvs/model.js';
import type { Statement } from './keepalived-lexer.js';
import type { ParsedVrrp } from './keepalived-vrrp-parser.js';
import type { SourcePos } from './types.js';

/** lvs_method / lb_kind: NAT, DR, or TUN with its tunnel options. */
export interface LvsMethod {
  method: 'nat' | 'dr' | 'tun';
  tunnelType: TunnelType;
  tunnelPort: number;
  checksum: 'none' | 'csum' | 'remcsum';
}

export interface Address {
  address: string;
  family: Family;
  /** 0 when not given (keepalived treats port 0 as none). */
  port: number;
}

/** Keywords a checker inherits from its real server, and a real server from its virtual server. */
export interface CheckerDefaults {
  delayLoopMs?: number;
  connectTimeoutMs?: number;
  retry?: number;
  delayBeforeRetryMs?: number;
  warmupMs?: number;
  alpha?: boolean;
  virtualhost?: string;
}

export interface CheckerBlock {
  type: string;
  stmt: Statement;
}

/** What belongs to a virtual server: warnings (printed and repeated above its service) and notes. */
export interface Warned {
  warnings: Array<{ pos: SourcePos; message: string }>;
  notes: string[];
}

export interface RealServer extends CheckerDefaults {
  pos: SourcePos;
  origin: string;
  addr: Address;
  forwarding?: LvsMethod;
  weight?: number;
  uthreshold: number;
  lthreshold: number;
  inhibit?: boolean;
  checkers: CheckerBlock[];
}

export interface SorryServer {
  pos: SourcePos;
  addr: Address;
  forwarding?: LvsMethod;
  inhibit: boolean;
}

export type VirtualServerId =
  | { kind: 'address'; addr: Address }
  | { kind: 'fwmark'; fwmark: number }
  | { kind: 'group'; name: string };

export interface VirtualServer extends CheckerDefaults, Warned {
  pos: SourcePos;
  origin: string;
  comments: string[];
  id: VirtualServerId;
  protocol?: Protocol;
  scheduler?: string;
  /** Scheduler flags in keepalived's bits; sh-/mh- names set while the scheduler was sh/mh. */
  flags: { ops: boolean; sched1: boolean; sched2: boolean; sched3: boolean };
  forwarding?: LvsMethod;
  persistenceTimeout?: number;
  /** persistence_granularity: an IPv4 mask's prefix length, or an IPv6 prefix length. */
  granularity?: number;
  persistenceEngine?: string;
  ipFamily?: Family;
  inhibit: boolean;
  quorum: number;
  hysteresis: number;
  /** Default weight of its real servers (keepalived's virtual server `weight`). */
  weight: number;
  sorry?: SorryServer;
  reals: RealServer[];
}

export type GroupEntry =
  | { kind: 'range'; pos: SourcePos; family: Family; addresses: string[]; port: number }
  | { kind: 'fwmark'; pos: SourcePos; fwmark: number; family?: Family };

export interface Group {
  name: string;
  pos: SourcePos;
  comments: string[];
  entries: GroupEntry[];
}

export interface SslSettings {
  pos: SourcePos;
  ca?: string;
  certificate?: string;
  key?: string;
  password?: string;
}

export interface KeepalivedConfig {
  virtualServers: VirtualServer[];
  groups: Map<string, Group>;
  ssl?: SslSettings;
  timeouts?: { tcp?: number; tcpfin?: number; udp?: number; pos: SourcePos };
  vrrp: ParsedVrrp;
}
