/**
 * What the kernel table should be: the config, and (in the daemon) what health checking
 * says about each real. Pure, so every rule below is a table test.
 *
 * - Without health (one-shot `lvsd apply`) every real is in with its configured weight.
 * - A real that is down leaves the table (on_failure: remove; the planner drains it) or
 *   stays with weight 0 (on_failure: inhibit, keepalived's inhibit_on_failure: its
 *   established connections carry on, new ones go elsewhere).
 * - A weight reported by the check (exec dynamic_weight) replaces the configured one.
 * - While the service's sorry server is active (quorum lost, or no healthy real; the
 *   health manager decides, with hysteresis) the sorry server is the only real taking new
 *   connections: the others are treated as down, as keepalived does when quorum is lost.
 */
import type { ResolvedConfig, ResolvedReal, ResolvedService } from '../config/resolved.js';
import type { HealthSnapshot } from '../health/manager.js';
import type { Dest } from '../ipvs/model.js';
import { destId } from '../ipvs/model.js';
import type { DesiredService, DesiredState, ReconcilePolicy } from './types.js';
import { desiredVips } from '../director/vips.js';

export function desiredState(config: ResolvedConfig, health?: HealthSnapshot): DesiredState {
  return {
    services: config.services.map((service) => desiredService(service, health)),
    ...(config.kernel.timeouts ? { timeouts: config.kernel.timeouts } : {}),
    ...(config.kernel.daemons ? { daemons: config.kernel.daemons } : {}),
    sysctls: config.kernel.sysctls,
    vips: desiredVips(config),
  };
}

function desiredService(
  service: ResolvedService,
  health: HealthSnapshot | undefined,
): DesiredService {
  if (!health)
    return {
      name: service.name,
      service: service.service,
      dests: service.reals.map((real) => real.dest),
    };
  const sorry = service.sorry && health.sorryActive(service.name) ? service.sorry : null;
  const dests: Dest[] = [];
  const sorryId = sorry ? destId(sorry) : undefined;
  for (const real of service.reals) {
    if (real.id === sorryId) continue;
    const dest = realDest(service.name, real, health, sorry !== null);
    if (dest) dests.push(dest);
  }
  if (sorry) dests.push(sorry);
  return { name: service.name, service: service.service, dests };
}

function realDest(
  serviceName: string,
  real: ResolvedReal,
  health: HealthSnapshot,
  sorryActive: boolean,
): Dest | null {
  const state = real.check ? health.real(serviceName, real.id) : undefined;
  const up = (state?.up ?? true) && !sorryActive;
  if (up)
    return state?.weight === undefined || state.weight === real.dest.weight
      ? real.dest
      : { ...real.dest, weight: state.weight };
  // An unchecked real is treated as down only for a sorry server; it has no on_failure of its own.
  const onFailure = real.check?.on_failure ?? 'remove';
  return onFailure === 'inhibit' ? { ...real.dest, weight: 0 } : null;
}

/** How passes treat what leaves the config, from its `reconcile:` section. */
export function reconcilePolicy(config: ResolvedConfig): ReconcilePolicy {
  const { prune, drainTimeoutMs, maxRemoval, allowMassRemoval } = config.reconcile;
  return { prune, drainTimeoutMs, maxRemoval, allowMassRemoval };
}
