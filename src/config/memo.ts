/**
 * A reload reads the whole file again, but most of its services are written exactly as in
 * the last load: keepalived diffs its old and new config, and so can lvsd, one step earlier.
 * A service whose data (after the merge of a directory and the host's entry) is the same as
 * in the last good load, with everything outside `services:` the same too, skips the shape
 * check (zod) and resolving: resolving a service depends only on its own data, its name and
 * `defaults`, so the last result is this load's result: the same object (a reload's scope
 * then sees it unchanged at once). Its findings (warnings) are said again. Its source refs
 * look through the memo's cell, which a good load points at its own text: a line added
 * above a service moves it, and its refs say so. The replaced config's refs see the new
 * text too: when the guard refuses a reload and the daemon puts the previous config back,
 * its services are placed in the refused text (the file on disk), and a service that text
 * lacks at its `services:` key. The rules across services (one IPVS service per name, VIPs, VRRP, announce) run on the
 * whole set every time. An invalid load neither uses nor changes what is kept.
 */
import type { Finding } from './issues.js';
import { isPlainObject, type Provenance } from './merge.js';
import type { ResolvedService } from './resolved.js';
import type { ProvCell } from './source-ref.js';
import { EntryMemo } from './yaml-fast.js';

interface Kept {
  /** The service as written (the loader's data, never changed after the load). */
  data: unknown;
  /** null: disabled (enabled: false). */
  service: ResolvedService | null;
  findings: Finding[];
}

/** One load's use of the memo: what it recalls, and what it will keep if it succeeds. */
export class MemoLoad {
  private readonly next = new Map<string, Kept>();
  constructor(
    private readonly memo: ServiceMemo,
    private readonly services: Record<string, unknown> | null,
    private readonly rest: unknown,
    /** Services written as in the last good load. */
    readonly reused: ReadonlyMap<string, Kept>,
  ) {}

  /** The data to check the shape of: the services not recalled (the others passed before). */
  toValidate(data: unknown): unknown {
    if (this.reused.size === 0 || !this.services) return data;
    const changed = Object.fromEntries(
      Object.entries(this.services).filter(([name]) => !this.reused.has(name)),
    );
    return { ...(data as Record<string, unknown>), services: changed };
  }

  /** Every service name as written, in order (the validated data lacks the recalled ones). */
  names(): string[] {
    return this.services ? Object.keys(this.services) : [];
  }

  /** The last result for this service (the same object), and its findings. */
  recall(name: string): { service: ResolvedService | null; findings: Finding[] } | undefined {
    const kept = this.reused.get(name);
    if (!kept) return undefined;
    // Kept with this load's data, so that no older load's data stays alive through it.
    this.next.set(name, { ...kept, data: this.services?.[name] });
    return kept;
  }

  /** A service resolved in this load (null: disabled), kept if the load succeeds. */
  keep(name: string, service: ResolvedService | null, findings: Finding[]): void {
    const data = this.services?.[name];
    if (data !== undefined) this.next.set(name, { data, service, findings });
  }

  /** Where this load's refs look (the memo's cell: this load's text once it succeeds). */
  get cell(): ProvCell {
    return this.memo.cell;
  }

  /** The load succeeded: its services are what the next load compares with, its text where refs look. */
  commit(prov: Provenance): void {
    this.memo.replace(this.rest, this.next, prov);
  }
}

export class ServiceMemo {
  readonly cell: ProvCell = { prov: null };
  private rest: unknown = undefined;
  private kept = new Map<string, Kept>();
  /** Each file's services entries as last read (yaml-fast.ts), by file name. */
  private readonly files = new Map<string, EntryMemo>();

  /** The YAML reader's memo for each of these files; files no longer read are forgotten. */
  readers(names: readonly string[]): Map<string, EntryMemo> {
    for (const name of this.files.keys()) if (!names.includes(name)) this.files.delete(name);
    for (const name of names) if (!this.files.has(name)) this.files.set(name, new EntryMemo());
    return this.files;
  }

  /** Starts a load of `data` (the loader's data after merge and host entry). */
  begin(data: unknown): MemoLoad {
    const services = isPlainObject(data) && isPlainObject(data.services) ? data.services : null;
    const rest = isPlainObject(data)
      ? Object.fromEntries(Object.entries(data).filter(([key]) => key !== 'services'))
      : data;
    const reused = new Map<string, Kept>();
    if (services && this.kept.size > 0 && sameData(rest, this.rest)) {
      for (const [name, svc] of Object.entries(services)) {
        const kept = this.kept.get(name);
        if (kept && sameData(kept.data, svc)) reused.set(name, kept);
      }
    }
    return new MemoLoad(this, services, rest, reused);
  }

  replace(rest: unknown, kept: Map<string, Kept>, prov: Provenance): void {
    this.rest = rest;
    this.kept = kept;
    this.cell.prov = prov;
  }
}

/** Equal plain data (what a YAML reader returns), keys in the same order. */
export function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    if (a.length !== other.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], other[i])) return false;
    return true;
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  const otherKeys = Object.keys(right);
  if (keys.length !== otherKeys.length) return false;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (key !== otherKeys[i] || !sameData(left[key], right[key])) return false;
  }
  return true;
}
