import { describe, expect, it } from 'vitest';
import { plan } from '../../src/reconcile/plan.js';
import type { PlanContext } from '../../src/reconcile/types.js';
import { formatPlan } from '../../src/reconcile/format.js';
import { dest, desired, live, liveService, tcpService } from './fixtures.js';

const context = (extra: Partial<PlanContext> = {}): PlanContext => ({
  now: 1_000_000,
  owned: new Set(),
  draining: {},
  drainTimeoutMs: 30_000,
  prune: 'managed',
  ...extra,
});

const web = tcpService('10.0.0.1', 80, { scheduler: 'rr' });
const rs1 = dest('192.168.10.2', 80);
const rs2 = dest('192.168.11.2', 80);

describe('plan', () => {
  it('adds a missing service before its dests', () => {
    const result = plan(
      { services: [desired('web', web, [rs1, rs2])] },
      { table: { services: [] } },
      context(),
    );
    expect(result.steps.map((s) => `${s.op.op} ${s.dest ?? s.service}`)).toEqual([
      'add-service TCP 10.0.0.1:80',
      'add-dest 192.168.10.2:80',
      'add-dest 192.168.11.2:80',
    ]);
    expect(result.next.owned).toEqual(['TCP 10.0.0.1:80']);
  });

  it('is empty when the table already matches, whatever the counters say', () => {
    const table = {
      services: [{ ...liveService(web, [live(rs1, 5, 7), live(rs2)]), stats: undefined }],
    };
    const result = plan({ services: [desired('web', web, [rs1, rs2])] }, { table }, context());
    expect(result.steps).toEqual([]);
    expect(formatPlan(result)).toContain('No changes');
  });

  it(
    'pairs live dests with wanted ones in any order: as written, reversed (the kernel lists newest ' +
      'first), shuffled',
    () => {
      const rs3 = dest('192.168.12.2', 80);
      const wanted = { services: [desired('web', web, [rs1, rs2, rs3])] };
      for (const order of [
        [rs1, rs2, rs3],
        [rs3, rs2, rs1],
        [rs2, rs3, rs1],
      ]) {
        const table = {
          services: [
            liveService(
              web,
              order.map((d) => live(d)),
            ),
          ],
        };
        expect(plan(wanted, { table }, context()).steps).toEqual([]);
      }
      // Same count, one real replaced: the newcomer is added, the leaver drains away.
      const rs4 = dest('192.168.13.2', 80);
      const table = { services: [liveService(web, [live(rs4), live(rs2), live(rs1)])] };
      const steps = plan(wanted, { table }, context()).steps.map((s) => `${s.action} ${s.dest}`);
      expect(steps).toEqual(['add 192.168.12.2:80', 'remove 192.168.13.2:80']);
      // Same addresses, another port: a different real.
      const moved = {
        services: [liveService(web, [live(dest('192.168.12.2', 81)), live(rs2), live(rs1)])],
      };
      expect(
        plan(wanted, { table: moved }, context()).steps.map((s) => `${s.action} ${s.dest}`),
      ).toEqual(['add 192.168.12.2:80', 'remove 192.168.12.2:81']);
    },
  );

  it.each([
    ['scheduler', { scheduler: 'wlc' }, 'scheduler: rr -> wlc'],
    [
      'persistence',
      {
        flags: { persistent: true, onePacket: false, sched1: false, sched2: false, sched3: false },
        timeout: 360,
      },
      'persistence timeout: 0 -> 360',
    ],
    ['netmask', { netmask: 24 }, 'netmask: /32 -> /24'],
    ['engine', { pe: 'sip' }, 'persistence engine: none -> sip'],
  ])('edits a service in place when its %s changes', (_name, change, text) => {
    const table = { services: [liveService(web, [live(rs1)])] };
    const result = plan(
      { services: [desired('web', { ...web, ...change }, [rs1])] },
      { table },
      context(),
    );
    expect(result.steps).toHaveLength(1);
    expect(result.steps[0]!.op.op).toBe('edit-service');
    expect(formatPlan(result)).toContain(text);
  });

  it.each([
    ['weight', { weight: 3 }, 'weight: 1 -> 3'],
    ['forwarding', { forwarding: 'dr' as const }, 'forwarding: nat -> dr'],
    [
      'thresholds',
      { upperThreshold: 100, lowerThreshold: 50 },
      'upper threshold: 0 -> 100, lower threshold: 0 -> 50',
    ],
  ])('edits a dest in place when its %s changes', (_name, change, text) => {
    const table = { services: [liveService(web, [live(rs1)])] };
    const result = plan(
      { services: [desired('web', web, [{ ...rs1, ...change }])] },
      { table },
      context(),
    );
    expect(result.steps.map((s) => s.op.op)).toEqual(['edit-dest']);
    expect(formatPlan(result)).toContain(text);
  });

  it('ignores tunnel settings unless the dest tunnels', () => {
    const table = { services: [liveService(web, [live({ ...rs1, tunnelType: 'gre' })])] };
    expect(plan({ services: [desired('web', web, [rs1])] }, { table }, context()).steps).toEqual(
      [],
    );
    const tun = { ...rs1, forwarding: 'tun' as const };
    const tunTable = { services: [liveService(web, [live({ ...tun, tunnelType: 'gre' })])] };
    expect(
      plan({ services: [desired('web', web, [tun])] }, { table: tunTable }, context()).steps.map(
        (s) => s.op.op,
      ),
    ).toEqual(['edit-dest']);
  });

  it('changes a service identity by adding the new one before removing the old', () => {
    const moved = tcpService('10.0.0.1', 8080, { scheduler: 'rr' });
    const table = { services: [liveService(web, [live(rs1)])] };
    const result = plan(
      { services: [desired('web', moved, [rs1])] },
      { table },
      context({ owned: new Set(['TCP 10.0.0.1:80']) }),
    );
    expect(result.steps.map((s) => `${s.op.op} ${s.service}${s.dest ? ` ${s.dest}` : ''}`)).toEqual(
      [
        'add-service TCP 10.0.0.1:8080',
        'add-dest TCP 10.0.0.1:8080 192.168.10.2:80',
        'delete-dest TCP 10.0.0.1:80 192.168.10.2:80',
        'delete-service TCP 10.0.0.1:80',
      ],
    );
  });

  describe('graceful removal of a real', () => {
    const table = (weight: number, active: number, inactive = 0) => ({
      services: [liveService(web, [live(rs1), live({ ...rs2, weight }, active, inactive)])],
    });
    const wanted = { services: [desired('web', web, [rs1])] };
    const drains = (since: number) => ({ 'TCP 10.0.0.1:80': { '192.168.11.2:80': since } });

    it('sets weight 0 first while connections remain, and records when the drain began', () => {
      const result = plan(wanted, { table: table(1, 4) }, context());
      expect(result.steps.map((s) => [s.action, s.op.op])).toEqual([['drain', 'edit-dest']]);
      expect(result.steps[0]!.op).toMatchObject({ dest: { weight: 0 } });
      expect(result.next.draining).toEqual(drains(1_000_000));
      expect(result.waiting).toHaveLength(1);
    });

    it('waits while connections remain and the drain time has not passed', () => {
      const result = plan(
        wanted,
        { table: table(0, 2, 3) },
        context({ draining: drains(1_000_000 - 10_000) }),
      );
      expect(result.steps).toEqual([]);
      expect(result.waiting[0]).toMatchObject({
        activeConns: 2,
        inactiveConns: 3,
        remainingMs: 20_000,
      });
      expect(result.next.draining['TCP 10.0.0.1:80']?.['192.168.11.2:80']).toBe(990_000);
    });

    it('deletes once the connections are gone', () => {
      const result = plan(wanted, { table: table(0, 0) }, context({ draining: drains(999_000) }));
      expect(result.steps.map((s) => s.op.op)).toEqual(['delete-dest']);
      expect(result.next.draining).toEqual({});
    });

    it('deletes once the drain time has passed, connections or not', () => {
      const result = plan(
        wanted,
        { table: table(0, 9) },
        context({ draining: drains(1_000_000 - 30_000) }),
      );
      expect(result.steps.map((s) => s.op.op)).toEqual(['delete-dest']);
    });

    it('starts the clock now for a drain found without a record (state lost)', () => {
      const result = plan(wanted, { table: table(0, 9) }, context());
      expect(result.steps).toEqual([]);
      expect(result.next.draining).toEqual(drains(1_000_000));
    });

    it('deletes at once when the drain time is 0', () => {
      const result = plan(wanted, { table: table(1, 9) }, context({ drainTimeoutMs: 0 }));
      expect(result.steps.map((s) => s.op.op)).toEqual(['delete-dest']);
    });

    it('gives a real re-added while draining its weight back, without re-creating it', () => {
      const back = { services: [desired('web', web, [rs1, { ...rs2, weight: 5 }])] };
      const result = plan(back, { table: table(0, 3) }, context({ draining: drains(999_000) }));
      expect(result.steps.map((s) => s.op.op)).toEqual(['edit-dest']);
      expect(result.steps[0]!.changes).toEqual([{ field: 'weight', from: '0', to: '5' }]);
      expect(result.next.draining).toEqual({});
    });
  });

  describe('ownership', () => {
    const foreign = tcpService('10.9.9.9', 53);
    const table = { services: [liveService(foreign, [live(dest('10.1.1.1', 53))])] };

    it('reports services it does not manage and leaves them alone', () => {
      const result = plan({ services: [] }, { table }, context());
      expect(result.steps).toEqual([]);
      expect(result.foreign).toEqual(['TCP 10.9.9.9:53']);
    });

    it('removes a service it created once the config drops it', () => {
      const result = plan(
        { services: [] },
        { table },
        context({ owned: new Set(['TCP 10.9.9.9:53']) }),
      );
      expect(result.steps.map((s) => s.op.op)).toEqual(['delete-dest', 'delete-service']);
      expect(result.next.owned).toEqual([]);
    });

    it('keeps owning a removed service until its reals have drained', () => {
      const busy = { services: [liveService(foreign, [live(dest('10.1.1.1', 53), 3)])] };
      const result = plan(
        { services: [] },
        { table: busy },
        context({ owned: new Set(['TCP 10.9.9.9:53']) }),
      );
      expect(result.steps.map((s) => s.action)).toEqual(['drain']);
      expect(result.next.owned).toEqual(['TCP 10.9.9.9:53']);
    });

    it('removes foreign services with prune: all', () => {
      const result = plan({ services: [] }, { table }, context({ prune: 'all' }));
      expect(result.steps.map((s) => s.op.op)).toEqual(['delete-dest', 'delete-service']);
    });
  });

  describe('kernel settings', () => {
    it('sets only the timeouts that differ', () => {
      const result = plan(
        { services: [], timeouts: { tcp: 900, udp: 300 } },
        { table: { services: [] }, timeouts: { tcp: 900, tcpFin: 120, udp: 60 } },
        context(),
      );
      expect(result.steps.map((s) => s.op)).toEqual([
        { op: 'set-timeouts', timeouts: { udp: 300 } },
      ]);
    });

    it('leaves timeouts and daemons alone when the config does not set them', () => {
      const actual = {
        table: { services: [] },
        timeouts: { tcp: 1, tcpFin: 2, udp: 3 },
        daemons: [{ state: 'master' as const, interface: 'eth1', syncId: 3 }],
      };
      expect(plan({ services: [] }, actual, context()).steps).toEqual([]);
    });

    it('restarts a sync daemon whose settings changed, and stops one no longer wanted', () => {
      const actual = {
        table: { services: [] },
        daemons: [
          { state: 'master' as const, interface: 'eth1', syncId: 3 },
          { state: 'backup' as const, interface: 'eth1', syncId: 3 },
        ],
      };
      const result = plan(
        { services: [], daemons: [{ state: 'master', interface: 'eth1', syncId: 10 }] },
        actual,
        context(),
      );
      expect(result.steps.map((s) => `${s.action} ${s.op.op} ${s.service}`)).toEqual([
        'remove delete-daemon sync daemon master',
        'change add-daemon sync daemon master',
        'remove delete-daemon sync daemon backup',
      ]);
    });

    it('a daemon setting the config leaves out takes the kernel default; one it sets is held', () => {
      const running = {
        state: 'master' as const,
        interface: 'eth1',
        syncId: 10,
        syncMaxLen: 1472,
        mcastGroup: '224.0.0.81',
        mcastPort: 8848,
        mcastTtl: 1,
      };
      const actual = { table: { services: [] }, daemons: [running] };
      expect(
        plan(
          { services: [], daemons: [{ state: 'master', interface: 'eth1', syncId: 10 }] },
          actual,
          context(),
        ).steps,
      ).toEqual([]);
      const wanted = { state: 'master' as const, interface: 'eth1', syncId: 10, syncMaxLen: 1400 };
      const result = plan({ services: [], daemons: [wanted] }, actual, context());
      expect(result.steps.flatMap((s) => s.changes.map((c) => `${c.from} -> ${c.to}`))).toEqual([
        'eth1 syncid 10 maxlen 1472 mcast 224.0.0.81:8848 ttl 1 -> eth1 syncid 10 maxlen 1400',
      ]);
    });
  });
});
