/** The sync daemon follows the VRRP role in desired state, and the planner turns a role change into stop + start. */
import { describe, expect, it } from 'vitest';
import type { SyncDaemon } from '../../src/ipvs/model.js';
import { plan } from '../../src/reconcile/plan.js';
import {
  daemonsForRole,
  leaveSteeredDaemons,
  withSyncRole,
} from '../../src/reconcile/sync-role.js';
import type { ResolvedConfig } from '../../src/config/resolved.js';
import type { DesiredState } from '../../src/reconcile/types.js';

const backup: SyncDaemon = { state: 'backup', interface: 'eth1', syncId: 51 };

describe('sync daemon role', () => {
  it('master while MASTER, backup otherwise, keeping interface and syncid', () => {
    expect(daemonsForRole([backup], 'master')).toEqual([{ ...backup, state: 'master' }]);
    expect(daemonsForRole([backup], 'backup')).toEqual([backup]);
    const both = [{ ...backup, state: 'master' as const, syncId: 7 }, backup];
    expect(daemonsForRole(both, 'master')).toEqual([both[0]]);
  });

  it('leaves desired state alone without a role or without configured daemons', () => {
    const desired: DesiredState = { services: [], daemons: [backup] };
    expect(withSyncRole(desired, null)).toBe(desired);
    expect(withSyncRole({ services: [] }, 'master')).toEqual({ services: [] });
    expect(withSyncRole(desired, 'master').daemons).toEqual([{ ...backup, state: 'master' }]);
  });

  it('a role change plans stop backup, start master', () => {
    const desired = withSyncRole({ services: [], daemons: [backup] }, 'master');
    const result = plan(
      desired,
      { table: { services: [] }, daemons: [backup] },
      {
        now: 0,
        owned: new Set(),
        draining: {},
        drainTimeoutMs: 0,
        prune: 'managed',
        ownedVips: new Set(),
      },
    );
    const ops = result.steps.map((s) => s.op);
    expect(ops).toContainEqual({ op: 'delete-daemon', state: 'backup' });
    expect(ops).toContainEqual({ op: 'add-daemon', daemon: { ...backup, state: 'master' } });
  });

  it('plan and apply leave a daemon that a VRRP instance steers alone, and hold the others', () => {
    const desired: DesiredState = { services: [], daemons: [backup] };
    const steered = {
      vrrp: { instances: [{ syncDaemon: true }], syncGroups: [] },
    } as unknown as ResolvedConfig;
    expect(leaveSteeredDaemons(desired, steered)).toEqual({ services: [] });
    const unsteered = {
      vrrp: { instances: [{ syncDaemon: false }], syncGroups: [] },
    } as unknown as ResolvedConfig;
    expect(leaveSteeredDaemons(desired, unsteered)).toBe(desired);
    expect(leaveSteeredDaemons(desired, {} as ResolvedConfig)).toBe(desired);
  });
});
