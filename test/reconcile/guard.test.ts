import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeIpvs } from '../../src/ipvs/fake.js';
import { checkMassRemoval } from '../../src/reconcile/guard.js';
import { plan } from '../../src/reconcile/plan.js';
import type { PlanContext, ReconcilePolicy } from '../../src/reconcile/types.js';
import { dest, desired, live, liveService, tcpService } from './fixtures.js';
import { reconcile } from './pass.js';

const services = [1, 2, 3, 4].map((i) => tcpService(`10.0.0.${i}`, 80));
const ids = [1, 2, 3, 4].map((i) => `TCP 10.0.0.${i}:80`);
const rs = dest('192.168.10.2', 80);
const table = { services: services.map((s) => liveService(s, [live(rs)])) };
const keep = (n: number) => ({
  services: services.slice(0, n).map((s, i) => desired(`s${i}`, s, [rs])),
});
const context = (extra: Partial<PlanContext> = {}): PlanContext => ({
  now: 1000,
  owned: new Set(ids),
  draining: {},
  drainTimeoutMs: 0,
  prune: 'managed',
  ...extra,
});
const policy = (extra: Partial<ReconcilePolicy> = {}): ReconcilePolicy => ({
  prune: 'managed',
  drainTimeoutMs: 0,
  maxRemoval: 0.5,
  allowMassRemoval: false,
  ...extra,
});
const check = (kept: number, ctx = context(), pol = policy()) => {
  const p = plan(keep(kept), { table }, ctx);
  return checkMassRemoval(p, ctx, pol);
};

describe('the guard against mass removal', () => {
  it('refuses a plan that removes every managed service, naming them', () => {
    const refusal = check(0);
    expect(refusal?.removing).toEqual(ids);
    expect(refusal?.message).toBe(
      `refusing to remove every service lvsd manages (4 of 4): ${ids.join(', ')}`,
    );
  });

  it('refuses more than max_removal, allows up to it', () => {
    expect(check(1)?.message).toMatch(
      /3 of the 4 services lvsd manages \(75%, more than max_removal 50%\)/,
    );
    expect(check(2)).toBeNull();
    expect(check(3)).toBeNull();
    expect(check(1, context(), policy({ maxRemoval: 0.8 }))).toBeNull();
  });

  it('refuses removing every service even at max_removal 100%, unless allowed', () => {
    expect(check(0, context(), policy({ maxRemoval: 1 }))).not.toBeNull();
    expect(check(0, context(), policy({ allowMassRemoval: true }))).toBeNull();
  });

  it('does not count removals already under way (their reals draining)', () => {
    const ctx = context({ draining: { [ids[3]!]: { '192.168.10.2:80': 500 } } });
    expect(check(3, ctx)).toBeNull();
    // Three removals, one of them already draining: two new ones of four is 50%.
    expect(check(1, ctx)).toBeNull();
  });

  it('counts only what lvsd manages: foreign services are neither removed nor counted', () => {
    const ctx = context({ owned: new Set([ids[0]!, ids[1]!]) });
    // s0 kept, s1 removed (1 of 2 managed), s2 and s3 foreign.
    expect(check(1, ctx)).toBeNull();
    const p = plan(keep(0), { table }, ctx);
    expect(p.foreign).toEqual([ids[2], ids[3]]);
    expect(checkMassRemoval(p, ctx, policy())?.message).toMatch(
      /every service lvsd manages \(2 of 2\)/,
    );
  });

  it('a refused pass writes nothing to the kernel and nothing to the state file', async () => {
    const kernel = new FakeIpvs();
    const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-guard-'));
    const opts = {
      stateDir,
      prune: 'managed' as const,
      drainTimeoutMs: 0,
      dryRun: false,
      addresses: null,
      markRules: null,
    };
    await reconcile(kernel, { ...opts, desired: keep(4) });
    const state = await readFile(join(stateDir, 'state.json'), 'utf8');
    const writes = kernel.log.length;
    const result = await reconcile(kernel, { ...opts, desired: { services: [] } });
    expect(result.refused?.removing).toEqual(ids);
    expect(result.report).toBeUndefined();
    expect(kernel.log.length).toBe(writes);
    expect((await kernel.readTable()).services).toHaveLength(4);
    expect(await readFile(join(stateDir, 'state.json'), 'utf8')).toBe(state);
    // Said so explicitly: it goes.
    const allowed = await reconcile(kernel, {
      ...opts,
      desired: { services: [] },
      allowMassRemoval: true,
    });
    expect(allowed.refused).toBeUndefined();
    expect((await kernel.readTable()).services).toHaveLength(0);
  });
});
