/**
 * Health checking end to end against the real kernel (lab only), as the daemon runs it:
 * HealthManager checks reals that live in their own network namespaces, every 'changes'
 * batch becomes one reconcile of desiredState(config, snapshot) through the netlink client,
 * and `ipvsadm -Ln` (the independent reader) says what the kernel has.
 *
 * - stop one real's HTTP server: the kernel drops it (on_failure remove) and sets it to
 *   weight 0 (on_failure inhibit) within interval x fall + 1 s and one reconcile pass (see
 *   expectFollowed); start it: back after rise, likewise;
 * - a flapping server changes the kernel at most once per rise/fall window;
 * - losing quorum puts the sorry server in, quorum back takes it out.
 * This file flushes the IPVS table of its network namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckConfig } from '../../src/config/check.js';
import type { ResolvedConfig, ResolvedService } from '../../src/config/resolved.js';
import { HealthManager } from '../../src/health/manager.js';
import { liveWeightsFrom } from '../../src/health/live.js';
import { ForwardingIpvsClient, type IpvsOp, type IpvsOpResult } from '../../src/ipvs/client.js';
import { openIpvs } from '../../src/ipvs/index.js';
import { destId, type Dest } from '../../src/ipvs/model.js';
import { desiredState } from '../../src/reconcile/desired.js';
import { reconcile } from '../reconcile/pass.js';
import { dest, tcpService } from '../reconcile/fixtures.js';
import { sh, Topology } from './forwarding-topology.js';

const inLab = process.env.LVSD_LAB === '1';
const INTERVAL_S = 1;
const RISE = 2;
const FALL = 2;
const source = { file: 'health.yaml', line: 1, column: 1 };

/** An HTTP server in a namespace: 200 "name"; SIGUSR1 toggles flapping (answers by a fixed pseudo-random sequence). */
const SERVER = `
const http = require('node:http');
const [name, port] = process.argv.slice(1);
let seed = 4242;
let flap = false;
process.on('SIGUSR1', () => { flap = !flap; });
http.createServer((req, res) => {
  let ok = true;
  if (flap) { seed = (seed * 1103515245 + 12345) % 2147483648; ok = seed % 100 < 55; }
  res.writeHead(ok ? 200 : 503, { connection: 'close' }).end(name + '\\n');
}).listen(Number(port), '0.0.0.0', () => console.log('ready'));
`;

/** The reals: namespace, address the director reaches it on, the director's side of the link. */
const REALS = [
  { ns: 'r1', address: '192.168.11.2', director: '192.168.11.1/24' },
  { ns: 'r2', address: '192.168.12.2', director: '192.168.12.1/24' },
  { ns: 'r3', address: '192.168.13.2', director: '192.168.13.1/24' },
  { ns: 'sorry', address: '192.168.19.2', director: '192.168.19.1/24' },
] as const;
type RealName = (typeof REALS)[number]['ns'];

function check(extra: Record<string, unknown> = {}): CheckConfig {
  return CheckConfig.parse({
    type: 'http',
    interval: INTERVAL_S,
    timeout: 0.8,
    rise: RISE,
    fall: FALL,
    ...extra,
  });
}

function realOf(ns: RealName, onFailure: 'remove' | 'inhibit'): ResolvedService['reals'][number] {
  const d = dest(REALS.find((r) => r.ns === ns)!.address, 80, { weight: 1 });
  return { id: destId(d), dest: d, check: check({ on_failure: onFailure }), source };
}

function configOf(): ResolvedConfig {
  const base = { check: null, quorum: null, sorry: null, alpha: false, vip: null, source };
  const sorry: Dest = dest('192.168.19.2', 80, { weight: 1 });
  return {
    files: ['health.yaml'],
    hash: 'kernel',
    host: null,
    services: [
      {
        ...base,
        name: 'web',
        service: tcpService('10.0.0.1', 80, { scheduler: 'wrr' }),
        reals: [realOf('r1', 'remove'), realOf('r2', 'remove'), realOf('r3', 'remove')],
        quorum: { min: 2, hysteresis: 0 },
        sorry,
      },
      {
        ...base,
        name: 'inhibited',
        service: tcpService('10.0.0.2', 80, { scheduler: 'wrr' }),
        reals: [realOf('r1', 'inhibit'), realOf('r2', 'inhibit'), realOf('r3', 'inhibit')],
      },
    ],
    kernel: { sysctls: {} },
    vips: [],
    reconcile: {
      drainTimeoutMs: 0,
      prune: 'managed',
      driftIntervalMs: 60_000,
      maxRemoval: 0.5,
      allowMassRemoval: false,
    },
  };
}

