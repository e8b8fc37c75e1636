/**
 * What the kernel lab found the planner doing differently from the kernel, pinned on the
 * host so it stays fixed (the kernel tests that found them: test/kernel/cli-examples and
 * test/kernel/cli-nat):
 *
 * - a sync daemon configured without maxlen / multicast group / port / TTL is read back
 *   from the kernel with the defaults filled in (maxlen 1472, 224.0.0.81:8848, TTL 1, as
 *   `ipvsadm -L --daemon` shows and the fake imitates); the plan must treat an unset value
 *   as "the kernel's default", or every apply stops and restarts the daemons;
 * - `lvsd plan --state SNAPSHOT` plans the IPVS table alone (a snapshot has no sysctls): a
 *   config that sets sysctls must not show them as changes from "absent".
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeIpvs } from '../../src/ipvs/fake.js';
import type { DesiredState } from '../../src/reconcile/types.js';
import { reconcile } from './pass.js';
import { planOffline } from '../../src/reconcile/reconciler.js';
import type { SysctlAccess } from '../../src/sysctl/access.js';
import { dest, desired, tcpService } from './fixtures.js';

const sysctls: SysctlAccess = {
  read: async (names) => Object.fromEntries(names.map((n) => [n, 0])),
  write: async () => undefined,
};

const web: DesiredState = {
  services: [
    desired('web', tcpService('10.0.0.1', 80, { scheduler: 'rr' }), [dest('192.168.10.2', 80)]),
  ],
};

describe('planner and kernel agree', () => {
  it('sync daemons without explicit maxlen / mcast settings: a second apply changes nothing', async () => {
    const kernel = new FakeIpvs();
    const state: DesiredState = {
      ...web,
      daemons: [
        { state: 'master', interface: 'eth1', syncId: 10 },
        { state: 'backup', interface: 'eth1', syncId: 10 },
      ],
    };
    const options = {
      desired: state,
      stateDir: await mkdtemp(join(tmpdir(), 'lvsd-parity-')),
      prune: 'managed' as const,
      drainTimeoutMs: 0,
      dryRun: false,
      sysctls,
      addresses: null,
      markRules: null,
    };
    const first = await reconcile(kernel, options);
    expect(first.report?.failed).toBe(0);
    // What the kernel (and the fake) report back: the defaults filled in.
    expect(await kernel.listDaemons()).toEqual([
      expect.objectContaining({
        state: 'master',
        interface: 'eth1',
        syncId: 10,
        mcastGroup: '224.0.0.81',
        mcastPort: 8848,
        mcastTtl: 1,
      }),
      expect.objectContaining({ state: 'backup', interface: 'eth1', syncId: 10 }),
    ]);
    const second = await reconcile(kernel, options);
    expect(second.plan.steps).toEqual([]);
  });

  it('plan against a snapshot (no sysctls in it) plans no sysctl changes', async () => {
    const kernel = new FakeIpvs();
    await kernel.execute([
      { op: 'add-service', service: web.services[0]!.service },
      { op: 'add-dest', service: web.services[0]!.service, dest: web.services[0]!.dests[0]! },
    ]);
    const snapshot = await kernel.readTable();
    const result = await planOffline(
      { table: snapshot },
      { ...web, sysctls: { 'net.ipv4.ip_forward': 1, 'net.ipv4.vs.conn_reuse_mode': 1 } },
      {
        policy: { prune: 'managed', drainTimeoutMs: 0, maxRemoval: 0.5, allowMassRemoval: false },
        dryRun: true,
      },
    );
    expect(result.plan.steps).toEqual([]);
    expect(result.plan.sysctls).toEqual([]);
  });
});
