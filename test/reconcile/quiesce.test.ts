/**
 * Writes planned without a read (quiesce.ts): which changes qualify, what they write, and
 * the contract that makes them safe: quiesce, then a read and a plan of the same services,
 * leaves the kernel and the drains exactly as a plan after a read would have.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { serviceId, serviceKeyOf } from '../../src/ipvs/model.js';
import { applyPlan } from '../../src/reconcile/apply.js';
import { plan } from '../../src/reconcile/plan.js';
import { planQuiesce, withQuiesced, type KnownServices } from '../../src/reconcile/quiesce.js';
import type { DesiredService, PlanContext } from '../../src/reconcile/types.js';
import type { FakeIpvs } from '../../src/ipvs/fake.js';
import { arbTable, kernelWith, settingsOf } from './arbitraries.js';
import { dest, desired, tcpService } from './fixtures.js';

const web = tcpService('10.0.0.1', 80);
const a = dest('192.168.10.2', 80, { weight: 3 });
const b = dest('192.168.10.3', 80, { weight: 2 });
const webId = serviceId(web);

const context = (extra: Partial<PlanContext> = {}): PlanContext => ({
  now: 1000,
  owned: new Set([webId]),
  draining: {},
  drainTimeoutMs: 60_000,
  prune: 'managed',
  ...extra,
});

const knownOf = (...services: DesiredService[]): KnownServices =>
  new Map(services.map((s) => [serviceId(s.service), s]));

describe('planQuiesce', () => {
  it('quiesces a real that left, and records its drain from now beside those in progress', () => {
    const draining = { [webId]: { '192.168.10.9:80': 500 } };
    const out = planQuiesce(
      [desired('web', web, [a])],
      knownOf(desired('web', web, [a, b])),
      context({ draining }),
    );
    expect(out.rest).toEqual([]);
    expect([...out.services]).toEqual([webId]);
    expect(out.steps).toEqual([
      {
        action: 'drain',
        op: { op: 'edit-dest', service: serviceKeyOf(web), dest: { ...b, weight: 0 } },
        service: webId,
        serviceName: 'web',
        dest: '192.168.10.3:80',
        changes: [{ field: 'weight', from: '2', to: '0' }],
      },
    ]);
    expect(out.draining).toEqual({
      [webId]: { '192.168.10.9:80': 500, '192.168.10.3:80': 1000 },
    });
  });

  it('deletes it outright when drains are off', () => {
    const out = planQuiesce(
      [desired('web', web, [a])],
      knownOf(desired('web', web, [a, b])),
      context({ drainTimeoutMs: 0 }),
    );
    expect(out.steps.map((s) => `${s.action} ${s.op.op} ${s.dest}`)).toEqual([
      'remove delete-dest 192.168.10.3:80',
    ]);
    expect(out.draining).toEqual({});
  });

  it('writes a weight alone (inhibit, dynamic weight)', () => {
    const out = planQuiesce(
      [desired('web', web, [a, { ...b, weight: 0 }])],
      knownOf(desired('web', web, [a, b])),
      context(),
    );
    expect(out.steps.map((s) => [s.action, s.op.op, s.changes])).toEqual([
      ['change', 'edit-dest', [{ field: 'weight', from: '2', to: '0' }]],
    ]);
  });

  it('sets the weight of a real back from its drain, and drops its drain record', () => {
    const c = dest('192.168.10.4', 80, { weight: 5 });
    const draining = { [webId]: { '192.168.10.3:80': 500, '192.168.10.9:80': 700 } };
    const out = planQuiesce(
      [desired('web', web, [b, c])],
      knownOf(desired('web', web, [a, c])),
      context({ draining }),
    );
    expect(out.steps.map((s) => [s.action, s.op.op, s.dest, s.changes])).toEqual([
      ['change', 'edit-dest', '192.168.10.3:80', [{ field: 'weight', from: '0', to: '2' }]],
      ['drain', 'edit-dest', '192.168.10.2:80', [{ field: 'weight', from: '3', to: '0' }]],
    ]);
    expect(out.steps[0]?.op).toEqual({ op: 'edit-dest', service: serviceKeyOf(web), dest: b });
    expect(out.draining).toEqual({
      [webId]: { '192.168.10.9:80': 700, '192.168.10.2:80': 1000 },
    });
  });

  it.each([
    ['no aim for the service', [desired('web', web, [a])], knownOf()],

    [
      'another service attribute',
      [desired('web', { ...web, scheduler: 'rr' }, [a])],
      knownOf(desired('web', web, [a, b])),
    ],
    ['a new real', [desired('web', web, [a, b])], knownOf(desired('web', web, [a]))],
    [
      'another real attribute',
      [desired('web', web, [{ ...a, forwarding: 'dr' }])],
      knownOf(desired('web', web, [a, b])),
    ],
    [
      'a leaving real at weight 0',
      [desired('web', web, [a])],
      knownOf(desired('web', web, [a, { ...b, weight: 0 }])),
    ],
    ['nothing to write', [desired('web', web, [a, b])], knownOf(desired('web', web, [a, b]))],
    [
      'its reals in another order',
      [desired('web', web, [b, a])],
      knownOf(desired('web', web, [a, b, dest('192.168.10.4', 80)])),
    ],
  ])('leaves the service to a read: %s', (_case, wanted, known) => {
    const out = planQuiesce(wanted, known, context());
    expect(out.rest).toEqual(wanted);
    expect(out.steps).toEqual([]);
    expect(out.services.size).toBe(0);
  });

  it('leaves a real back from its drain at weight 0 (inhibited) to a read: its record must go', () => {
    const wanted = [desired('web', web, [a, { ...b, weight: 0 }])];
    const draining = { [webId]: { '192.168.10.3:80': 500 } };
    const out = planQuiesce(wanted, knownOf(desired('web', web, [a])), context({ draining }));
    expect(out.rest).toEqual(wanted);
    expect(out.steps).toEqual([]);
  });

  it('joins a plan after the quiesce writes, and records the services as owned', () => {
    const api = tcpService('10.0.0.2', 80);
    const quiesced = planQuiesce(
      [desired('web', web, [a]), desired('api', api, [a])],
      knownOf(desired('web', web, [a, b])),
      context(),
    );
    const rest = plan({ services: quiesced.rest }, { table: { services: [] } }, context());
    const joined = withQuiesced(rest, quiesced);
    expect(joined.steps.map((s) => `${s.op.op} ${s.service}`)).toEqual([
      'edit-dest TCP 10.0.0.1:80',
      'add-service TCP 10.0.0.2:80',
      'add-dest TCP 10.0.0.2:80',
    ]);
    expect(joined.next.owned.sort()).toEqual([webId, serviceId(api)]);
    expect(joined.managedLive).toBe(1);
    expect(Object.keys(joined.next.draining)).toEqual([webId]);
  });
});

type Fate = 'stays' | 'leaves' | 'inhibited';
const arbFate = fc.constantFrom<Fate>('stays', 'leaves', 'inhibited');

/** The desired state after a decision: each real stays, leaves, or stays at weight 0. */
const decided = (known: DesiredService[], fateOf: (i: number, j: number) => Fate) =>
  known.map((s, i) => ({
    ...s,
    dests: s.dests.flatMap((d, j) => {
      const fate = fateOf(i, j);
      if (fate === 'leaves') return [];
      return fate === 'inhibited' ? [{ ...d, weight: 0 }] : [d];
    }),
  }));

