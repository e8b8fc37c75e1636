/**
 * The reconciler on the real kernel (lab only: root, IPVS), in the classic LVS-NAT lab
 * (client 10.0.0.2 -> VIP 10.0.0.1 -> real1 192.168.10.2 / real2 192.168.11.2), with
 * desired state from YAML through the config loader, as `lvsd apply` and the daemon build it.
 * ipvsadm is the independent reader; a wrapper around the kernel client counts the
 * operations each pass sends.
 *
 * - idempotence: a second pass sends no write at all;
 * - a one-weight edit is exactly one netlink write;
 * - weight and scheduler of a live service carrying traffic change in place: its
 *   counters keep counting and an open connection carries on;
 * - partial failure: a scheduler the kernel does not have fails that service and its
 *   reals only; the rest is applied; once fixed, the next pass converges;
 * - graceful drain: a removed real carrying a connection goes to weight 0 first (its
 *   connection still served, new ones elsewhere) and is deleted only later;
 * - services lvsd did not create are left alone; services it created and the config
 *   dropped are removed.
 * This file writes the IPVS table of its network namespace (the suite gives it its own).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/index.js';
import { formatDiagnostics } from '../../src/config/diagnostics.js';
import { ForwardingIpvsClient, type IpvsOp, type IpvsOpResult } from '../../src/ipvs/client.js';
import { openIpvs } from '../../src/ipvs/index.js';
import type { KernelIpvsClient } from '../../src/ipvs/kernel-client.js';
import { desiredState } from '../../src/reconcile/desired.js';
import type { DesiredState } from '../../src/reconcile/types.js';
import { reconcile } from '../reconcile/pass.js';
import type { ReconcileResult } from '../../src/reconcile/reconciler.js';
import { natLab, sortedLines, waitFor, type BuiltLab } from '../lab/topology.js';

const inLab = process.env.LVSD_LAB === '1';

/** The kernel client, with every operation handed to execute() recorded. */
class Counting extends ForwardingIpvsClient {
  readonly executed: IpvsOp[] = [];
  override execute(ops: readonly IpvsOp[]): Promise<IpvsOpResult[]> {
    this.executed.push(...ops);
    return this.inner.execute(ops);
  }
  /** Netlink messages sent so far (dump requests included). */
  get messagesSent(): number {
    return (this.inner as KernelIpvsClient).counters.messagesSent;
  }
}

/** The NAT web pair, as in examples/nat-web.yaml, without health checks. */
function natConfig(
  options: {
    scheduler?: string;
    weights?: [number, number];
    reals?: Array<1 | 2>;
    drain?: string;
  } = {},
): string {
  const [w1, w2] = options.weights ?? [1, 1];
  const reals = (options.reals ?? [1, 2]).map(
    (r) => `      - { address: 192.168.${9 + r}.2:80, weight: ${r === 1 ? w1 : w2} }`,
  );
  return [
    'kernel:',
    '  sysctl: { ip_forward: true, conn_reuse_mode: 1 }',
    'reconcile:',
    `  drain_timeout: ${options.drain ?? '0s'}`,
    'services:',
    '  web:',
    '    address: 10.0.0.1:80',
    `    scheduler: ${options.scheduler ?? 'rr'}`,
    '    forwarding: nat',
    '    reals:',
    ...reals,
    '',
  ].join('\n');
}

function desiredFrom(yaml: string): { desired: DesiredState; drainTimeoutMs: number } {
  const loaded = loadConfigText(yaml, 'lab.yaml', { host: null });
  if (!loaded.ok) throw new Error(`test config refused:\n${formatDiagnostics(loaded.errors)}`);
  return {
    desired: desiredState(loaded.config),
    drainTimeoutMs: loaded.config.reconcile.drainTimeoutMs,
  };
}

/** Service counters from `ipvsadm -Ln --stats --exact`: Conns InPkts OutPkts InBytes OutBytes. */
function serviceStats(text: string, service: string): number[] {
  const line = text.split('\n').find((l) => l.startsWith(service));
  if (!line) throw new Error(`${service} not in:\n${text}`);
  return line.trim().split(/\s+/).slice(2).map(Number);
}

/** "192.168.10.2:80" -> [weight, activeConns, inactiveConns] from `ipvsadm -Ln`. */
function realsOf(text: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const line of text.split('\n')) {
    const m = /^\s+->\s+(\d+\.\d+\.\d+\.\d+:\d+)\s+\S+\s+(\d+)\s+(\d+)\s+(\d+)/.exec(line);
    if (m) out.set(m[1]!, [Number(m[2]), Number(m[3]), Number(m[4])]);
  }
  return out;
}

