/**
 * Attribute comparison: which fields of a service or dest differ, worded for a plan.
 * Identity (what makes two objects the same) lives in src/ipvs/model.ts; everything
 * compared here can be edited in place by SET_SERVICE / SET_DEST (ip_vs_edit_service
 * swaps scheduler, flags, timeout, netmask and persistence engine; __ip_vs_update_dest
 * rewrites weight, forwarding, thresholds and tunnel settings), so a difference here is
 * always an edit, never a re-create.
 */
import type { Dest, Service } from '../ipvs/model.js';

export interface FieldChange {
  field: string;
  from: string;
  to: string;
}

type Comparable = string | number | boolean | null;

/**
 * What a comparison that finds nothing returns, shared: a no-op plan of 50,000 dests
 * compares them all, and building the field texts and arrays for each was most of it.
 */
const UNCHANGED: FieldChange[] = Object.freeze([]) as unknown as FieldChange[];

function change(field: string, from: Comparable, to: Comparable): FieldChange[] {
  return from === to ? [] : [{ field, from: String(from), to: String(to) }];
}

function serviceFlagsText(service: Service): string {
  const { flags } = service;
  const names = [
    flags.persistent && 'persistent',
    flags.onePacket && 'ops',
    flags.sched1 && 'flag-1',
    flags.sched2 && 'flag-2',
    flags.sched3 && 'flag-3',
  ].filter(Boolean);
  return names.length ? names.join(',') : 'none';
}

function sameFlags(a: Service['flags'], b: Service['flags']): boolean {
  return (
    !a.persistent === !b.persistent &&
    !a.onePacket === !b.onePacket &&
    !a.sched1 === !b.sched1 &&
    !a.sched2 === !b.sched2 &&
    !a.sched3 === !b.sched3
  );
}

/** No attribute of diffService's differs (a test without the texts of a diff). */
export function sameServiceAttributes(actual: Service, desired: Service): boolean {
  return (
    actual.scheduler === desired.scheduler &&
    sameFlags(actual.flags, desired.flags) &&
    actual.timeout === desired.timeout &&
    actual.netmask === desired.netmask &&
    (actual.pe ?? 'none') === (desired.pe ?? 'none')
  );
}

export function diffService(actual: Service, desired: Service): FieldChange[] {
  if (sameServiceAttributes(actual, desired)) return UNCHANGED;
  return [
    ...change('scheduler', actual.scheduler, desired.scheduler),
    ...change('flags', serviceFlagsText(actual), serviceFlagsText(desired)),
    ...change('persistence timeout', actual.timeout, desired.timeout),
    ...change('netmask', `/${actual.netmask}`, `/${desired.netmask}`),
    ...change('persistence engine', actual.pe ?? 'none', desired.pe ?? 'none'),
  ];
}

function tunnelText(dest: Dest): string {
  const flags = [dest.tunnelFlags.csum && 'csum', dest.tunnelFlags.remcsum && 'remcsum'].filter(
    Boolean,
  );
  const port = dest.tunnelType === 'gue' ? `:${dest.tunnelPort}` : '';
  return `${dest.tunnelType}${port}${flags.length ? ` ${flags.join(',')}` : ''}`;
}

/** No attribute of diffDest's differs (a test without the texts of a diff). */
export function sameDestAttributes(actual: Dest, desired: Dest): boolean {
  return (
    actual.weight === desired.weight &&
    actual.forwarding === desired.forwarding &&
    actual.upperThreshold === desired.upperThreshold &&
    actual.lowerThreshold === desired.lowerThreshold &&
    (desired.forwarding !== 'tun' || tunnelText(actual) === tunnelText(desired))
  );
}

export function diffDest(actual: Dest, desired: Dest): FieldChange[] {
  if (sameDestAttributes(actual, desired)) return UNCHANGED;
  const changes = [
    ...change('weight', actual.weight, desired.weight),
    ...change('forwarding', actual.forwarding, desired.forwarding),
    ...change('upper threshold', actual.upperThreshold, desired.upperThreshold),
    ...change('lower threshold', actual.lowerThreshold, desired.lowerThreshold),
  ];
  // Tunnel settings only matter with tunnelling; comparing them otherwise would make
  // dests written by other tools look changed for nothing.
  if (desired.forwarding === 'tun')
    changes.push(...change('tunnel', tunnelText(actual), tunnelText(desired)));
  return changes;
}
