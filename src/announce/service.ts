/**
 * lvsd's announcing side: every `interval` it asks the health side which services are below
 * quorum, feeds the announcer (machine.ts) and makes the routing daemon carry what the
 * announcer wants; it reads the BGP sessions for /status and /metrics. The daemon gives it
 * each config it adopts (update); `lvsd run` gives it SIGUSR1 (drain marker changed) and
 * the stop.
 *
 * At start the routes are written empty (and BIRD reconfigured) before anything else: a file
 * left by an lvsd killed with -9 does not stay in force, and an established session alone
 * never announces anything. A change BIRD refuses is retried at the next evaluation.
 *
 * The drain is a marker file (`lvsd drain` writes it, `lvsd undrain` removes it) read at
 * start and on SIGUSR1, so a director drained for maintenance stays drained across restarts.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResolvedAnnounce } from '../config/announce.js';
import type { Logger } from '../util/log.js';
import { BirdDaemon } from './bird.js';
import {
  AnnounceMachine,
  type AnnounceTransition,
  type VipState,
  type VipInput,
} from './machine.js';
import type { PeerSession, RoutingDaemon } from './routing-daemon.js';
import type { AnnounceStatus } from './status.js';

/** The drain marker `lvsd drain` writes and `lvsd undrain` removes (read at start and on SIGUSR1). */
export function drainMarkerPath(stateDir: string): string {
  return join(stateDir, 'announce-drain.json');
}

/** The pid of `lvsd run`, beside its writer lock: `lvsd drain` signals it when both agree. */
export function runPidPath(stateDir: string): string {
  return join(stateDir, 'run.pid');
}

/** BIRD's default hold time: 240 s to notice a dead director (with no BFD). */
const DEFAULT_HOLD_TIME = 240;

export interface AnnounceServiceOptions {
  log: Logger;
  /** Whether a service is below quorum (its sorry server in use, or no healthy real). */
  serviceDown: (service: string) => boolean;
  /** The first reconcile pass is done: the services are in the kernel. */
  converged: () => boolean;
  /** Active connections of these services (IPVS), null when unknown; asked only while draining. */
  activeConns: (services: readonly string[]) => Promise<number | null>;
  /** The drain marker file (`lvsd drain`). */
  drainFile: string;
  openDaemon?: (config: ResolvedAnnounce) => RoutingDaemon;
  now?: () => number;
}

export class AnnounceService {
  private config: ResolvedAnnounce | null = null;
  private machine: AnnounceMachine | null = null;
  private daemon: RoutingDaemon | null = null;
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private applied: { at: number; routes: string[]; key: string } | null = null;
  private lastError: string | null = null;
  private applyFailures = 0;
  private peers: PeerSession[] = [];
  private readonly transitions = new Map<string, Record<VipState, number>>();
  private readonly warnedHold = new Set<string>();
  private stopped = false;

  constructor(private readonly options: AnnounceServiceOptions) {}

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** Follows the config; the first one starts the announcer with the routes written empty. */
  update(announce: ResolvedAnnounce | undefined): Promise<void> {
    return this.serial(async () => {
      if (this.stopped) return;
      if (!announce) return this.tearDown('announce: removed from the config');
      const first = this.machine === null;
      if (!this.machine)
        this.machine = new AnnounceMachine(announce.vips, announce.drain, this.now());
      else this.record(this.machine.update(announce.vips, announce.drain, this.now()));
      if (!this.daemon || JSON.stringify(this.config?.bird) !== JSON.stringify(announce.bird)) {
        await this.daemon?.close();
        this.daemon = (this.options.openDaemon ?? openBird)(announce);
      }
      this.config = announce;
      if (first) {
        await this.readDrain();
        await this.sync(true);
      }
      this.schedule(announce.intervalMs);
    });
  }

