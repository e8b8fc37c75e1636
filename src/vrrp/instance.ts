/**
 * One VRRP instance at work: the pure state machine (machine.ts) driven by real timers and
 * adverts, and its effects carried out: adverts sent on the link, VIPs added and removed
 * through the rtnetlink address client (IPv6 without duplicate address detection),
 * gratuitous ARP / unsolicited NA after taking the VIPs, the notify command, and a role
 * callback (sync groups, the IPVS sync daemon through the Reconciler).
 *
 * The VIPs are changed here, not by a reconcile pass: a takeover must not wait for a pass
 * that reads the whole IPVS table (seconds on a large one), as keepalived does not.
 */
import { spawn } from 'node:child_process';
import type { ResolvedVrrpInstance } from '../config/vrrp.js';
import type { AddressClient, HeldAddress } from '../director/vip-addresses.js';
import type { Logger } from '../util/log.js';
import type { Heard, Link } from './link.js';
import type { VrrpInstanceStatus } from './status.js';
import {
  type Effect,
  initialState,
  type MachineConfig,
  type MachineEvent,
  type MachineState,
  type Role,
  step,
  type Timer,
} from './machine.js';

export interface InstanceCounters {
  advertsSent: number;
  advertsReceived: number;
  advertsBad: number;
  /** Transitions by the role entered. */
  transitions: Record<Role, number>;
  /** Adverts of another router claiming MASTER while we are and keep the role. */
  rivalAdverts: number;
}

export type InstanceStatus = VrrpInstanceStatus;

export interface InstanceDeps {
  link: Link;
  addresses: AddressClient;
  log: Logger;
  /** Called synchronously on every role change (sync groups, the sync daemon's role). */
  onRole: (instance: VrrpInstance, from: Role, to: Role, reason: string) => void;
  now?: () => number;
}

/** A second round of gratuitous ARP / NA after this long, for neighbours that missed the first. */
const ANNOUNCE_AGAIN_MS = 1000;
const NOTIFY_TIMEOUT_MS = 30_000;
const WARN_EVERY_MS = 60_000;

export class VrrpInstance {
  private state: MachineState;
  private readonly machine: MachineConfig;
  private readonly timers = new Map<Timer, NodeJS.Timeout>();
  private actions: Promise<void> = Promise.resolve();
  private since = Date.now();
  private lastReason = 'not started';
  private readonly rivals: number[] = [];
  private readonly failures = new Map<string, number | null>();
  private announceTimer: NodeJS.Timeout | null = null;
  /** When each repeated warning was last logged. */
  private readonly warned = new Map<string, number>();
  readonly counters: InstanceCounters = {
    advertsSent: 0,
    advertsReceived: 0,
    advertsBad: 0,
    transitions: { INIT: 0, BACKUP: 0, MASTER: 0, FAULT: 0 },
    rivalAdverts: 0,
  };

  constructor(
    public config: ResolvedVrrpInstance,
    private readonly deps: InstanceDeps,
  ) {
    this.machine = {
      version: config.version,
      intervalCs: config.intervalCs,
      preempt: config.preempt,
      preemptDelayMs: config.preemptDelayMs,
      primaryAddress: deps.link.source,
    };
    this.state = initialState(config.priority, this.machine);
  }

  get name(): string {
    return this.config.name;
  }

