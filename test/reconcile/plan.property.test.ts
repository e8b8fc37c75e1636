/**
 * Property tests: for random desired and live tables, applying the plan to the fake
 * kernel yields exactly the desired table, planning again yields nothing, and nothing
 * that could be edited is deleted and re-created.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { destId, serviceId } from '../../src/ipvs/model.js';
import { applyPlan } from '../../src/reconcile/apply.js';
import { plan } from '../../src/reconcile/plan.js';
import type { PlanContext } from '../../src/reconcile/types.js';
import { arbTable, kernelWith, settingsOf, settingsOfDesired } from './arbitraries.js';

const contextFor = (owned: Iterable<string>): PlanContext => ({
  now: 0,
  owned: new Set(owned),
  draining: {},
  drainTimeoutMs: 0,
  prune: 'managed',
});

describe('planner properties (against the fake kernel)', () => {
  it('applying the plan yields the desired table, and a second plan is empty', async () => {
    await fc.assert(
      fc.asyncProperty(arbTable, arbTable, async (before, after) => {
        const kernel = await kernelWith(before);
        const owned = before.map((s) => serviceId(s.service));
        const first = plan(
          { services: after },
          { table: await kernel.readTable() },
          contextFor(owned),
        );
        const report = await applyPlan(kernel, first);
        expect(report.failed).toBe(0);
        const table = await kernel.readTable();
        expect(settingsOf(table)).toEqual(settingsOfDesired(after));
        const second = plan({ services: after }, { table }, contextFor(first.next.owned));
        expect(second.steps).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('never deletes a service or real that stays in the config', async () => {
    await fc.assert(
      fc.asyncProperty(arbTable, arbTable, async (before, after) => {
        const kernel = await kernelWith(before);
        const result = plan(
          { services: after },
          { table: await kernel.readTable() },
          contextFor(before.map((s) => serviceId(s.service))),
        );
        const kept = new Set(
          after.flatMap((s) => [
            serviceId(s.service),
            ...s.dests.map((d) => `${serviceId(s.service)} ${destId(d)}`),
          ]),
        );
        for (const step of result.steps.filter((s) => s.action === 'remove')) {
          expect(kept.has(step.dest ? `${step.service} ${step.dest}` : step.service)).toBe(false);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('plans nothing for a table against itself', async () => {
    await fc.assert(
      fc.asyncProperty(arbTable, async (services) => {
        const kernel = await kernelWith(services);
        expect(
          plan({ services }, { table: await kernel.readTable() }, contextFor([])).steps,
        ).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });
});