  /** One evaluation now (the timer calls it every interval). */
  tick(): Promise<void> {
    return this.serial(async () => {
      const machine = this.machine;
      if (this.stopped || !machine || !this.config) return;
      const draining = machine.status().some((v) => v.state === 'draining');
      const vips = new Map<string, VipInput>();
      for (const vip of this.config.vips)
        vips.set(vip.prefix, {
          down: vip.services.filter((s) => this.options.serviceDown(s)),
          activeConns: draining ? await this.options.activeConns(vip.services) : null,
        });
      this.record(machine.evaluate({ now: this.now(), converged: this.options.converged(), vips }));
      await this.sync(false);
      await this.readSessions();
    });
  }

  /** SIGUSR1: the drain marker was written or removed. */
  refreshDrain(): Promise<void> {
    return this.serial(async () => {
      if (this.stopped || !this.machine) return;
      await this.readDrain();
      await this.sync(false);
    });
  }

  /**
   * lvsd stops: with drain.on_stop, drain first and wait (until every prefix is withdrawn or
   * the drain's wait is over), then withdraw everything and reconfigure the routing daemon.
   */
  async stop(): Promise<void> {
    const config = this.config;
    if (config?.drain.onStop && this.machine && !this.stopped) {
      await this.serial(async () => {
        this.record(this.machine?.startDrain(this.now(), 'lvsd stops (drain.on_stop)') ?? []);
        await this.sync(false);
      });
      const until = this.now() + config.drain.waitMs;
      while (this.now() < until && !this.machine.allWithdrawn()) {
        await new Promise((r) => setTimeout(r, Math.min(config.intervalMs, 1000)));
        await this.tick();
      }
    }
    await this.serial(() => this.shutDown('lvsd stops'));
  }

  status(): AnnounceStatus | null {
    if (!this.machine || !this.config) return null;
    const drained = this.machine.drainState();
    return {
      daemon: this.config.daemon,
      drained: drained
        ? { since: new Date(drained.since).toISOString(), reason: drained.reason }
        : null,
      vips: this.machine.status().map((v) => ({ ...v, transitions: this.counts(v.prefix) })),
      peers: this.peers.map(({ protocol: _p, info: _i, ...peer }) => peer),
      lastError: this.lastError,
      applied: this.applied
        ? { at: new Date(this.applied.at).toISOString(), routes: this.applied.routes }
        : null,
      applyFailures: this.applyFailures,
    };
  }

  private async shutDown(reason: string): Promise<void> {
    if (this.stopped) return;
    await this.tearDown(reason);
    this.stopped = true;
  }