  get role(): Role {
    return this.state.role;
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /** Removes VIPs a previous run left behind (a SIGKILL leaves them), then listens as backup. */
  async start(): Promise<void> {
    await this.removeVips('stale, left by an earlier run');
    this.dispatch({ type: 'startup', now: this.now() });
  }

  /** Priority 0 if master, VIPs removed; resolves when done. */
  async stop(): Promise<void> {
    this.dispatch({ type: 'shutdown', now: this.now() });
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    if (this.announceTimer) clearTimeout(this.announceTimer);
    await this.actions;
  }

  heard(heard: Heard): void {
    const { advert, from } = heard;
    if (advert.version !== this.config.version) {
      this.bad(
        from,
        `VRRPv${advert.version} advert on a v${this.config.version} instance: set the same version on both sides, ` +
          `or both stay master`,
      );
      return;
    }
    if (this.config.version === 2 && advert.intervalCs !== this.config.intervalCs) {
      this.bad(
        from,
        `advert interval ${advert.intervalCs / 100}s differs from ours (${this.config.intervalCs / 100}s): RFC ` +
          `3768 discards it`,
      );
      return;
    }
    this.counters.advertsReceived++;
    if (!sameAddresses(advert.addresses, this.config.advertised))
      this.deps.log.debug(
        { event: 'vrrp_address_mismatch', instance: this.name, from, addresses: advert.addresses },
        `${this.name}: ${from} advertises ${advert.addresses.join(', ')}, ours are ` +
          `${this.config.advertised.join(', ')}`,
      );
    this.dispatch({
      type: 'advert',
      now: this.now(),
      from,
      priority: advert.priority,
      intervalCs: advert.intervalCs,
    });
  }

  bad(from: string, reason: string): void {
    this.counters.advertsBad++;
    this.warnAtMostEvery(
      `bad ${from} ${reason}`,
      { event: 'vrrp_bad_advert', instance: this.name, from, reason },
      `${this.name}: advert from ${from} dropped: ${reason}`,
    );
  }

  /** The same complaint, arriving with every advert, is logged once a minute (counters count each). */
  private warnAtMostEvery(key: string, fields: Record<string, unknown>, message: string): void {
    const now = this.now();
    if (now - (this.warned.get(key) ?? -Infinity) < WARN_EVERY_MS) return;
    this.warned.set(key, now);
    if (this.warned.size > 64) this.warned.delete(this.warned.keys().next().value as string);
    this.deps.log.warn(fields, message);
  }

  /** A tracked object failing (weight: priority shift; null: FAULT) or recovering. */
  track(object: string, failing: boolean, weight: number | null): void {
    if (failing === this.failures.has(object)) return;
    if (failing) this.failures.set(object, weight);
    else this.failures.delete(object);
    this.recompute(`${object} ${failing ? 'failing' : 'recovered'}`);
  }

  /** A reload changed only the configured priority: the role stays, the next advert carries it. */
  setPriority(priority: number): void {
    this.config = { ...this.config, priority };
    this.recompute(`configured priority ${priority}`);
  }

  private faults(): string[] {
    return [...this.failures.entries()].filter(([, w]) => w === null).map(([o]) => o);
  }

  private recompute(reason: string): void {
    const now = this.now();
    const shift = [...this.failures.values()].reduce<number>((sum, w) => sum + (w ?? 0), 0);
    const base = this.config.priority;
    const priority = base === 255 ? 255 : Math.max(1, Math.min(254, base + shift));
    if (priority !== this.state.priority)
      this.dispatch({ type: 'priority', now, priority, reason });
    const fault = this.faults();
    if (fault.length > 0 && this.state.role !== 'FAULT')
      this.dispatch({ type: 'fault', now, reason: `${fault.join(', ')} failing` });
    else if (fault.length === 0 && this.state.role === 'FAULT')
      this.dispatch({ type: 'recover', now, reason });
  }

  /** Moved by its sync group. */
  force(to: 'MASTER' | 'BACKUP' | 'FAULT' | 'RECOVER', reason: string): void {
    const now = this.now();
    if (to === 'FAULT') this.dispatch({ type: 'fault', now, reason });
    // A member with a fault of its own stays in FAULT when the group recovers.
    else if (to === 'RECOVER') {
      if (this.faults().length === 0) this.dispatch({ type: 'recover', now, reason });
    } else this.dispatch({ type: 'force', now, to, reason });
  }

  splitBrainSuspected(): boolean {
    const window = 3 * this.config.intervalCs * 10 + 1000;
    const recent = this.rivals.filter((t) => this.now() - t <= window);
    return this.state.role === 'MASTER' && recent.length >= 2;
  }

  status(): InstanceStatus {
    return {
      name: this.name,
      interface: this.config.interface,
      vrid: this.config.vrid,
      version: this.config.version,
      role: this.state.role,
      priority: this.state.priority,
      configuredPriority: this.config.priority,
      masterAddress: this.state.masterAddress,
      since: new Date(this.since).toISOString(),
      lastReason: this.lastReason,
      splitBrainSuspected: this.splitBrainSuspected(),
      failing: [...this.failures.keys()],
      counters: structuredClone(this.counters),
    };
  }

  private dispatch(event: MachineEvent): void {
    const next = step(this.machine, this.state, event);
    this.state = next.state;
    for (const effect of next.effects) this.carryOut(effect);
  }

  private carryOut(effect: Effect): void {
    switch (effect.kind) {
      case 'send':
        return this.advertise(effect.priority);
      case 'arm':
        return this.arm(effect.timer, effect.ms);
      case 'cancel':
        return this.cancel(effect.timer);
      case 'transition':
        return this.transition(effect.from, effect.to, effect.reason);
      case 'rival':
        return this.rival(effect.from, effect.priority);
    }
  }

  private advertise(priority: number): void {
    const advert = {
      version: this.config.version,
      vrid: this.config.vrid,
      priority,
      intervalCs: this.config.intervalCs,
      addresses: this.config.advertised,
    };
    try {
      this.deps.link.advertise(advert, this.config.unicast?.peers ?? null);
      this.counters.advertsSent++;
    } catch (err) {
      this.deps.log.error(
        { event: 'vrrp_send_failed', instance: this.name, err },
        `${this.name}: cannot send: ${(err as Error).message}`,
      );
    }
  }

  private arm(timer: Timer, ms: number): void {
    this.cancel(timer);
    const handle = setTimeout(() => {
      this.timers.delete(timer);
      this.dispatch({ type: 'timer', timer, now: this.now() });
    }, ms);
    this.timers.set(timer, handle);
  }

  private cancel(timer: Timer): void {
    const handle = this.timers.get(timer);
    if (handle) clearTimeout(handle);
    this.timers.delete(timer);
  }

  private rival(from: string, priority: number): void {
    this.counters.rivalAdverts++;
    this.rivals.push(this.now());
    if (this.rivals.length > 16) this.rivals.shift();
    // Answer at once, as keepalived does: the other master yields sooner to our advert.
    this.advertise(this.state.priority);
    this.warnAtMostEvery(
      `rival ${from}`,
      {
        event: 'vrrp_rival_master',
        instance: this.name,
        from,
        priority,
        ours: this.state.priority,
      },
      `${this.name}: ${from} also advertises as master (priority ${priority}, ours ${this.state.priority})`,
    );
  }

  private transition(from: Role, to: Role, reason: string): void {
    this.since = Date.now();
    this.lastReason = reason;
    this.counters.transitions[to]++;
    this.deps.log.info(
      {
        event: 'vrrp_transition',
        instance: this.name,
        from,
        to,
        reason,
        priority: this.state.priority,
      },
      `${this.name}: Entering ${to} STATE (${reason})`,
    );
    const priority = this.state.priority;
    this.actions = this.actions.then(() => this.roleActions(from, to, priority));
    this.deps.onRole(this, from, to, reason);
  }

  private async roleActions(from: Role, to: Role, priority: number): Promise<void> {
    if (to === 'MASTER') {
      await this.addVips();
      this.announce();
    } else if (from === 'MASTER') await this.removeVips(`left MASTER for ${to}`);
    this.notify(to === 'INIT' ? 'STOP' : to, priority);
  }

  private vips(): HeldAddress[] {
    return this.config.vips.map((v) => ({ ...v, interface: this.config.interface }));
  }

  private async addVips(): Promise<void> {
    for (const vip of this.vips()) {
      // Left MASTER again while the addresses were going on: stop adding.
      if (this.state.role !== 'MASTER') return;
      await this.deps.addresses.addAddress(vip).then(
        () =>
          this.deps.log.info(
            {
              event: 'vrrp_vip_added',
              instance: this.name,
              address: `${vip.address}/${vip.prefix}`,
            },
            `${this.name}: added ${vip.address}/${vip.prefix} on ${vip.interface}`,
          ),
        (err: Error & { code?: string }) => {
          if (err.code !== 'EEXIST')
            this.deps.log.error(
              { event: 'vrrp_vip_failed', instance: this.name, err },
              err.message,
            );
        },
      );
    }
  }

  private async removeVips(why: string): Promise<void> {
    let present: HeldAddress[];
    try {
      const snapshot = await this.deps.addresses.read();
      present = this.vips().filter((v) =>
        snapshot.addresses.some((a) => a.interface === v.interface && a.address === v.address),
      );
    } catch (err) {
      this.deps.log.error(
        { event: 'vrrp_vip_failed', instance: this.name, err },
        (err as Error).message,
      );
      present = this.vips();
    }
    for (const vip of present) {
      if (this.state.role === 'MASTER') return;
      await this.deps.addresses.deleteAddress(vip).then(
        () =>
          this.deps.log.info(
            {
              event: 'vrrp_vip_removed',
              instance: this.name,
              address: `${vip.address}/${vip.prefix}`,
              why,
            },
            `${this.name}: removed ${vip.address}/${vip.prefix} (${why})`,
          ),
        (err: Error & { code?: string }) => {
          if (err.code !== 'EADDRNOTAVAIL')
            this.deps.log.error(
              { event: 'vrrp_vip_failed', instance: this.name, err },
              err.message,
            );
        },
      );
    }
  }

  private announce(): void {
    const send = () => {
      if (this.state.role !== 'MASTER') return;
      try {
        this.deps.link.announce(this.config.vips.map((v) => v.address));
      } catch (err) {
        this.deps.log.warn(
          { event: 'vrrp_announce_failed', instance: this.name, err },
          `${this.name}: gratuitous ARP / NA: ${(err as Error).message}`,
        );
      }
    };
    send();
    if (this.announceTimer) clearTimeout(this.announceTimer);
    this.announceTimer = setTimeout(send, ANNOUNCE_AGAIN_MS);
    this.announceTimer.unref();
  }

  /** keepalived's notify arguments: INSTANCE, name, state, priority; no shell. */
  private notify(role: Role | 'STOP', priority: number): void {
    const argv = this.config.notify;
    if (!argv) return;
    const [command, ...args] = argv as [string, ...string[]];
    const child = spawn(command, [...args, 'INSTANCE', this.name, role, String(priority)], {
      stdio: 'ignore',
      timeout: NOTIFY_TIMEOUT_MS,
    });
    child.on('error', (err) =>
      this.deps.log.error(
        { event: 'vrrp_notify_failed', instance: this.name, command, err },
        `${this.name}: notify ${command}: ${err.message}`,
      ),
    );
    child.on('exit', (code, signal) => {
      if (code !== 0)
        this.deps.log.warn(
          { event: 'vrrp_notify_failed', instance: this.name, command, code, signal },
          `${this.name}: notify ${command} exited ${code ?? signal}`,
        );
    });
  }
}

function sameAddresses(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
