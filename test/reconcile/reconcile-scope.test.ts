/**
 * Scoped passes (ReconcileOptions.scope): a health batch reads, plans and applies only the
 * services it names, through the same planner and applier as a full pass, and merges their
 * drains into the state file without disturbing the others'.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeIpvs } from '../../src/ipvs/fake.js';
import { serviceId, serviceKeyOf } from '../../src/ipvs/model.js';
import type { DesiredState } from '../../src/reconcile/types.js';
import { reconcile } from './pass.js';
import type { PassSettings as ReconcileOptions } from './pass.js';
import type { SysctlAccess } from '../../src/sysctl/access.js';
import { CallLog } from '../daemon/helpers.js';
import { dest, desired, tcpService } from './fixtures.js';

const web = tcpService('10.0.0.1', 80);
const api = tcpService('10.0.0.2', 80);
const mail = tcpService('10.0.0.3', 25);
const a = dest('192.168.10.2', 80);
const b = dest('192.168.10.3', 80);
const m = dest('192.168.10.4', 25);

const all = (webDests = [a, b], apiDests = [a, b]): DesiredState => ({
  services: [
    desired('web', web, webDests),
    desired('api', api, apiDests),
    desired('mail', mail, [m]),
  ],
});

const noSysctls = (): SysctlAccess & { reads: number } => {
  const access = {
    reads: 0,
    async read(names: readonly string[]) {
      access.reads++;
      return Object.fromEntries(names.map((n) => [n, null]));
    },
    async write() {
      throw new Error('no sysctl write expected');
    },
  };
  return access;
};

async function options(extra: Partial<ReconcileOptions> = {}): Promise<ReconcileOptions> {
  return {
    desired: all(),
    stateDir: await mkdtemp(join(tmpdir(), 'lvsd-scope-')),
    prune: 'managed',
    drainTimeoutMs: 0,
    dryRun: false,
    sysctls: noSysctls(),
    addresses: null,
    markRules: null,
    ...extra,
  };
}

const stateOf = async (dir: string) =>
  JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as {
    owned: string[];
    draining: Record<string, Record<string, number>>;
    vips?: string[];
  };

describe('reconcile with a scope', () => {
  it('reads, plans and writes only the named service', async () => {
    const kernel = new FakeIpvs();
    const opts = await options();
    await reconcile(kernel, opts);
    const counting = new CallLog(kernel);
    const sysctls = noSysctls();
    // b goes down in web and in api; only web is named.
    const result = await reconcile(counting, {
      ...opts,
      desired: all([a], [a]),
      scope: new Set(['web']),
      sysctls,
    });
    expect(counting.calls.sort()).toEqual([
      'execute delete-dest TCP 10.0.0.1:80',
      'readServices TCP 10.0.0.1:80',
    ]);
    expect(sysctls.reads).toBe(0);
    expect(result.scope).toEqual(new Set(['TCP 10.0.0.1:80']));
    expect(result.plan.steps.map((s) => `${s.action} ${s.service} ${s.dest}`)).toEqual([
      'remove TCP 10.0.0.1:80 192.168.10.3:80',
    ]);
    expect(result.report?.writes).toBe(1);
    // api still has b: not named, not touched.
    expect((await kernel.listDests(serviceKeyOf(api))).length).toBe(2);
  });

  it(
    'never touches a service it was not given: foreign, owned and left out of the config, or ' +
      'absent from desired',
    async () => {
      const kernel = new FakeIpvs();
      const opts = await options({ prune: 'all' });
      await reconcile(kernel, opts);
      await kernel.execute([{ op: 'add-service', service: tcpService('10.9.9.9', 25) }]);
      const counting = new CallLog(kernel);
      // mail left the config: a full pass would remove it (owned); a scoped pass does not look.
      const withoutMail: DesiredState = { services: all().services.slice(0, 2) };
      const result = await reconcile(counting, {
        ...opts,
        desired: withoutMail,
        scope: new Set(['web', 'mail', 'nosuch']),
      });
      expect(result.plan.steps).toEqual([]);
      expect(result.plan.foreign).toEqual([]);
      expect(counting.calls.sort()).toEqual(['readServices TCP 10.0.0.1:80']);
      expect((await kernel.readTable()).services.map(serviceId).sort()).toEqual([
        'TCP 10.0.0.1:80',
        'TCP 10.0.0.2:80',
        'TCP 10.0.0.3:25',
        'TCP 10.9.9.9:25',
      ]);
      expect((await stateOf(opts.stateDir!)).owned).toContain('TCP 10.0.0.3:25');
    },
  );

  it('adds a named service the kernel lost, as a full pass would', async () => {
    const kernel = new FakeIpvs();
    const opts = await options();
    await reconcile(kernel, opts);
    await kernel.execute([{ op: 'delete-service', service: serviceKeyOf(web) }]);
    const result = await reconcile(kernel, { ...opts, scope: new Set(['web']) });
    expect(result.plan.steps.map((s) => s.op.op)).toEqual(['add-service', 'add-dest', 'add-dest']);
    expect((await kernel.listDests(serviceKeyOf(web))).length).toBe(2);
  });

  it('merges its drains into the state file and keeps the other services entries as they were', async () => {
    const kernel = new FakeIpvs();
    const opts = await options({ drainTimeoutMs: 60_000 });
    await reconcile(kernel, { ...opts, now: 1000 });
    kernel.setCounters(serviceKeyOf(api), { dest: b, activeConns: 3 });
    kernel.setCounters(serviceKeyOf(web), { dest: b, activeConns: 2 });
    // A full pass starts api's drain of b at t=2000.
    await reconcile(kernel, { ...opts, desired: all([a, b], [a]), now: 2000 });
    expect((await stateOf(opts.stateDir!)).draining).toEqual({
      'TCP 10.0.0.2:80': { '192.168.10.3:80': 2000 },
    });

    // A health pass for web starts web's drain of b at t=3000; api's record stays.
    const drainWeb = await reconcile(kernel, {
      ...opts,
      desired: all([a], [a]),
      now: 3000,
      scope: new Set(['web']),
    });
    expect(drainWeb.plan.steps.map((s) => `${s.action} ${s.dest}`)).toEqual([
      'drain 192.168.10.3:80',
    ]);
    expect(drainWeb.plan.waiting.map((w) => w.service)).toEqual(['TCP 10.0.0.1:80']);
    expect((await stateOf(opts.stateDir!)).draining).toEqual({
      'TCP 10.0.0.2:80': { '192.168.10.3:80': 2000 },
      'TCP 10.0.0.1:80': { '192.168.10.3:80': 3000 },
    });

    // Web's connections end: the next health pass deletes b from web and drops its record only.
    kernel.setCounters(serviceKeyOf(web), { dest: b, activeConns: 0 });
    await reconcile(kernel, {
      ...opts,
      desired: all([a], [a]),
      now: 4000,
      scope: new Set(['web']),
    });
    expect((await stateOf(opts.stateDir!)).draining).toEqual({
      'TCP 10.0.0.2:80': { '192.168.10.3:80': 2000 },
    });
    expect((await stateOf(opts.stateDir!)).owned.sort()).toEqual([
      'TCP 10.0.0.1:80',
      'TCP 10.0.0.2:80',
      'TCP 10.0.0.3:25',
    ]);

    // A drain the full pass started keeps its clock through a scoped pass of its own service.
    const api2 = await reconcile(kernel, {
      ...opts,
      desired: all([a], [a]),
      now: 5000,
      scope: new Set(['api']),
    });
    expect(api2.plan.waiting).toEqual([
      {
        service: 'TCP 10.0.0.2:80',
        dest: '192.168.10.3:80',
        activeConns: 3,
        inactiveConns: 0,
        remainingMs: 57_000,
      },
    ]);
    expect((await stateOf(opts.stateDir!)).draining).toEqual({
      'TCP 10.0.0.2:80': { '192.168.10.3:80': 2000 },
    });
  });

  it('keeps the VIPs the state file records, and leaves an unreadable state file for a full pass', async () => {
    const kernel = new FakeIpvs();
    const opts = await options();
    await reconcile(kernel, opts);
    const path = join(opts.stateDir!, 'state.json');
    const saved = await stateOf(opts.stateDir!);
    await writeFile(path, JSON.stringify({ ...saved, vips: ['10.0.0.1/32 on lvsd0'] }));
    await reconcile(kernel, { ...opts, desired: all([a]), scope: new Set(['web']) });
    expect((await stateOf(opts.stateDir!)).vips).toEqual(['10.0.0.1/32 on lvsd0']);

    await writeFile(path, 'not json');
    const result = await reconcile(kernel, {
      ...opts,
      desired: all([a, b]),
      scope: new Set(['web']),
    });
    expect(result.warnings[0]).toMatch(/not a valid lvsd state file/);
    expect(result.report?.writes).toBe(1);
    expect(await readFile(path, 'utf8')).toBe('not json');
  });

  it('a dry run reads the named service and writes nothing', async () => {
    const kernel = new FakeIpvs();
    const opts = await options();
    await reconcile(kernel, opts);
    const writes = kernel.log.length;
    const result = await reconcile(kernel, {
      ...opts,
      desired: all([a]),
      scope: new Set(['web']),
      dryRun: true,
    });
    expect(result.plan.steps).toHaveLength(1);
    expect(result.report).toBeUndefined();
    expect(kernel.log.length).toBe(writes);
  });
});