/** The fake kernel holding `known`, with connections on its reals. */
async function connected(known: DesiredService[], connectionsOf: (i: number, j: number) => number) {
  const kernel = await kernelWith(known);
  for (const [i, s] of known.entries())
    for (const [j, d] of s.dests.entries())
      kernel.setCounters(serviceKeyOf(s.service), { dest: d, activeConns: connectionsOf(i, j) });
  return kernel;
}

/** A health decision on a known table: some reals leave, some go to weight 0. */
const arbDecision = arbTable.chain((known) =>
  fc
    .tuple(
      ...known.map((s) =>
        fc.tuple(
          ...s.dests.map(() =>
            fc.record({
              fate: arbFate,
              connections: fc.nat({ max: 2 }),
            }),
          ),
        ),
      ),
    )
    .map((fates) => ({ known, fates })),
);

describe('quiesce, then a read, converges as a plan after a read', () => {
  it('leaves the same kernel table and the same drains', async () => {
    let quiescedRuns = 0;
    await fc.assert(
      fc.asyncProperty(arbDecision, fc.constantFrom(0, 60_000), async (decision, drain) => {
        const { known, fates } = decision;
        const wanted = decided(known, (i, j) => fates[i]![j]!.fate);
        const owned = new Set(known.map((s) => serviceId(s.service)));
        const ctx = context({ owned, drainTimeoutMs: drain });
        const kernel = () => connected(known, (i, j) => fates[i]![j]!.connections);

        // After a read: one plan.
        const direct = await kernel();
        const once = plan({ services: wanted }, { table: await direct.readTable() }, ctx);
        expect((await applyPlan(direct, once)).failed).toBe(0);

        // Without a read: the quiesce and the plan of the rest, then the settle's read and plan.
        const quick = await kernel();
        const quiesced = planQuiesce(wanted, knownOf(...known), ctx);
        if (quiesced.services.size) quiescedRuns++;
        const rest = plan(
          { services: quiesced.rest },
          { table: await quick.readServices(quiesced.rest.map((s) => s.service)) },
          ctx,
        );
        const first = withQuiesced(rest, quiesced);
        expect((await applyPlan(quick, first)).failed).toBe(0);
        const settle = plan(
          { services: wanted },
          { table: await quick.readTable() },
          {
            ...ctx,
            draining: first.next.draining,
          },
        );
        expect((await applyPlan(quick, settle)).failed).toBe(0);

        expect(settingsOf(await quick.readTable())).toEqual(settingsOf(await direct.readTable()));
        expect(settle.next.draining).toEqual(once.next.draining);
      }),
      { numRuns: 300 },
    );
    // Most decisions leave or inhibit a real: the property must have exercised the quiesce.
    expect(quiescedRuns).toBeGreaterThan(100);
  });
});