/** The kernel client, recording every write with the time the kernel acknowledged it. */
class Recorder extends ForwardingIpvsClient {
  writes: Array<{ op: IpvsOp; at: number }> = [];
  override async execute(ops: readonly IpvsOp[]): Promise<IpvsOpResult[]> {
    const results = await this.inner.execute(ops);
    const at = performance.now();
    for (const op of ops) this.writes.push({ op, at });
    return results;
  }

  /** When the last write touching this real (in any service) after `since` was acknowledged. */
  lastWriteFor(address: string, since: number): number | undefined {
    const times = this.writes
      .filter((w) => w.at >= since && 'dest' in w.op && w.op.dest.address === address)
      .map((w) => w.at);
    return times.length ? Math.max(...times) : undefined;
  }
}

/** `ipvsadm -Ln`: service "TCP  10.0.0.1:80" → { "192.168.11.2:80": weight }. */
async function kernelTable(): Promise<Map<string, Record<string, number>>> {
  const text = await sh('ipvsadm', ['-Ln']);
  const table = new Map<string, Record<string, number>>();
  let current: Record<string, number> | undefined;
  for (const line of text.split('\n')) {
    const svc = /^(TCP|UDP)\s+(\S+)/.exec(line);
    if (svc) {
      current = {};
      table.set(svc[2]!, current);
      continue;
    }
    const real = /^\s+->\s+(\d\S+)\s+\S+\s+(\d+)/.exec(line);
    if (real && current) current[real[1]!] = Number(real[2]);
  }
  return table;
}

async function until(
  predicate: (table: Map<string, Record<string, number>>) => boolean,
  label: string,
  timeoutMs: number,
): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (predicate(await kernelTable())) return performance.now() - start;
    if (performance.now() - start > timeoutMs)
      throw new Error(
        `${label}: not in the kernel after ${timeoutMs} ms; ipvsadm -Ln:\n${await sh('ipvsadm', ['-Ln'])}`,
      );
    // Not faster: every ipvsadm is a process, and under emulation they would starve lvsd.
    await new Promise((r) => setTimeout(r, 250));
  }
}

