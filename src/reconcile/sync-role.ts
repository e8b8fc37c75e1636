/**
 * The VRRP role in desired state: a config whose VRRP instance has `sync_daemon: true`
 * wants the IPVS sync daemon of kernel.sync in the role of that instance (master while
 * MASTER, backup otherwise), as keepalived's lvs_sync_daemon. Pure; the daemon asks for
 * a reconcile pass when the role changes, and the planner stops one daemon and starts
 * the other.
 */
import type { ResolvedConfig } from '../config/resolved.js';
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

/**
 * For one-shot commands (plan, apply), which know no VRRP role: the sync daemons a VRRP
 * instance steers are left as they are, so `lvsd apply` on the master does not turn its
 * sync daemon into a backup.
 */
export function leaveSteeredDaemons(desired: DesiredState, config: ResolvedConfig): DesiredState {
  if (!desired.daemons || !config.vrrp?.instances.some((i) => i.syncDaemon)) return desired;
  const { daemons: _steered, ...rest } = desired;
  return rest;
}
