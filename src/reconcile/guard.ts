/**
 * The guard against mass removal. An empty or truncated config file, a half-synced
 * ConfigMap or a merge that drops a block all look like "remove these services" to a
 * planner, and applying that takes a site down. So a plan that starts removing every
 * service lvsd manages, or more than `reconcile.max_removal` of them, is refused unless
 * the operator said so (`lvsd apply --allow-mass-removal`, `reconcile.allow_mass_removal`).
 * Removals already under way (their reals draining) do not count again. Pure.
 */
import type { Plan, PlanContext, ReconcilePolicy } from './types.js';

export interface MassRemoval {
  /** serviceIds whose removal this plan would start. */
  removing: string[];
  /** Services lvsd manages in the kernel now (desired or owned, and live). */
  managed: number;
  /** The share allowed (0..1). */
  limit: number;
  message: string;
}

export function checkMassRemoval(
  plan: Plan,
  context: PlanContext,
  policy: ReconcilePolicy,
): MassRemoval | null {
  if (policy.allowMassRemoval) return null;
  const removing = plan.removing.filter((id) => context.draining[id] === undefined);
  if (removing.length === 0) return null;
  const managed = plan.managedLive;
  const all = removing.length >= managed;
  const limit = policy.maxRemoval;
  if (!all && removing.length / managed <= limit) return null;
  const share = Math.round((100 * removing.length) / managed);
  const over = `${share}%, more than max_removal ${Math.round(limit * 100)}%`;
  const why = all
    ? `every service lvsd manages (${removing.length} of ${managed})`
    : `${removing.length} of the ${managed} services lvsd manages (${over})`;
  const listed = removing.slice(0, 10).join(', ') + (removing.length > 10 ? ', ...' : '');
  return {
    removing,
    managed,
    limit,
    message: `refusing to remove ${why}: ${listed}`,
  };
}
