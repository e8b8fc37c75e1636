/**
 * A health decision written before the table is read. A scoped pass normally reads its
 * services first; when many reals fail at once, those reads (and the plans over them) are a
 * large part of what stands between a failure and the kernel. For a service the kernel holds
 * exactly as lvsd last aimed (the daemon's last clean pass: `known`), the writes a failure
 * calls for are certain without a read:
 * - a real that left the desired state is quiesced: weight 0, so new connections go
 *   elsewhere at once, and its drain is recorded from now (deleted outright when drains
 *   are off: drain time 0);
 * - a real that stays with another weight alone (`on_failure: inhibit`, a dynamic weight)
 *   gets that weight;
 * - a real wanted again while it drains (in the kernel at weight 0, its drain recorded: a
 *   recovery before the settle) gets its weight back, and its drain record goes.
 * Whether a quiesced real still has connections needs the table, so the caller reads these
 * services in a later pass (the daemon's 'settle'), which deletes it or lets it drain as
 * any other drain. Anything else (a new real, another attribute, a real already at weight 0,
 * a service lvsd has no aim for) needs the read: such a service is left in `rest`.
 *
 * Pure: the known state and the clock come from the caller. If the kernel was changed by
 * another hand meanwhile, a write fails (no such real) and the daemon's retry makes a full
 * pass, as for any failed write.
 */
import { type Dest, destId, type ServiceKey, serviceId, serviceKeyOf } from '../ipvs/model.js';
import { diffDest, sameServiceAttributes } from './diff.js';
import { deleteDestStep, destStep, quiesceStep, realDrains } from './plan.js';
import type { DesiredService, Drains, Plan, PlanContext, PlanStep } from './types.js';

/** What the kernel holds, as the last clean pass aimed, by serviceId. */
export type KnownServices = ReadonlyMap<string, DesiredService>;

export interface Quiesced {
  /** The writes, service by service in the order given. */
  steps: PlanStep[];
  /** serviceIds planned here: no read needed for them now. */
  services: Set<string>;
  /** Drains of those services after the writes (those in progress, and the new ones). */
  draining: Drains;
  /** Services that need a read to be planned. */
  rest: DesiredService[];
}

export function planQuiesce(
  wanted: readonly DesiredService[],
  known: KnownServices,
  context: PlanContext,
): Quiesced {
  const out: Quiesced = { steps: [], services: new Set(), draining: {}, rest: [] };
  for (const service of wanted) {
    const id = serviceId(service.service);
    const steps = quiesceSteps(service, known.get(id), id, context);
    if (!steps) {
      out.rest.push(service);
      continue;
    }
    out.services.add(id);
    out.steps.push(...steps);
    const drains = realDrains(context.draining[id]);
    for (const step of steps)
      if (step.action === 'drain') drains[step.dest ?? ''] = context.now;
      else delete drains[step.dest ?? ''];
    if (Object.keys(drains).length) out.draining[id] = drains;
  }
  return out;
}

/**
 * The writes that bring a known service to `wanted`; null when that needs a read. Both list
 * their reals in config order (the desired state keeps it, less the reals that are out), so
 * one walk pairs them by address and port, with no id built per real: a mass failure plans
 * most services in every pass. A wanted real the walk does not meet is back from a drain
 * (the kernel holds it at weight 0: its weight is set again), or new, or listed in another
 * order: the service is read.
 */
function quiesceSteps(
  wanted: DesiredService,
  known: DesiredService | undefined,
  id: string,
  context: PlanContext,
): PlanStep[] | null {
  if (!known || !sameServiceAttributes(known.service, wanted.service)) return null;
  // One key object for the service's steps: the batch encodes a key once per object.
  const key = serviceKeyOf(wanted.service);
  const steps: PlanStep[] = [];
  const next = wanted.dests;
  const drains = context.draining[id] ?? {};
  let w = 0;
  // The wanted reals before `until` (all that are left, without) that are back from a drain.
  const takeBack = (until?: Dest) => {
    for (let dest = next[w]; dest && !(until && sameReal(dest, until)); dest = next[++w]) {
      const step = backStep(dest, drains, id, key, wanted.name);
      if (!step) return;
      steps.push(step);
    }
  };
  for (const have of known.dests) {
    takeBack(have);
    const dest = next[w];
    if (sameReal(dest, have)) {
      w++;
      const changes = diffDest(have, dest);
      if (!changes.length) continue;
      if (changes.some((c) => c.field !== 'weight')) return null;
      const op = { op: 'edit-dest', service: key, dest } as const;
      steps.push(destStep(id, destId(dest), wanted.name, 'change', op, changes));
      continue;
    }
    // At weight 0 already: a drain in progress or a real inhibited; its connections decide.
    if (have.weight === 0) return null;
    const did = destId(have);
    steps.push(
      context.drainTimeoutMs > 0
        ? quiesceStep(id, did, key, have, wanted.name)
        : deleteDestStep(id, did, key, have, wanted.name),
    );
  }
  takeBack();
  return w === next.length && steps.length ? steps : null;
}

const sameReal = (a: Dest | undefined, b: Dest): a is Dest =>
  a !== undefined && a.address === b.address && a.port === b.port;

/**
 * A real wanted again while it drains: the kernel holds it at weight 0 (quiesced, or left
 * to drain by a pass that read it), so an edit with its wanted attributes brings it back
 * without a read. Undefined for any other real, and for one wanted at weight 0 (inhibited:
 * its drain record must go, which the read's plan does).
 */
function backStep(
  dest: Dest,
  drains: Readonly<Record<string, number>>,
  id: string,
  key: ServiceKey,
  serviceName: string,
): PlanStep | undefined {
  if (dest.weight === 0) return;
  const did = destId(dest);
  if (drains[did] === undefined) return;
  const op = { op: 'edit-dest', service: key, dest } as const;
  return destStep(id, did, serviceName, 'change', op, [
    { field: 'weight', from: '0', to: String(dest.weight) },
  ]);
}

/** The plan of a scoped pass: the quiesce writes first, then the plan of the services read. */
export function withQuiesced(plan: Plan, quiesced: Quiesced): Plan {
  if (!quiesced.services.size) return plan;
  return {
    ...plan,
    steps: [...quiesced.steps, ...plan.steps],
    managedLive: plan.managedLive + quiesced.services.size,
    next: {
      ...plan.next,
      owned: [...plan.next.owned, ...quiesced.services],
      draining: { ...plan.next.draining, ...quiesced.draining },
    },
  };
}