/**
 * A TCP connection from the client to the VIP, established through IPVS and kept open
 * without a request until release(): then it sends one GET and resolves with the answer.
 */
class HeldConnection {
  private readonly child: ChildProcess;
  private output = '';
  private readonly exited: Promise<number | null>;
  constructor(
    readonly netns: string,
    readonly goFile: string,
  ) {
    const script =
      'exec 3<>/dev/tcp/10.0.0.1/80 || exit 9; echo open; while [ ! -e "$1" ]; do sleep 0.1; done; ' +
      'printf "GET / HTTP/1.0\\r\\nHost: vip\\r\\n\\r\\n" >&3; cat <&3';
    this.child = spawn('ip', ['netns', 'exec', netns, 'bash', '-c', script, 'held', goFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }
  async opened(): Promise<void> {
    const lines = createInterface({ input: this.child.stdout! });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('held connection: not open after 30 s')),
        30_000,
      );
      lines.once('line', (line) => {
        clearTimeout(timer);
        if (line === 'open') resolve();
        else reject(new Error(`held connection: ${line}`));
      });
      this.child.once('exit', (code) =>
        reject(new Error(`held connection: exited with ${code} before opening`)),
      );
    });
  }
  async release(): Promise<string> {
    await writeFile(this.goFile, 'go');
    const code = await this.exited;
    if (code !== 0) throw new Error(`held connection exited with ${code}: ${this.output}`);
    return this.output;
  }
  kill(): void {
    this.child.kill('SIGKILL');
  }
}

/** The real an established connection from the client went to, from `ipvsadm -Lnc`. */
async function realOfEstablished(nat: BuiltLab): Promise<string> {
  return waitFor('an established connection in ipvsadm -Lnc', async () => {
    const table = await nat.director.ipvsadm('-Lnc');
    const m = /ESTABLISHED\s+10\.0\.0\.2:\d+\s+10\.0\.0\.1:80\s+(\S+)/.exec(table);
    return m ? m[1]! : null;
  });
}

