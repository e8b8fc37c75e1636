import { describe, expect, it } from 'vitest';
import { driftSteps, type Aim } from '../../src/daemon/drift.js';
import { destId, serviceId } from '../../src/ipvs/model.js';
import { plan as makePlan } from '../../src/reconcile/plan.js';
import type { DesiredState, Drains } from '../../src/reconcile/types.js';
import { dest, desired, live, liveService, tcpService } from '../reconcile/fixtures.js';

const web = tcpService('10.0.0.1', 80);
const a = dest('192.168.10.2', 80);
const b = dest('192.168.10.3', 80);
/** An aim with these reals draining since t=0, as [serviceId, destId]. */
const aimFor = (state: DesiredState, draining: Array<[string, string]> = []): Aim => {
  const drains: Drains = {};
  for (const [service, real] of draining) (drains[service] ??= {})[real] = 0;
  return { desired: state, draining: drains };
};
const both: DesiredState = { services: [desired('web', web, [a, b])] };

/** Plans `want` against a live table and classifies its steps against the previous aim. */
function classify(
  want: DesiredState,
  table: Parameters<typeof makePlan>[1]['table'],
  previous: Aim | null,
  drainTimeoutMs = 0,
) {
  const p = makePlan(
    want,
    { table },
    {
      now: 1000,
      owned: new Set([serviceId(web)]),
      draining: previous?.draining ?? {},
      drainTimeoutMs,
      prune: 'managed',
    },
  );
  return driftSteps(p, want, previous).map(
    (s) => `${s.action} ${s.op.op}${s.dest ? ` ${s.dest}` : ''}`,
  );
}

describe('drift classification', () => {
  it('a service deleted behind lvsd`s back is drift: service and reals', () => {
    expect(classify(both, { services: [] }, aimFor(both))).toEqual([
      'add add-service',
      'add add-dest 192.168.10.2:80',
      'add add-dest 192.168.10.3:80',
    ]);
  });

  it('a real re-weighted by someone else is drift; the same write after a config edit is not', () => {
    const table = { services: [liveService(web, [live({ ...a, weight: 7 }), live(b)])] };
    expect(classify(both, table, aimFor(both))).toEqual(['change edit-dest 192.168.10.2:80']);
    const edited: DesiredState = { services: [desired('web', web, [{ ...a, weight: 7 }, b])] };
    const live7 = { services: [liveService(web, [live(a), live(b)])] };
    expect(classify(edited, live7, aimFor(both))).toEqual([]);
  });

  it('a real added by someone else to a managed service is drift; a real the config dropped is not', () => {
    const onlyA: DesiredState = { services: [desired('web', web, [a])] };
    const table = { services: [liveService(web, [live(a), live(b)])] };
    expect(classify(onlyA, table, aimFor(onlyA))).toEqual(['remove delete-dest 192.168.10.3:80']);
    expect(classify(onlyA, table, aimFor(both))).toEqual([]);
  });

  it('a drain ending is lvsd`s own work, not drift', () => {
    const onlyA: DesiredState = { services: [desired('web', web, [a])] };
    const table = { services: [liveService(web, [live(a), live({ ...b, weight: 0 })])] };
    const previous = aimFor(onlyA, [[serviceId(web), destId(b)]]);
    expect(classify(onlyA, table, previous, 60_000)).toEqual([]);
  });

  it('a draining real someone put back to weight > 0 is drift', () => {
    const onlyA: DesiredState = { services: [desired('web', web, [a])] };
    const table = { services: [liveService(web, [live(a), live({ ...b, weight: 3 }, 5, 0)])] };
    expect(classify(onlyA, table, aimFor(onlyA, [[serviceId(web), destId(b)]]), 60_000)).toEqual([
      'drain edit-dest 192.168.10.3:80',
    ]);
  });

  it('a scheduler changed by someone else is drift; none without a previous clean pass', () => {
    const table = { services: [liveService({ ...web, scheduler: 'rr' }, [live(a), live(b)])] };
    expect(classify(both, table, aimFor(both))).toEqual(['change edit-service']);
    expect(classify(both, table, null)).toEqual([]);
  });

  it('a repair is drift when the aims differ only where no write goes (a nat real`s tunnel settings)', () => {
    const table = { services: [liveService(web, [live({ ...a, weight: 7 }), live(b)])] };
    const gue = { ...a, tunnelType: 'gue' as const, tunnelPort: 6080 };
    const now: DesiredState = { services: [desired('web', web, [gue, b])] };
    expect(classify(now, table, aimFor(both))).toEqual(['change edit-dest 192.168.10.2:80']);
  });

  it('a tunnel setting the config changed is lvsd`s own write; the same one after a clean pass is drift', () => {
    const ipip = { ...a, forwarding: 'tun' as const };
    const gue = { ...ipip, tunnelType: 'gue' as const, tunnelPort: 6080 };
    const table = { services: [liveService(web, [live(ipip), live(b)])] };
    const before: DesiredState = { services: [desired('web', web, [ipip, b])] };
    const now: DesiredState = { services: [desired('web', web, [gue, b])] };
    expect(classify(now, table, aimFor(before))).toEqual([]);
    expect(classify(now, table, aimFor(now))).toEqual(['change edit-dest 192.168.10.2:80']);
  });

  it('a scheduler the config changed is lvsd`s own write', () => {
    const table = { services: [liveService(web, [live(a), live(b)])] };
    const rr: DesiredState = { services: [desired('web', { ...web, scheduler: 'rr' }, [a, b])] };
    expect(classify(rr, table, aimFor(both))).toEqual([]);
  });

  it('a real brought back by health is not drift', () => {
    const onlyA: DesiredState = { services: [desired('web', web, [a])] };
    const table = { services: [liveService(web, [live(a)])] };
    expect(classify(both, table, aimFor(onlyA))).toEqual([]);
  });
});