  /** Everything withdrawn and the routing daemon told; a later config starts afresh. */
  private async tearDown(reason: string): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.machine) return;
    this.record(this.machine.stop(this.now(), reason));
    await this.sync(true);
    await this.daemon?.close();
    this.machine = null;
    this.daemon = null;
    this.config = null;
    this.applied = null;
    this.peers = [];
  }

  private schedule(intervalMs: number): void {
    if (this.timer) clearInterval(this.timer);
    // tick() logs its own failures (serial); the timer must not leave a rejection unhandled.
    this.timer = setInterval(() => void this.tick().catch(() => undefined), intervalMs);
    this.timer.unref();
  }

  /** Makes the routing daemon carry the announcer's set, when it differs or the last try failed. */
  private async sync(force: boolean): Promise<void> {
    if (!this.machine || !this.daemon) return;
    const desired = this.machine.desired();
    const key = JSON.stringify(desired);
    if (!force && this.applied?.key === key && this.lastError === null) return;
    const started = performance.now();
    const outcome = await this.daemon.announce(desired, {
      force: force || this.lastError !== null,
    });
    const routes = desired.map((d) =>
      d.gracefulShutdown ? `${d.prefix} (graceful shutdown)` : d.prefix,
    );
    if (!outcome.ok) {
      this.applyFailures++;
      if (outcome.error !== this.lastError)
        this.options.log.error(
          { event: 'announce_failed', daemon: this.daemon.name, routes, err: outcome.error },
          `announce: ${outcome.error}; retrying`,
        );
      this.lastError = outcome.error;
      return;
    }
    this.lastError = null;
    this.applied = { at: this.now(), routes, key };
    if (outcome.changed)
      this.options.log.info(
        {
          event: 'announce_applied',
          daemon: this.daemon.name,
          routes,
          ms: Math.round((performance.now() - started) * 10) / 10,
        },
        `announce: ${this.daemon.name} carries ${routes.length ? routes.join(', ') : 'no route'}`,
      );
  }

  private async readDrain(): Promise<void> {
    const machine = this.machine;
    if (!machine) return;
    const marker = await readMarker(this.options.drainFile);
    if (marker && !machine.isDrained()) this.record(machine.startDrain(this.now(), marker));
    else if (!marker && machine.isDrained()) this.record(machine.undrain(this.now()));
  }

  private async readSessions(): Promise<void> {
    if (!this.daemon) return;
    try {
      const peers = await this.daemon.sessions();
      for (const peer of peers) this.notePeer(peer);
      this.peers = peers;
    } catch {
      // Said once by sync()'s error when BIRD is gone; the peers show as unknown meanwhile.
      this.peers = [];
    }
  }

  private notePeer(peer: PeerSession): void {
    const before = this.peers.find((p) => p.name === peer.name);
    if (before && before.bgpState !== peer.bgpState)
      this.options.log.info(
        {
          event: 'bgp_session',
          peer: peer.name,
          neighbor: peer.neighbor,
          from: before.bgpState,
          to: peer.bgpState,
        },
        `BGP ${peer.name} (${peer.neighbor}): ${before.bgpState} -> ${peer.bgpState}`,
      );
    if (
      peer.holdTime !== null &&
      peer.holdTime >= DEFAULT_HOLD_TIME &&
      !peer.bfd &&
      !this.warnedHold.has(peer.name)
    ) {
      this.warnedHold.add(peer.name);
      this.options.log.warn(
        { event: 'bgp_hold_time', peer: peer.name, holdTime: peer.holdTime },
        `BGP ${peer.name}: hold time ${peer.holdTime} s and no BFD: a hung director keeps its routes that long; ` +
          'set hold time 9 / keepalive 3, or bfd on, in bird.conf',
      );
    }
  }

  private record(transitions: readonly AnnounceTransition[]): void {
    for (const t of transitions) {
      this.counts(t.prefix)[t.to]++;
      const fields = {
        event: 'announce_transition',
        prefix: t.prefix,
        from: t.from,
        to: t.to,
        reason: t.reason,
      };
      const text = `${t.prefix}: ${t.from} -> ${t.to} (${t.reason})`;
      if (t.to === 'withdrawn') this.options.log.warn(fields, text);
      else this.options.log.info(fields, text);
    }
  }

  private counts(prefix: string): Record<VipState, number> {
    let c = this.transitions.get(prefix);
    if (!c) this.transitions.set(prefix, (c = { withdrawn: 0, announced: 0, draining: 0 }));
    return c;
  }

  /** One thing at a time: evaluations, drains and the stop never interleave their writes. */
  private serial(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(fn);
    this.chain = run.catch((err: unknown) =>
      this.options.log.error(
        { event: 'announce_error', err },
        `announce: ${(err as Error).message}`,
      ),
    );
    return run;
  }
}

function openBird(config: ResolvedAnnounce): RoutingDaemon {
  return new BirdDaemon(config.bird);
}

/** The drain marker's reason, or null when there is none. */
async function readMarker(path: string): Promise<string | null> {
  try {
    const text = await readFile(path, 'utf8');
    try {
      const parsed = JSON.parse(text) as { reason?: unknown };
      return typeof parsed.reason === 'string' && parsed.reason ? parsed.reason : 'lvsd drain';
    } catch {
      return 'lvsd drain';
    }
  } catch {
    return null;
  }
}