if (!inLab) {
  describe.skip('reconcile on the real kernel (lab only: LVSD_LAB=1)', () =>
    it('needs the lab', () => undefined));
} else {
  describe('reconcile on the real kernel, in the LVS-NAT lab', () => {
    let nat: BuiltLab;
    let ipvs: Counting;
    let stateDir: string;
    let scratch: string;

    async function pass(
      yaml: string,
      extra: { now?: number; patch?: (d: DesiredState) => void } = {},
    ): Promise<ReconcileResult> {
      const { desired, drainTimeoutMs } = desiredFrom(yaml);
      extra.patch?.(desired);
      return reconcile(ipvs, {
        desired,
        stateDir,
        prune: 'managed',
        drainTimeoutMs,
        dryRun: false,
        markRules: null,
        ...(extra.now !== undefined ? { now: extra.now } : {}),
      });
    }

    const saved = async () => sortedLines(await nat.director.ipvsadm('-Sn'));

    beforeAll(async () => {
      nat = await natLab();
      ipvs = new Counting(await openIpvs());
      scratch = await mkdtemp(join(tmpdir(), 'lvsd-reconcile-'));
    });
    afterAll(async () => {
      await ipvs?.close();
      await nat?.director.ipvsadm('-C').catch(() => undefined);
      await nat?.teardown();
    });
    beforeEach(async () => {
      await nat.director.ipvsadm('-C');
      stateDir = await mkdtemp(join(scratch, 'state-'));
      ipvs.executed.length = 0;
    });

    it(
      'applies the NAT pair: ipvsadm -Sn shows exactly the rules, the client is answered by both ' +
        'reals in turn',
      async () => {
        const result = await pass(natConfig());
        expect(result.report?.failed).toBe(0);
        expect(await saved()).toEqual(
          sortedLines(`-A -t 10.0.0.1:80 -s rr
          -a -t 10.0.0.1:80 -r 192.168.10.2:80 -m -w 1
          -a -t 10.0.0.1:80 -r 192.168.11.2:80 -m -w 1`),
        );
        const answers = await nat.ask(4);
        expect(new Set(answers)).toEqual(new Set(['real1', 'real2']));
        expect(answers[0]).not.toBe(answers[1]);
        expect(answers[2]).toBe(answers[0]);
      },
    );

    it('a second pass sends no write: empty plan, no operation executed, the table untouched', async () => {
      await pass(natConfig());
      const before = await saved();
      ipvs.executed.length = 0;
      const messagesBefore = ipvs.messagesSent;
      const second = await pass(natConfig());
      expect(second.plan.steps).toEqual([]);
      expect(second.report?.writes).toBe(0);
      expect(ipvs.executed).toEqual([]);
      // Only the reads went out: one service dump and one dest dump for the one service.
      expect(ipvs.messagesSent - messagesBefore).toBe(2);
      expect(await saved()).toEqual(before);
    });

    it('one weight changed in the YAML is exactly one netlink write', async () => {
      await pass(natConfig());
      ipvs.executed.length = 0;
      const messagesBefore = ipvs.messagesSent;
      const result = await pass(natConfig({ weights: [1, 5] }));
      expect(result.report?.failed).toBe(0);
      expect(ipvs.executed.map((op) => op.op)).toEqual(['edit-dest']);
      expect(ipvs.messagesSent - messagesBefore).toBe(2 + 1);
      expect(await saved()).toContain('-a -t 10.0.0.1:80 -r 192.168.11.2:80 -m -w 5');
    });

    it(
      'changes weight and scheduler of a live service in place: counters keep counting, an open ' +
        'connection carries on',
      async () => {
        await pass(natConfig());
        await nat.ask(6);
        const held = new HeldConnection(`${nat.lab.prefix}-client`, join(scratch, 'go-edit'));
        try {
          await held.opened();
          const real = await realOfEstablished(nat);
          // The kernel folds per-CPU counters into the totals every 2 s.
          const before = await waitFor('7 connections counted', async () => {
            const stats = serviceStats(
              await nat.director.ipvsadm('-Ln', '--stats', '--exact'),
              'TCP  10.0.0.1:80',
            );
            return stats[0]! >= 7 ? stats : null;
          });
          ipvs.executed.length = 0;
          const result = await pass(natConfig({ scheduler: 'wrr', weights: [3, 1] }));
          expect(result.report?.failed).toBe(0);
          expect(ipvs.executed.map((op) => op.op).sort()).toEqual(['edit-dest', 'edit-service']);
          const listing = await nat.director.ipvsadm('-Ln');
          expect(listing).toMatch(/TCP {2}10\.0\.0\.1:80 wrr/);
          expect(realsOf(listing).get('192.168.10.2:80')?.[0]).toBe(3);
          // Not re-created: the connection entry is still there, on the same real ...
          expect(realsOf(listing).get(real)?.[1]).toBe(1);
          // ... and the service's counters were not reset.
          await new Promise((r) => setTimeout(r, 2500));
          const after = serviceStats(
            await nat.director.ipvsadm('-Ln', '--stats', '--exact'),
            'TCP  10.0.0.1:80',
          );
          for (let i = 0; i < before.length; i++)
            expect(after[i], `counter ${i}: ${before} -> ${after}`).toBeGreaterThanOrEqual(
              before[i]!,
            );
          // The held connection is served by its real after the edit.
          const answer = await held.release();
          expect(answer).toMatch(/^HTTP\/1\.[01] 200/m);
          expect(answer.trim().split('\n').pop()).toBe(
            real === '192.168.10.2:80' ? 'real1' : 'real2',
          );
        } finally {
          held.kill();
        }
      },
    );

    it(
      'a scheduler the kernel lacks fails that service and its reals only; the rest applies; fixed, the ' +
        'next pass converges',
      async () => {
        const yaml =
          `${natConfig()}  api:\n    address: 10.0.0.1:8080\n    scheduler: rr\n    forwarding: nat\n  ` +
          `  reals: [192.168.10.2:80, 192.168.11.2:80]\n`;
        // "twos" exists from Linux 6.2; the lab's 6.1 kernel has no such module.
        const broken = await pass(yaml, {
          patch: (d) => {
            const api = d.services.find((s) => s.name === 'api')!;
            api.service = { ...api.service, scheduler: 'twos' };
          },
        });
        const failed = broken.report!.outcomes.filter((o) => o.error);
        expect(
          failed.map(
            (o) => `${o.step.op.op} ${o.step.service}${o.step.dest ? ` -> ${o.step.dest}` : ''}`,
          ),
        ).toEqual([
          'add-service TCP 10.0.0.1:8080',
          'add-dest TCP 10.0.0.1:8080 -> 192.168.10.2:80',
          'add-dest TCP 10.0.0.1:8080 -> 192.168.11.2:80',
        ]);
        expect(failed[0]!.error!.errno).toBe(2); // ENOENT: no such scheduler module
        expect(failed[0]!.error!.message).toMatch(/scheduler/i);
        expect(failed.slice(1).every((o) => o.causedBy === failed[0]!.step)).toBe(true);
        expect(await saved()).toEqual(
          sortedLines(`-A -t 10.0.0.1:80 -s rr
          -a -t 10.0.0.1:80 -r 192.168.10.2:80 -m -w 1
          -a -t 10.0.0.1:80 -r 192.168.11.2:80 -m -w 1`),
        );

        const fixed = await pass(yaml);
        expect(fixed.report?.failed).toBe(0);
        expect(fixed.plan.steps.map((s) => s.op.op)).toEqual([
          'add-service',
          'add-dest',
          'add-dest',
        ]);
        expect(await saved()).toEqual(
          sortedLines(`-A -t 10.0.0.1:80 -s rr
          -a -t 10.0.0.1:80 -r 192.168.10.2:80 -m -w 1
          -a -t 10.0.0.1:80 -r 192.168.11.2:80 -m -w 1
          -A -t 10.0.0.1:8080 -s rr
          -a -t 10.0.0.1:8080 -r 192.168.10.2:80 -m -w 1
          -a -t 10.0.0.1:8080 -r 192.168.11.2:80 -m -w 1`),
        );
        expect((await pass(yaml)).plan.steps).toEqual([]);
      },
    );

    it(
      'drains a removed real carrying a connection: weight 0 first, its connection still served, ' +
        'deleted only after',
      async () => {
        await pass(natConfig({ drain: '30s' }));
        const held = new HeldConnection(`${nat.lab.prefix}-client`, join(scratch, 'go-drain'));
        try {
          await held.opened();
          const real = await realOfEstablished(nat);
          const [kept, keptName] =
            real === '192.168.10.2:80' ? ([2, 'real2'] as const) : ([1, 'real1'] as const);
          const without = natConfig({ drain: '30s', reals: [kept] });

          const draining = await pass(without);
          expect(draining.plan.steps.map((s) => [s.action, s.op.op, s.dest])).toEqual([
            ['drain', 'edit-dest', real],
          ]);
          let reals = realsOf(await nat.director.ipvsadm('-Ln'));
          // Weight 0, its connection still active (inactive ones may linger from earlier tests:
          // the kernel keeps a deleted real's counters while its old connections expire).
          expect(reals.get(real)?.slice(0, 2)).toEqual([0, 1]);
          // New connections go to the other real only.
          expect(await nat.ask(4)).toEqual([keptName, keptName, keptName, keptName]);

          // Still connected and within the drain time: nothing to do but wait.
          ipvs.executed.length = 0;
          const waiting = await pass(without);
          expect(ipvs.executed).toEqual([]);
          expect(waiting.plan.waiting.map((w) => w.dest)).toEqual([real]);
          expect(realsOf(await nat.director.ipvsadm('-Ln')).get(real)?.[0]).toBe(0);

          // The drained real still serves the connection it had.
          const answer = await held.release();
          expect(answer.trim().split('\n').pop()).toBe(keptName === 'real1' ? 'real2' : 'real1');

          // Once the drain time is over, the real is deleted.
          const done = await pass(without, { now: Date.now() + 31_000 });
          expect(done.plan.steps.map((s) => [s.action, s.op.op, s.dest])).toEqual([
            ['remove', 'delete-dest', real],
          ]);
          reals = realsOf(await nat.director.ipvsadm('-Ln'));
          expect([...reals.keys()]).toEqual([kept === 1 ? '192.168.10.2:80' : '192.168.11.2:80']);
        } finally {
          held.kill();
        }
      },
    );

    it(
      'leaves services it did not create alone, and removes the ones it created once the config ' +
        'drops them',
      async () => {
        await nat.director.ipvsadm('-A', '-t', '10.0.0.1:8443', '-s', 'lc');
        await nat.director.ipvsadm(
          '-a',
          '-t',
          '10.0.0.1:8443',
          '-r',
          '192.168.10.2:443',
          '-m',
          '-w',
          '7',
        );
        const foreign = [
          '-A -t 10.0.0.1:8443 -s lc',
          '-a -t 10.0.0.1:8443 -r 192.168.10.2:443 -m -w 7',
        ];
        const withApi =
          `${natConfig()}  api:\n    address: 10.0.0.1:8080\n    forwarding: nat\n    reals: ` +
          `[192.168.10.2:80]\n`;
        const first = await pass(withApi);
        expect(first.plan.foreign).toEqual(['TCP 10.0.0.1:8443']);
        expect(await saved()).toEqual(expect.arrayContaining(foreign));

        const dropped = await pass(natConfig({ weights: [2, 1] }));
        expect(dropped.plan.foreign).toEqual(['TCP 10.0.0.1:8443']);
        expect(dropped.report?.failed).toBe(0);
        expect(await saved()).toEqual(
          sortedLines(`-A -t 10.0.0.1:80 -s rr
          -a -t 10.0.0.1:80 -r 192.168.10.2:80 -m -w 2
          -a -t 10.0.0.1:80 -r 192.168.11.2:80 -m -w 1
          ${foreign.join('\n')}`),
        );
      },
    );
  });
}
