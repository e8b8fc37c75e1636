/**
 * The VRRP role in desired state: a config whose VRRP instance has `sync_daemon: true`
 * wants the IPVS sync daemon of kernel.sync in the role of that instance (master while
 * MASTER, backup otherwise), as keepalived's lvs_sync_daemon. Pure; the daemon asks for
 * a reconcile pass when the role changes, and the planner stops one daemon and starts
 * the other.
 */
import type { SyncDaemon } from '../ipvs/model.js';
import type { DesiredState } from './types.js';

export type SyncRole = 'master' | 'backup';

/** The configured daemon (the one already in that state, else the first) in the role's state. */
export function daemonsForRole(daemons: readonly SyncDaemon[], role: SyncRole): SyncDaemon[] {
  const base = daemons.find((d) => d.state === role) ?? daemons[0];
  return base ? [{ ...base, state: role }] : [];
}

/** Desired state with its sync daemons in the VRRP role; unchanged without a role or daemons. */
export function withSyncRole(desired: DesiredState, role: SyncRole | null): DesiredState {
  if (!role || !desired.daemons || desired.daemons.length === 0) return desired;
  return { ...desired, daemons: daemonsForRole(desired.daemons, role) };
}
