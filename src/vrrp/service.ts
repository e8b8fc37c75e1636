/**
 * lvsd's VRRP side: every instance of the config, the links (sockets) they share, one
 * receive worker, the tracked objects (interfaces, services, exec checks), sync groups,
 * and the role the IPVS sync daemon follows. The daemon gives it each config it adopts
 * (update) and asks it for the sync role when it builds desired state; a change of that
 * role asks for a reconcile pass, so the sync daemon only ever changes through the
 * Reconciler.
 */
import { readFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import type { ResolvedVrrp, ResolvedVrrpInstance } from '../config/vrrp.js';
import type { AddressClient, AddressSnapshot } from '../director/vip-addresses.js';
import { Receiver } from '../ffi/receiver.js';
import type { Logger } from '../util/log.js';
import { type InstanceStatus, VrrpInstance } from './instance.js';
import { type Link, type LinkSpec, VrrpLink } from './link.js';
import type { Role } from './machine.js';
import type { SyncRole } from '../reconcile/sync-role.js';

export interface VrrpServiceOptions {
  log: Logger;
  openAddresses: () => Promise<AddressClient>;
  /** Whether a tracked service is below quorum (its sorry server in use, or no healthy real). */
  serviceDown: (service: string) => boolean;
  /** The role of the sync_daemon instance changed: time for a reconcile pass. */
  onSyncRole: (role: SyncRole) => void;
  trackIntervalMs?: number;
  /** Opens the sockets of one interface and family (tests pass a fake). */
  openLink?: (spec: LinkSpec) => Link;
  /** Whether an interface is up (default: /sys/class/net/NAME/operstate). */
  interfaceUp?: (name: string) => Promise<boolean>;
}

interface Running {
  instance: VrrpInstance;
  link: Link;
  exec: ExecTracker | null;
}

export class VrrpService {
  private receiver: Receiver | null = null;
  private addresses: AddressClient | null = null;
  private readonly links = new Map<string, { link: Link; users: number }>();
  private readonly running = new Map<string, Running>();
  private groups: ResolvedVrrp['syncGroups'] = [];
  private propagating = false;
  private role: SyncRole | null = null;
  private trackTimer: NodeJS.Timeout | null = null;
  private updating: Promise<void> = Promise.resolve();

  constructor(private readonly options: VrrpServiceOptions) {}

  /** The role the sync daemon follows; null when no instance steers it. */
  syncRole(): SyncRole | null {
    return this.role;
  }

  status(): InstanceStatus[] {
    return [...this.running.values()].map((r) => r.instance.status());
  }

  /** Starts, keeps, re-prioritises or restarts instances to match the config. Serialised. */
  update(vrrp: ResolvedVrrp | undefined): Promise<void> {
    // A failed update (a socket refused) does not stop the next one from running.
    const next = this.updating
      .catch(() => undefined)
      .then(() => this.apply(vrrp ?? { instances: [], syncGroups: [] }));
    this.updating = next;
    return next;
  }

  /** Every instance stops (priority 0 from a master, VIPs removed), then the sockets close. */
  async stop(): Promise<void> {
    await this.update(undefined);
    if (this.trackTimer) clearInterval(this.trackTimer);
    this.trackTimer = null;
    await this.receiver?.close();
    await this.addresses?.close();
    this.receiver = null;
    this.addresses = null;
  }

  private async apply(vrrp: ResolvedVrrp): Promise<void> {
    const wanted = new Map(vrrp.instances.map((i) => [i.name, i]));
    for (const [name, run] of this.running) {
      const next = wanted.get(name);
      if (next && sameExceptPriority(next, run.instance.config)) continue;
      await this.stopOne(name, run);
    }
    this.groups = vrrp.syncGroups;
    for (const config of vrrp.instances) {
      const run = this.running.get(config.name);
      if (run) {
        if (run.instance.config.priority !== config.priority)
          run.instance.setPriority(config.priority);
        continue;
      }
      await this.startOne(config);
    }
    this.steerSyncRole();
    if (this.running.size > 0 && !this.trackTimer) {
      this.trackTimer = setInterval(
        () => void this.pollTracking(),
        this.options.trackIntervalMs ?? 500,
      );
      this.trackTimer.unref();
    }
  }

  private async startOne(config: ResolvedVrrpInstance): Promise<void> {
    this.addresses ??= await this.options.openAddresses();
    const link = await this.linkFor(config);
    const instance = new VrrpInstance(config, {
      link,
      addresses: this.addresses,
      log: this.options.log,
      onRole: (i, from, to, reason) => this.onRole(i, from, to, reason),
    });
    const exec = config.track.exec ? new ExecTracker(config, instance, this.options.log) : null;
    this.running.set(config.name, { instance, link, exec });
    await this.pollOne(instance);
    await instance.start();
    exec?.start();
  }

  private async stopOne(name: string, run: Running): Promise<void> {
    run.exec?.stop();
    await run.instance.stop();
    this.running.delete(name);
    const key = linkKey(run.link);
    const entry = this.links.get(key);
    if (entry && --entry.users === 0) {
      this.links.delete(key);
      await entry.link.close();
    }
  }

  private openLink(spec: LinkSpec): Link {
    if (this.options.openLink) return this.options.openLink(spec);
    this.receiver ??= new Receiver((message) =>
      this.options.log.error({ event: 'vrrp_receive_failed' }, message),
    );
    return new VrrpLink({ ...spec, receiver: this.receiver });
  }

  private async linkFor(config: ResolvedVrrpInstance): Promise<Link> {
    const source = config.unicast?.source ?? (await this.primaryAddress(config));
    const key = `${config.interface}/${config.family}/${source}`; // as linkKey()
    const existing = this.links.get(key);
    if (existing) {
      existing.users++;
      return existing.link;
    }
    const link = this.openLink({
      interface: config.interface,
      family: config.family,
      source,
      multicast: true,
      onAdvert: (heard) => this.byVrid(key, heard.advert.vrid)?.heard(heard),
      onDrop: (dropped) => {
        if (dropped.vrid !== null)
          this.byVrid(key, dropped.vrid)?.bad(dropped.from, dropped.reason);
      },
    });
    this.links.set(key, { link, users: 1 });
    return link;
  }

  private byVrid(key: string, vrid: number): VrrpInstance | undefined {
    for (const run of this.running.values())
      if (run.instance.config.vrid === vrid && linkKey(run.link) === key) return run.instance;
    return undefined;
  }

  /** The interface's own address of the instance's family (link-local for IPv6), never a VIP. */
  private async primaryAddress(config: ResolvedVrrpInstance): Promise<string> {
    const snapshot: AddressSnapshot = await (this.addresses as AddressClient).read();
    const vips = new Set(
      [...this.running.values()].flatMap((r) => r.instance.config.vips.map((v) => v.address)),
    );
    for (const v of config.vips) vips.add(v.address);
    const found = snapshot.addresses.find(
      (a) =>
        a.interface === config.interface &&
        !vips.has(a.address) &&
        (config.family === 'ipv4' ? !a.address.includes(':') : a.address.startsWith('fe80:')),
    );
    if (!found) {
      const kind = config.family === 'ipv4' ? 'IPv4' : 'link-local IPv6';
      throw new Error(
        `vrrp instance ${config.name}: ${config.interface} has no ${kind} address of its own ` +
          'to send adverts from (or set unicast.source)',
      );
    }
    return found.address;
  }

  private onRole(instance: VrrpInstance, from: Role, to: Role, reason: string): void {
    this.propagate(instance, from, to, reason);
    if (instance.config.syncDaemon) this.steerSyncRole();
  }

  /** keepalived's sync groups: one member's MASTER, BACKUP or FAULT takes the others along. */
  private propagate(instance: VrrpInstance, from: Role, to: Role, reason: string): void {
    if (this.propagating) return;
    const group = this.groups.find((g) => g.members.includes(instance.name));
    if (!group) return;
    const what = to === 'FAULT' ? 'in FAULT' : `became ${to}`;
    const why = `sync group ${group.name}: ${instance.name} ${what} (${reason})`;
    this.propagating = true;
    try {
      for (const member of group.members) {
        const other = this.running.get(member)?.instance;
        if (!other || other === instance) continue;
        if (to === 'MASTER') other.force('MASTER', why);
        else if (to === 'FAULT') other.force('FAULT', why);
        else if (to === 'BACKUP' && from === 'MASTER') other.force('BACKUP', why);
        else if (to === 'BACKUP' && from === 'FAULT') other.force('RECOVER', why);
      }
    } finally {
      this.propagating = false;
    }
  }

  private steerSyncRole(): void {
    const steering = [...this.running.values()].find((r) => r.instance.config.syncDaemon);
    const role: SyncRole | null = steering
      ? steering.instance.role === 'MASTER'
        ? 'master'
        : 'backup'
      : null;
    if (role === this.role) return;
    this.role = role;
    if (role) {
      this.options.log.info(
        { event: 'vrrp_sync_role', role },
        `IPVS sync daemon follows the role: ${role}`,
      );
      this.options.onSyncRole(role);
    }
  }

  private async pollTracking(): Promise<void> {
    for (const run of this.running.values()) await this.pollOne(run.instance);
  }

  /** Interfaces (the instance's own: FAULT when down) and tracked services. */
  private async pollOne(instance: VrrpInstance): Promise<void> {
    const { track } = instance.config;
    const own = instance.config.interface;
    const up = this.options.interfaceUp ?? interfaceUp;
    instance.track(`interface ${own}`, !(await up(own)), null);
    for (const name of track.interfaces)
      instance.track(`interface ${name}`, !(await up(name)), track.weight);
    for (const name of track.services)
      instance.track(`service ${name}`, this.options.serviceDown(name), track.weight);
  }
}

function linkKey(link: Link): string {
  return `${link.interfaceName}/${link.family}/${link.source}`;
}

function sameExceptPriority(a: ResolvedVrrpInstance, b: ResolvedVrrpInstance): boolean {
  return JSON.stringify({ ...a, priority: 0 }) === JSON.stringify({ ...b, priority: 0 });
}

/** "up" (or "unknown", which dummies and tunnels report while working) counts as up. */
async function interfaceUp(name: string): Promise<boolean> {
  try {
    const state = (await readFile(`/sys/class/net/${name}/operstate`, 'utf8')).trim();
    return state === 'up' || state === 'unknown';
  } catch {
    return false;
  }
}

/** keepalived's track_script: argv every interval, exit 0 within the timeout = good, with rise and fall. */
class ExecTracker {
  private timer: NodeJS.Timeout | null = null;
  private failing = false;
  private streak = 0;

  constructor(
    private readonly config: ResolvedVrrpInstance,
    private readonly instance: VrrpInstance,
    private readonly log: Logger,
  ) {}

  start(): void {
    const exec = this.config.track.exec;
    if (!exec) return;
    this.timer = setInterval(() => void this.runOnce(), exec.intervalMs);
    this.timer.unref();
    void this.runOnce();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async runOnce(): Promise<void> {
    const exec = this.config.track.exec;
    if (!exec) return;
    const ok = await runCommand(exec.command, exec.timeoutMs);
    if (ok === !this.failing) {
      this.streak = 0;
      return;
    }
    this.streak++;
    if (this.streak < (ok ? exec.rise : exec.fall)) return;
    this.streak = 0;
    this.failing = !ok;
    this.log.info(
      { event: 'vrrp_track_exec', instance: this.config.name, command: exec.command, ok },
      `${this.config.name}: track exec ${exec.command[0]} ${ok ? 'succeeds' : 'fails'}`,
    );
    this.instance.track(`exec ${exec.command[0]}`, this.failing, this.config.track.weight);
  }
}

function runCommand(argv: readonly string[], timeoutMs: number): Promise<boolean> {
  const [command, ...args] = argv as [string, ...string[]];
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'ignore', timeout: timeoutMs });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
}
