import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeIpvs } from '../../src/ipvs/fake.js';
import {
  ForwardingIpvsClient,
  IpvsError,
  type IpvsOp,
  type IpvsOpResult,
} from '../../src/ipvs/client.js';
import { formatApplyReport } from '../../src/reconcile/format.js';
import type { DesiredState } from '../../src/reconcile/types.js';
import { reconcile } from './pass.js';
import type { PassSettings } from './pass.js';
import { MemorySysctls } from '../../src/sysctl/memory.js';
import { dest, desired, tcpService } from './fixtures.js';

const web = tcpService('10.0.0.1', 80, { scheduler: 'rr' });
const dns = { ...tcpService('10.0.0.2', 53), protocol: 'udp' as const };
const state: DesiredState = {
  services: [
    desired('web', web, [dest('192.168.10.2', 80), dest('192.168.11.2', 80)]),
    desired('dns', dns, [dest('192.168.10.2', 53)]),
  ],
};

async function options(extra: Partial<PassSettings> = {}): Promise<PassSettings> {
  return {
    desired: state,
    stateDir: await mkdtemp(join(tmpdir(), 'lvsd-state-')),
    prune: 'managed',
    drainTimeoutMs: 0,
    dryRun: false,
    sysctls: new MemorySysctls(),
    ...extra,
  };
}

/** Refuses the first operation that matches, once: a change the kernel refuses today. */
class RefuseOnce extends ForwardingIpvsClient {
  refused = false;
  constructor(
    inner: FakeIpvs,
    private readonly matches: (op: IpvsOp) => boolean,
  ) {
    super(inner);
  }
  override async execute(ops: readonly IpvsOp[]): Promise<IpvsOpResult[]> {
    const results: IpvsOpResult[] = [];
    for (const op of ops) {
      if (!this.refused && this.matches(op)) {
        this.refused = true;
        results.push({
          ok: false,
          error: new IpvsError(op.op, 'x', 12, 'Memory allocation problem'),
        });
      } else {
        results.push(...(await this.inner.execute([op])));
      }
    }
    return results;
  }
}

describe('reconcile', () => {
  it('applies, then a second run makes zero kernel writes', async () => {
    const kernel = new FakeIpvs();
    const opts = await options();
    const first = await reconcile(kernel, opts);
    expect(first.report?.writes).toBe(5);
    expect(first.report?.failed).toBe(0);
    const logged = kernel.log.length;
    const second = await reconcile(kernel, opts);
    expect(second.plan.steps).toEqual([]);
    expect(kernel.log.length).toBe(logged);
  });

  it('a one-weight edit is exactly one kernel write', async () => {
    const kernel = new FakeIpvs();
    const opts = await options();
    await reconcile(kernel, opts);
    kernel.log.length = 0;
    const edited: DesiredState = {
      services: [
        desired('web', web, [dest('192.168.10.2', 80, { weight: 5 }), dest('192.168.11.2', 80)]),
        state.services[1]!,
      ],
    };
    await reconcile(kernel, { ...opts, desired: edited });
    expect(kernel.log).toEqual([
      {
        op: 'edit-dest',
        service: { family: 'ipv4', protocol: 'tcp', address: '10.0.0.1', port: 80 },
        dest: dest('192.168.10.2', 80, { weight: 5 }),
      },
    ]);
  });

  it('a dry run reads but never writes, and writes no state', async () => {
    const kernel = new FakeIpvs();
    const opts = await options({ dryRun: true });
    const result = await reconcile(kernel, opts);
    expect(result.plan.steps).toHaveLength(5);
    expect(result.report).toBeUndefined();
    expect(kernel.log).toEqual([]);
    await expect(readFile(join(opts.stateDir!, 'state.json'), 'utf8')).rejects.toThrow();
  });

  it('records what it owns, and removes an owned service dropped from the config', async () => {
    const kernel = new FakeIpvs();
    const opts = await options();
    await reconcile(kernel, opts);
    const saved = JSON.parse(await readFile(join(opts.stateDir!, 'state.json'), 'utf8'));
    expect(saved.owned).toEqual(['TCP 10.0.0.1:80', 'UDP 10.0.0.2:53']);
    await reconcile(kernel, { ...opts, desired: { services: [state.services[0]!] } });
    expect((await kernel.readTable()).services.map((s) => s.scheduler)).toEqual(['rr']);
  });

  it('leaves services it did not create alone', async () => {
    const kernel = new FakeIpvs();
    await kernel.execute([{ op: 'add-service', service: tcpService('10.9.9.9', 25) }]);
    const result = await reconcile(kernel, await options());
    expect(result.plan.foreign).toEqual(['TCP 10.9.9.9:25']);
    expect((await kernel.readTable()).services).toHaveLength(3);
  });

  it(
    'applies the independent rest when the kernel refuses one change, reports it, and ' +
      'converges next time',
    async () => {
      const kernel = new FakeIpvs();
      const flaky = new RefuseOnce(
        kernel,
        (op) => op.op === 'add-dest' && op.dest.address === '192.168.11.2',
      );
      const opts = await options();
      const first = await reconcile(flaky, opts);
      expect(first.report?.failed).toBe(1);
      expect(formatApplyReport(first.report!)).toContain(
        '! add-dest TCP 10.0.0.1:80 -> 192.168.11.2:80: Memory allocation problem',
      );
      expect((await kernel.readTable()).services.flatMap((s) => s.dests)).toHaveLength(2);
      const second = await reconcile(flaky, opts);
      expect(second.plan.steps.map((s) => `${s.op.op} ${s.dest}`)).toEqual([
        'add-dest 192.168.11.2:80',
      ]);
      expect(second.report?.failed).toBe(0);
    },
  );

  it('reports the dests of a refused service as caused by it', async () => {
    const kernel = new FakeIpvs();
    const bad: DesiredState = {
      services: [desired('web', { ...web, scheduler: 'nosuch' }, [dest('192.168.10.2', 80)])],
    };
    const result = await reconcile(kernel, await options({ desired: bad }));
    expect(result.report?.failed).toBe(2);
    const text = formatApplyReport(result.report!);
    expect(text).toMatch(/add-service TCP 10\.0\.0\.1:80: Scheduler not found/);
    expect(text).toContain('because add-service TCP 10.0.0.1:80 failed');
  });

  it('sets configured sysctls and advises on the ones it leaves alone', async () => {
    const sysctls = new MemorySysctls({
      'net.ipv4.ip_forward': 0,
      'net.ipv4.vs.conn_reuse_mode': 1,
      'net.ipv4.vs.expire_quiescent_template': 0,
    });
    const persistent = { ...web, flags: { ...web.flags, persistent: true }, timeout: 360 };
    const wanted: DesiredState = {
      services: [desired('web', persistent, [dest('192.168.10.2', 80)])],
      sysctls: { 'net.ipv4.ip_forward': 1 },
    };
    const result = await reconcile(
      new FakeIpvs(),
      await options({ desired: wanted, sysctls, drainTimeoutMs: 60_000 }),
    );
    expect(result.plan.sysctls).toEqual([{ name: 'net.ipv4.ip_forward', from: 0, to: 1 }]);
    expect(sysctls.values['net.ipv4.ip_forward']).toBe(1);
    expect(result.plan.advice).toHaveLength(1);
    expect(result.plan.advice[0]).toContain('expire_quiescent_template');
  });
});
