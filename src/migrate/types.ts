/**
 * What an import produces before it is written as YAML: the services in the kernel's own
 * terms (Service and Dest from src/ipvs/model.ts, exactly what keepalived or the ipvsadm
 * script would have programmed), with names, the source line of each part, the lvsd
 * settings that have no kernel counterpart (checks, quorum, sorry server), comments for
 * the output and diagnostics. Both importers (ipvsadm.ts, keepalived-map.ts) fill it and
 * one writer (yaml-out.ts) prints it, so the kernel table is the same whichever way in.
 */
import type { Diagnostic } from '../config/diagnostics.js';
import type { Dest, Service } from '../ipvs/model.js';

/** Where something was written: a file and a line (column 1 when unknown). */
export interface SourcePos {
  file: string;
  line: number;
  column: number;
}

/**
 * A YAML scalar the writer can print, a list of them (status codes, argv), a one-line map,
 * or a list of one-line maps (an http check's urls), written one item a line.
 */
export type Scalar = string | number | boolean;
export interface FlowMap {
  flow: Array<[string, Scalar | Scalar[]]>;
}
export type FieldValue = Scalar | Scalar[] | FlowMap | FlowMap[];
/** The parts of an all check, each written as a block mapping in a list. */
export interface CheckParts {
  parts: CheckOut[];
}

/** An lvsd check as written: its keys in order, and comments to put above it. */
export interface CheckOut {
  fields: Array<[string, FieldValue | CheckParts]>;
  /** Where keepalived's meaning and lvsd's differ, said in keepalived's terms. */
  notes: string[];
  /** Those of the notes that are about the timing (interval, timeout, fall, ...). */
  timingNotes?: string[];
}

export interface ImportedReal {
  dest: Dest;
  source: SourcePos | null;
  /** What the source line said, e.g. "real_server 192.168.1.11 80". */
  origin: string | null;
  /** The real's check; undefined = none (always up). */
  check?: CheckOut;
  notes: string[];
}

export interface ImportedService {
  name: string;
  description?: string;
  source: SourcePos | null;
  /** What the source line said, e.g. "virtual_server 10.0.0.1 80" or "-A -t 10.0.0.1:80 -s rr". */
  origin: string | null;
  service: Service;
  reals: ImportedReal[];
  /** The service's forwarding when it must not be guessed from its reals (the sorry server's). */
  forwarding?: 'nat' | 'dr' | 'tun';
  sorryServer?: string;
  quorum?: number;
  hysteresis?: number;
  alpha?: boolean;
  /** Comment lines above the service: differences of meaning, warnings concerning it. */
  notes: string[];
}

export interface ImportedKernel {
  timeouts?: { tcp?: number; tcpfin?: number; udp?: number };
  sync?: Array<{
    state: 'master' | 'backup';
    interface: string;
    syncid: number;
    syncmaxlen?: number;
    mcast_group?: string;
    mcast_port?: number;
    mcast_ttl?: number;
  }>;
}

/** A key of a VRRP instance: a value, or a block of keys (track:). */
export type VrrpField = [string, FieldValue | { block: Array<[string, FieldValue]> }];

export interface ImportedVrrpInstance {
  name: string;
  source: SourcePos;
  /** What the source line said, e.g. "vrrp_instance VI_1". */
  origin: string;
  fields: VrrpField[];
  /** Comment lines above the instance: differences of meaning, warnings concerning it. */
  notes: string[];
}

export interface ImportedVrrp {
  instances: ImportedVrrpInstance[];
  syncGroups: Array<{ name: string; source: SourcePos; members: string[] }>;
}

export interface ImportResult {
  /** "keepalived" or "ipvsadm": named in the output's header. */
  from: 'keepalived' | 'ipvsadm';
  /** The files read, in order (includes after their includer). */
  files: string[];
  services: ImportedService[];
  kernel: ImportedKernel;
  /** keepalived's VRRP instances (none from ipvsadm). */
  vrrp?: ImportedVrrp;
  /** Comment lines for the top of the output (notes about the whole file). */
  notes: string[];
  /** Errors stop the import; warnings are printed and repeated as comments in the output. */
  diagnostics: Diagnostic[];
}

/** Collects diagnostics with positions, in the shape `lvsd validate` prints. */
export class Findings {
  readonly list: Diagnostic[] = [];
  error(at: SourcePos, message: string): void {
    this.list.push({ severity: 'error', ...at, path: '', message });
  }
  warning(at: SourcePos, message: string): void {
    this.list.push({ severity: 'warning', ...at, path: '', message });
  }
  get failed(): boolean {
    return this.list.some((d) => d.severity === 'error');
  }
}

/**
 * The scheduler flags as ipvsadm's --sched-flags and keepalived's virtual_server keywords
 * spell them (ipvsadm.c, check_parser.c), with the IP_VS_SVC_F_SCHED bit each sets and the
 * scheduler it belongs to (none: any).
 */
export const SCHED_FLAG_BITS: Readonly<
  Record<string, { bit: 'sched1' | 'sched2' | 'sched3'; scheduler?: string }>
> = {
  'flag-1': { bit: 'sched1' },
  'flag-2': { bit: 'sched2' },
  'flag-3': { bit: 'sched3' },
  'sh-fallback': { bit: 'sched1', scheduler: 'sh' },
  'sh-port': { bit: 'sched2', scheduler: 'sh' },
  'mh-fallback': { bit: 'sched1', scheduler: 'mh' },
  'mh-port': { bit: 'sched2', scheduler: 'mh' },
};