/** A failure, then a recovery before the settle: two decisions on one known table. */
const arbTwoDecisions = arbTable.chain((known) =>
  fc
    .tuple(
      ...known.map((s) =>
        fc.tuple(
          ...s.dests.map(() =>
            fc.record({ first: arbFate, second: arbFate, connections: fc.nat({ max: 2 }) }),
          ),
        ),
      ),
    )
    .map((fates) => ({ known, fates })),
);

describe('two decisions without a read (a recovery before the settle) converge as plans after reads', () => {
  it('leaves the same kernel table and the same drains', async () => {
    let backRuns = 0;
    await fc.assert(
      fc.asyncProperty(arbTwoDecisions, async ({ known, fates }) => {
        const first = decided(known, (i, j) => fates[i]![j]!.first);
        const then = decided(known, (i, j) => fates[i]![j]!.second);
        const ctx = context({ owned: new Set(known.map((s) => serviceId(s.service))) });
        const kernel = () => connected(known, (i, j) => fates[i]![j]!.connections);
        const passWithRead = async (
          kernel: FakeIpvs,
          wanted: DesiredService[],
          draining: PlanContext['draining'],
        ) => {
          const out = plan(
            { services: wanted },
            { table: await kernel.readTable() },
            { ...ctx, draining },
          );
          expect((await applyPlan(kernel, out)).failed).toBe(0);
          return out.next.draining;
        };
        const quiescePass = async (
          kernel: FakeIpvs,
          wanted: DesiredService[],
          aim: DesiredService[],
          draining: PlanContext['draining'],
        ) => {
          const quiesced = planQuiesce(wanted, knownOf(...aim), { ...ctx, draining });
          const rest = plan(
            { services: quiesced.rest },
            { table: await kernel.readServices(quiesced.rest.map((s) => s.service)) },
            { ...ctx, draining },
          );
          const joined = withQuiesced(rest, quiesced);
          expect((await applyPlan(kernel, joined)).failed).toBe(0);
          return { draining: joined.next.draining, quiesced };
        };

        const direct = await kernel();
        const drains = await passWithRead(direct, then, await passWithRead(direct, first, {}));

        const quick = await kernel();
        const one = await quiescePass(quick, first, known, {});
        const two = await quiescePass(quick, then, first, one.draining);
        if (two.quiesced.steps.some((step) => one.draining[step.service]?.[step.dest ?? '']))
          backRuns++;
        // Before the settle, a service written unread takes new connections as wanted: its
        // wanted reals as wanted, the others at weight 0.
        for (const service of then.filter((s) => two.quiesced.services.has(serviceId(s.service)))) {
          const held = await quick.listDests(serviceKeyOf(service.service));
          const weights = new Map(held.map((d) => [`${d.address}:${d.port}`, d.weight]));
          const wanted = new Map(service.dests.map((d) => [`${d.address}:${d.port}`, d.weight]));
          for (const [real, weight] of weights) expect(weight).toBe(wanted.get(real) ?? 0);
          for (const real of wanted.keys()) expect(weights.has(real)).toBe(true);
        }
        const settled = await passWithRead(quick, then, two.draining);

        expect(settingsOf(await quick.readTable())).toEqual(settingsOf(await direct.readTable()));
        expect(settled).toEqual(drains);
      }),
      { numRuns: 300 },
    );
    // Reals left in the first decision and were wanted again in the second, written unread.
    expect(backRuns).toBeGreaterThan(30);
  });
});
