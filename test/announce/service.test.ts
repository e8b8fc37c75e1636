/**
 * The announcing side with a fake routing daemon: empty routes forced at start, nothing
 * before the first pass, announce after rise, withdraw after fall, a refused change retried,
 * the drain marker (graceful shutdown, then withdrawn at 0 connections), stop, and what
 * /status and /metrics show.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Announcement } from '../../src/announce/machine.js';
import type {
  ApplyOutcome,
  PeerSession,
  RoutingDaemon,
} from '../../src/announce/routing-daemon.js';
import { AnnounceService } from '../../src/announce/service.js';
import { renderAnnounceMetrics, renderAnnounceStatus } from '../../src/announce/status.js';
import type { ResolvedAnnounce } from '../../src/config/announce.js';
import { createLogger } from '../../src/util/log.js';

const CONFIG: ResolvedAnnounce = {
  daemon: 'bird',
  bird: { socket: '/nonexistent', include: '/nonexistent', include6: '/nonexistent' },
  intervalMs: 3_600_000,
  vips: [
    { prefix: '192.0.2.10/32', family: 'ipv4', services: ['web'], rise: 2, fall: 2, holdDownMs: 0 },
  ],
  drain: { method: 'graceful-shutdown', waitMs: 30_000, onStop: false },
};

const PEER: PeerSession = {
  name: 'router1',
  protocol: 'BGP',
  state: 'up',
  up: true,
  bgpState: 'Established',
  info: 'Established',
  neighbor: '10.0.0.1',
  neighborAs: 65000,
  holdTime: 240,
  bfd: false,
  lastError: null,
  routesExported: 1,
};

class FakeDaemon implements RoutingDaemon {
  readonly name = 'fake';
  calls: Array<{ routes: Announcement[]; force: boolean }> = [];
  refuse: string | null = null;
  async announce(
    routes: readonly Announcement[],
    options: { force?: boolean } = {},
  ): Promise<ApplyOutcome> {
    this.calls.push({ routes: [...routes], force: options.force ?? false });
    return this.refuse ? { ok: false, error: this.refuse } : { ok: true, changed: true };
  }
  async sessions(): Promise<PeerSession[]> {
    return [PEER];
  }
  async close(): Promise<void> {}
}

describe('AnnounceService', () => {
  let dir: string;
  let fake: FakeDaemon;
  let down: boolean;
  let converged: boolean;
  let conns: number;
  let now: number;
  let service: AnnounceService;
  const lines: string[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lvsd-announce-'));
    fake = new FakeDaemon();
    down = false;
    converged = false;
    conns = 4;
    now = 1_000_000;
    lines.length = 0;
    service = new AnnounceService({
      log: createLogger({ level: 'debug', destination: { write: (l: string) => lines.push(l) } }),
      serviceDown: () => down,
      converged: () => converged,
      activeConns: async () => conns,
      drainFile: join(dir, 'announce-drain.json'),
      openDaemon: () => fake,
      now: () => now,
    });
  });
  afterEach(async () => {
    await service.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const tick = async (n = 1) => {
    for (let i = 0; i < n; i++) {
      now += 1000;
      await service.tick();
    }
  };
  const last = () =>
    fake.calls.at(-1)?.routes.map((r) => `${r.prefix}${r.gracefulShutdown ? ' gshut' : ''}`);

  it('writes the routes empty at start, forced, and announces nothing before the first pass', async () => {
    await service.update(CONFIG);
    expect(fake.calls).toEqual([{ routes: [], force: true }]);
    await tick(5);
    expect(fake.calls).toHaveLength(1);
    expect(service.status()?.vips[0]?.reason).toMatch(/first reconcile pass/);
  });

  it('announces after rise, withdraws after fall, and counts the transitions', async () => {
    await service.update(CONFIG);
    converged = true;
    await tick();
    expect(fake.calls).toHaveLength(1);
    await tick();
    expect(last()).toEqual(['192.0.2.10/32']);
    down = true;
    await tick();
    expect(last()).toEqual(['192.0.2.10/32']);
    await tick();
    expect(last()).toEqual([]);
    const status = service.status();
    expect(status?.vips[0]).toMatchObject({
      state: 'withdrawn',
      reason: 'below quorum: web (2 bad evaluations)',
      transitions: { announced: 1, withdrawn: 1, draining: 0 },
    });
    expect(status?.peers).toEqual([
      expect.objectContaining({ name: 'router1', bgpState: 'Established' }),
    ]);
    expect(lines.some((l) => l.includes('"event":"bgp_hold_time"'))).toBe(true);
    const metrics = renderAnnounceMetrics(status ?? null);
    expect(metrics).toContain('lvsd_announce_state{prefix="192.0.2.10/32",state="withdrawn"} 1');
    expect(metrics).toContain(
      'lvsd_announce_transitions_total{prefix="192.0.2.10/32",to="announced"} 1',
    );
    expect(metrics).toContain('lvsd_bgp_session_up{peer="router1",neighbor="10.0.0.1"} 1');
    const text = renderAnnounceStatus(status ?? undefined);
    const [head, vip] = text.split('\n');
    expect(head).toBe('BGP (bird)');
    expect(vip).toMatch(
      /^192\.0\.2\.10\/32: withdrawn since \S+ \(below quorum: web \(2 bad evaluations\)\); services web$/,
    );
    expect(text).toContain('peer router1 10.0.0.1 AS65000: Established, hold 240 s, 1 exported');
  });

  it('retries a change the routing daemon refused, and reports it meanwhile', async () => {
    await service.update(CONFIG);
    converged = true;
    fake.refuse = 'BIRD refused configure check: 8002 syntax error';
    await tick(2);
    expect(service.status()).toMatchObject({ lastError: fake.refuse, applyFailures: 1 });
    fake.refuse = null;
    await tick();
    expect(last()).toEqual(['192.0.2.10/32']);
    expect(service.status()).toMatchObject({ lastError: null, applyFailures: 1 });
  });

  it('the drain marker: graceful shutdown, withdrawn at 0 connections, back after undrain', async () => {
    await service.update(CONFIG);
    converged = true;
    await tick(2);
    await writeFile(join(dir, 'announce-drain.json'), JSON.stringify({ reason: 'kernel upgrade' }));
    await service.refreshDrain();
    expect(last()).toEqual(['192.0.2.10/32 gshut']);
    expect(service.status()?.drained?.reason).toBe('kernel upgrade');
    await tick();
    expect(last()).toEqual(['192.0.2.10/32 gshut']);
    conns = 0;
    await tick();
    expect(last()).toEqual([]);
    await rm(join(dir, 'announce-drain.json'));
    await service.refreshDrain();
    await tick();
    expect(last()).toEqual(['192.0.2.10/32']);
  });

  it('a drain marker present at start keeps everything withdrawn', async () => {
    await writeFile(join(dir, 'announce-drain.json'), '{}');
    await service.update(CONFIG);
    converged = true;
    await tick(5);
    expect(fake.calls.every((c) => c.routes.length === 0)).toBe(true);
    expect(service.status()?.vips[0]?.reason).toBe('drained: lvsd drain');
  });

  it('stop withdraws, forced; a config without announce: withdraws too', async () => {
    await service.update(CONFIG);
    converged = true;
    await tick(2);
    await service.update(undefined);
    expect(fake.calls.at(-1)).toEqual({ routes: [], force: true });
    expect(service.status()).toBeNull();
    await service.update(CONFIG);
    await tick(2);
    expect(last()).toEqual(['192.0.2.10/32']);
    await service.stop();
    expect(fake.calls.at(-1)).toEqual({ routes: [], force: true });
  });
});

describe('AnnounceService stop with drain.on_stop', () => {
  it('drains first (graceful shutdown until the wait is over), then withdraws', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lvsd-announce-stop-'));
    const fake = new FakeDaemon();
    let converged = false;
    const service = new AnnounceService({
      log: createLogger({ level: 'silent', destination: { write: () => undefined } }),
      serviceDown: () => false,
      converged: () => converged,
      activeConns: async () => 5,
      drainFile: join(dir, 'announce-drain.json'),
      openDaemon: () => fake,
    });
    const config = {
      ...CONFIG,
      intervalMs: 50,
      drain: { method: 'graceful-shutdown' as const, waitMs: 300, onStop: true },
    };
    await service.update(config);
    converged = true;
    await service.tick();
    await service.tick();
    expect(fake.calls.at(-1)?.routes).toEqual([
      { prefix: '192.0.2.10/32', gracefulShutdown: false },
    ]);
    const started = Date.now();
    await service.stop();
    const took = Date.now() - started;
    const routes = fake.calls.map((c) =>
      c.routes.map((r) => (r.gracefulShutdown ? 'gshut' : 'plain')).join(),
    );
    // The drain's withdrawal once the wait is over, then the stop's own (forced) write.
    expect(routes.slice(-3)).toEqual(['gshut', '', '']);
    expect(took).toBeGreaterThanOrEqual(300);
    expect(service.status()).toBeNull();
    await rm(dir, { recursive: true, force: true });
  });
});