if (!inLab) {
  describe.skip('health end to end on the kernel (lab only: LVSD_LAB=1)', () =>
    it('needs the lab', () => undefined));
} else {
  describe('health end to end on the kernel', () => {
    const topology = new Topology('hk');
    const servers = new Map<RealName, ChildProcess>();
    const config = configOf();
    let ipvs: Recorder;
    let manager: HealthManager;
    let passes = 0;
    let failedWrites = 0;
    let idle: () => Promise<void> = async () => undefined;

    /** Transition decisions with their time, for the timing messages. */
    const decisions: Array<{ at: number; text: string }> = [];
    const passTimes: Array<{ start: number; end: number }> = [];
    function timeline(since: number, address: string): string {
      const events = [
        ...decisions
          .filter((d) => d.at >= since && d.text.includes(address))
          .map((d) => `${Math.round(d.at - since)} ms decided ${d.text}`),
        ...ipvs.writes.flatMap(({ op, at }) =>
          at >= since && 'dest' in op && op.dest.address === address
            ? [
                `${Math.round(at - since)} ms kernel ${op.op} weight ${'weight' in op.dest ? op.dest.weight : '-'}`,
              ]
            : [],
        ),
      ];
      const passes = passTimes
        .filter((p) => p.end >= since)
        .map((p) => `${Math.round(p.start - since)} ms pass of ${Math.round(p.end - p.start)} ms`);
      return [...events, ...passes].sort((a, b) => parseInt(a, 10) - parseInt(b, 10)).join('; ');
    }

    /**
     * The bound, interval x fall (or rise) + 1 s, split in its two parts so that a
     * slow emulated CPU cannot fail it by chance: health decides within interval x n + 1 s
     * of the server stopping or starting, and the kernel follows in the very next pass (no
     * pass starts after the decision and ends without it). On real hardware a pass takes
     * milliseconds; under TCG on a busy host it can take seconds, which the message shows.
     */
    async function expectFollowed(since: number, address: string, checks: number): Promise<void> {
      await idle();
      const decided = decisions
        .filter((d) => d.at >= since && d.text.includes(address))
        .map((d) => d.at);
      const written = ipvs.lastWriteFor(address, since);
      const story = timeline(since, address);
      expect(decided.length, story).toBeGreaterThan(0);
      expect(written, story).toBeDefined();
      const lastDecision = Math.max(...decided);
      expect(lastDecision - since, story).toBeLessThanOrEqual(INTERVAL_S * checks * 1000 + 1000);
      const missed = passTimes.filter((p) => p.start > lastDecision + 150 && p.end < written!);
      expect(missed, story).toEqual([]);
    }

    async function startServer(ns: RealName): Promise<void> {
      const child = spawn(
        'ip',
        ['netns', 'exec', topology.name(ns), process.execPath, '-e', SERVER, ns, '80'],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      servers.set(ns, child);
      await new Promise<void>((resolve, reject) => {
        child.stdout!.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`server in ${ns} exited with ${code}`)));
      });
    }
    async function stopServer(ns: RealName): Promise<void> {
      const child = servers.get(ns);
      servers.delete(ns);
      if (!child || child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    }

    beforeAll(async () => {
      // Name this test's own namespace (the director) so veth pairs can reach into it.
      await sh('ip', ['netns', 'attach', topology.name('dir'), String(process.pid)]);
      await topology.ns(...REALS.map((r) => r.ns));
      for (const [i, real] of REALS.entries()) {
        await topology.veth(
          { ns: 'dir', ifname: `vr${i}`, addresses: [real.director] },
          { ns: real.ns, ifname: 'eth0', addresses: [`${real.address}/24`] },
        );
        await startServer(real.ns);
      }
      const kernel = await openIpvs();
      await kernel.execute([{ op: 'flush' }]);
      ipvs = new Recorder(kernel);
      const stateDir = await mkdtemp(join(tmpdir(), 'lvsd-health-'));
      manager = new HealthManager({ logger: pino({ level: 'warn' }) });
      manager.update(config, { liveWeights: liveWeightsFrom(config, await ipvs.readTable()) });
      // The daemon's loop: one reconcile per batch, never two at once.
      let running: Promise<void> | undefined;
      let dirty = false;
      const pass = async () => {
        while (dirty) {
          dirty = false;
          const start = performance.now();
          const result = await reconcile(ipvs, {
            desired: desiredState(config, manager.snapshot()),
            stateDir,
            prune: 'managed',
            drainTimeoutMs: 0,
            dryRun: false,
            addresses: null,
            markRules: null,
          });
          failedWrites += result.report?.failed ?? 0;
          passTimes.push({ start, end: performance.now() });
          passes++;
        }
      };
      const kick = () => {
        dirty = true;
        running ??= pass().finally(() => (running = undefined));
        return running;
      };
      manager.on('changes', () => void kick());
      idle = async () => {
        while (running) await running;
      };
      manager.on('transition', (t) =>
        decisions.push({ at: performance.now(), text: `${t.service} ${t.real} ${t.to}` }),
      );
      await kick();
    });

    afterAll(async () => {
      await manager?.stop();
      for (const ns of [...servers.keys()]) await stopServer(ns);
      await ipvs?.execute([{ op: 'flush' }]);
      await ipvs?.close();
      await topology.destroy();
      await sh('ip', ['netns', 'del', topology.name('dir')]).catch(() => undefined);
    });

    it('every real comes in once checked', async () => {
      await until(
        (t) =>
          Object.keys(t.get('10.0.0.1:80') ?? {}).length === 3 &&
          Object.values(t.get('10.0.0.2:80') ?? {}).every((w) => w === 1),
        'all reals in',
        15_000,
      );
      const table = await kernelTable();
      expect(table.get('10.0.0.1:80')).toEqual({
        '192.168.11.2:80': 1,
        '192.168.12.2:80': 1,
        '192.168.13.2:80': 1,
      });
      expect(table.get('10.0.0.2:80')).toEqual({
        '192.168.11.2:80': 1,
        '192.168.12.2:80': 1,
        '192.168.13.2:80': 1,
      });
      expect(failedWrites).toBe(0);
    });

    it('a stopped server is dropped (remove) and set to weight 0 (inhibit) within interval x fall + 1 s', async () => {
      await stopServer('r2');
      const stoppedAt = performance.now();
      await until(
        (t) =>
          !('192.168.12.2:80' in (t.get('10.0.0.1:80') ?? {})) &&
          t.get('10.0.0.2:80')?.['192.168.12.2:80'] === 0,
        'r2 out',
        INTERVAL_S * FALL * 1000 + 10_000,
      );
      await expectFollowed(stoppedAt, '192.168.12.2', FALL);
      console.log(`r2 stopped: ${timeline(stoppedAt, '192.168.12.2')}`);
      const table = await kernelTable();
      expect(table.get('10.0.0.1:80')).toEqual({ '192.168.11.2:80': 1, '192.168.13.2:80': 1 });
      expect(table.get('10.0.0.2:80')).toEqual({
        '192.168.11.2:80': 1,
        '192.168.12.2:80': 0,
        '192.168.13.2:80': 1,
      });
    });

    it('started again, it is back after rise', async () => {
      await startServer('r2');
      const startedAt = performance.now();
      await until(
        (t) =>
          t.get('10.0.0.1:80')?.['192.168.12.2:80'] === 1 &&
          t.get('10.0.0.2:80')?.['192.168.12.2:80'] === 1,
        'r2 back',
        INTERVAL_S * RISE * 1000 + 10_000,
      );
      await expectFollowed(startedAt, '192.168.12.2', RISE);
      console.log(`r2 back: ${timeline(startedAt, '192.168.12.2')}`);
      expect(failedWrites).toBe(0);
    });

    it('a flapping server changes the kernel at most once per rise/fall window', async () => {
      const r3 = '192.168.13.2:80';
      const checks: number[] = [];
      const transitions: number[] = [];
      let failures = 0;
      const onResult = (r: { service: string; real: string; ok: boolean }) => {
        if (r.service !== 'web' || r.real !== r3) return;
        checks.push(performance.now());
        if (!r.ok) failures++;
      };
      const onTransition = (t: { service: string; real: string }) => {
        if (t.service === 'web' && t.real === r3) transitions.push(checks.length);
      };
      manager.on('result', onResult);
      manager.on('transition', onTransition);
      const from = performance.now();
      servers.get('r3')!.kill('SIGUSR1');
      await new Promise((r) => setTimeout(r, 20 * INTERVAL_S * 1000));
      servers.get('r3')!.kill('SIGUSR1');
      manager.off('result', onResult);
      manager.off('transition', onTransition);
      // It did flap: failures and successes mixed.
      expect(checks.length).toBeGreaterThanOrEqual(12);
      expect(failures).toBeGreaterThan(2);
      expect(failures).toBeLessThan(checks.length - 2);
      // Decisions at least min(rise, fall) checks apart...
      for (let i = 1; i < transitions.length; i++)
        expect(transitions[i]! - transitions[i - 1]!).toBeGreaterThanOrEqual(Math.min(RISE, FALL));
      // ...and each decision one kernel change at most (+1: a decision made just before the
      // window may reach the kernel inside it).
      const writes = ipvs.writes.filter(
        (w) =>
          w.at >= from &&
          'dest' in w.op &&
          w.op.dest.address === '192.168.13.2' &&
          'address' in w.op.service &&
          w.op.service.address === '10.0.0.1',
      );
      expect(writes.length).toBeLessThanOrEqual(transitions.length + 1);
      expect(writes.length).toBeLessThanOrEqual(Math.ceil(checks.length / Math.min(RISE, FALL)));
      await until(
        (t) => t.get('10.0.0.1:80')?.['192.168.13.2:80'] === 1,
        'r3 steady again',
        15_000,
      );
    });

    it('losing quorum puts the sorry server in; quorum back takes it out', async () => {
      await stopServer('r1');
      await stopServer('r2');
      await until(
        (t) => JSON.stringify(t.get('10.0.0.1:80')) === JSON.stringify({ '192.168.19.2:80': 1 }),
        'sorry in',
        15_000,
      );
      expect(manager.snapshot().sorryActive('web')).toBe(true);
      await startServer('r1');
      await until(
        (t) => {
          const web = t.get('10.0.0.1:80') ?? {};
          return (
            !('192.168.19.2:80' in web) &&
            web['192.168.11.2:80'] === 1 &&
            web['192.168.13.2:80'] === 1
          );
        },
        'sorry out',
        15_000,
      );
      expect(manager.snapshot().sorryActive('web')).toBe(false);
      expect(failedWrites).toBe(0);
      expect(passes).toBeGreaterThan(3);
    });
  });
}
