/**
 * Which writes of a reconcile pass repaired someone else's change (drift), as opposed to
 * carrying out a change of lvsd's own aim (a reload, a health transition) or finishing its
 * own scheduled work (a drain ending). A write is drift when the object it concerns was
 * wanted the same way by the last pass that applied cleanly: lvsd had already made it so,
 * so another hand (ipvsadm, another tool) must have changed it since.
 *
 * Pure, and cheap where it matters: passes without writes (the steady state) cost nothing;
 * passes with writes index only the services those writes touch.
 */
import type { Dest, Service } from '../ipvs/model.js';
import { destId, serviceId } from '../ipvs/model.js';
import { sameDestAttributes, sameServiceAttributes } from '../reconcile/diff.js';
import type { DesiredState, Drains, Plan, PlanStep } from '../reconcile/types.js';

/** What the last clean pass aimed at. */
export interface Aim {
  desired: DesiredState;
  /** Drains in progress after it. */
  draining: Readonly<Drains>;
}

interface ServiceAim {
  service: Service;
  dests: Map<string, Dest>;
}

function index(desired: DesiredState, ids: ReadonlySet<string>): Map<string, ServiceAim> {
  const out = new Map<string, ServiceAim>();
  for (const wanted of desired.services) {
    const id = serviceId(wanted.service);
    if (ids.has(id))
      out.set(id, {
        service: wanted.service,
        dests: new Map(wanted.dests.map((d) => [destId(d), d])),
      });
  }
  return out;
}

/**
 * Kernel settings, rare in a pass, are compared as JSON. Services and dests are compared by
 * the attributes a write sets, as the planner compares them (diff.ts), not as two JSON texts
 * per step: a mass failure's passes judge a step per real. Identity (family, protocol,
 * address, port, mark) is equal by construction: both sides were found by one id. Tunnel
 * settings of a dest without tunnelling are left out, as the planner leaves them out: no
 * write is ever planned for them, so they say nothing about whose change a write undoes.
 */
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export function driftSteps(plan: Plan, desired: DesiredState, previous: Aim | null): PlanStep[] {
  if (!previous || plan.steps.length === 0) return [];
  const ids = new Set(plan.steps.map((s) => s.service));
  const before = index(previous.desired, ids);
  const now = index(desired, ids);
  return plan.steps.filter((step) =>
    isDrift(step, before.get(step.service), now.get(step.service), previous, desired),
  );
}

function isDrift(
  step: PlanStep,
  before: ServiceAim | undefined,
  now: ServiceAim | undefined,
  previous: Aim,
  desired: DesiredState,
): boolean {
  const op = step.op;
  switch (op.op) {
    case 'add-service':
    case 'edit-service':
      return (
        before !== undefined &&
        now !== undefined &&
        sameServiceAttributes(before.service, now.service)
      );
    case 'add-dest':
      return sameDest(step, before, now);
    case 'edit-dest':
      // A drain step quiesces a dest neither aim wanted (someone put it back or re-weighted it);
      // any other edit sets a dest both aims wanted the same way.
      if (step.action === 'drain')
        return before !== undefined && !before.dests.has(step.dest ?? '');
      return sameDest(step, before, now);
    case 'delete-dest':
      if (previous.draining[step.service]?.[step.dest ?? ''] !== undefined) return false;
      // Lvsd's aim did not have it before either: someone added it.
      return before !== undefined && !before.dests.has(step.dest ?? '');
    case 'delete-service':
      return false;
    case 'set-timeouts':
      return same(previous.desired.timeouts, desired.timeouts);
    case 'add-daemon':
    case 'delete-daemon':
      return same(previous.desired.daemons, desired.daemons);
    default:
      return false;
  }
}

function sameDest(
  step: PlanStep,
  before: ServiceAim | undefined,
  now: ServiceAim | undefined,
): boolean {
  const id = step.dest ?? '';
  const a = before?.dests.get(id);
  const b = now?.dests.get(id);
  return a !== undefined && b !== undefined && sameDestAttributes(a, b);
}

/**
 * The aim after a clean scoped pass: the previous aim with the scoped services' part (their
 * desired state and drains) replaced. Null stays null: after a failed pass no write is
 * called drift until a full pass has set a whole aim again.
 */
export function scopedAim(
  previous: Aim | null,
  desired: DesiredState,
  plan: Plan,
  scope: ReadonlySet<string>,
): Aim | null {
  if (!previous) return null;
  const services = [
    ...previous.desired.services.filter((s) => !scope.has(serviceId(s.service))),
    ...desired.services.filter((s) => scope.has(serviceId(s.service))),
  ];
  const draining = { ...previous.draining };
  for (const id of scope) delete draining[id];
  Object.assign(draining, plan.next.draining);
  return { desired: { ...previous.desired, services }, draining };
}
