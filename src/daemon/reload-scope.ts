/**
 * What a reload changed, for the pass that follows it. keepalived diffs its old and new
 * config and writes only the change; lvsd does the same while keeping the kernel as its
 * truth: when the reload only adds or edits services, the pass reads, plans and writes
 * those services alone (a scoped pass), and the drift timer's full pass still reads the
 * whole table. Anything a scoped pass cannot see (a service removed or moved to another
 * address, kernel settings, VIPs, the reconcile policy) asks for a full pass. Pure.
 */
import type { ResolvedConfig, ResolvedService } from '../config/resolved.js';
import { serviceId } from '../ipvs/model.js';
import { sameValue } from '../util/same-value.js';

const declaredOrUnset = (key: string, value: unknown) => key === 'source' || value === undefined;

/**
 * Deep equality of two resolved configs' parts, where things were declared (`source`, which
 * moves with every edit above them and changes nothing in the kernel) left out. Absent and
 * undefined are the same. A walk, not two JSON strings: a reload compares every service.
 */
export function same(a: unknown, b: unknown): boolean {
  return sameValue(a, b, declaredOrUnset);
}

/**
 * The names of the services whose pass makes the kernel follow `next` from `previous`
 * (empty: nothing to do), or null when only a full pass can.
 */
export function reloadScope(previous: ResolvedConfig, next: ResolvedConfig): Set<string> | null {
  if (!same(previous.kernel, next.kernel) || !same(previous.vips, next.vips)) return null;
  if (!same(previous.reconcile, next.reconcile)) return null;
  const before = new Map(previous.services.map((s) => [s.name, s]));
  const changed = new Set<string>();
  for (const service of next.services) {
    const old = before.get(service.name);
    before.delete(service.name);
    // The loader hands back the same object for a service written as before (config/memo.ts).
    if (old === service) continue;
    if (!old) {
      if (service.vip) return null; // its address is added by a full pass
      changed.add(service.name);
      continue;
    }
    if (!sameKernelObject(old, service)) return null;
    if (!same(old, service)) changed.add(service.name);
  }
  // A service gone from the config is removed by a full pass, where the guard sees them all.
  return before.size > 0 ? null : changed;
}

/** The same virtual service in the kernel, and the same VIP: otherwise the old one must go. */
function sameKernelObject(a: ResolvedService, b: ResolvedService): boolean {
  return serviceId(a.service) === serviceId(b.service) && same(a.vip, b.vip);
}
