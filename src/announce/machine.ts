/**
 * Which VIP prefixes this director announces, pure: no timers, no I/O. The caller
 * evaluates it every interval with what the services say (quorum), whether the kernel
 * holds the services yet, and each prefix's active connections; the answer is the desired
 * announcement set, which the routing daemon (bird.ts) is then made to match.
 *
 * Per prefix:
 * - withdrawn -> announced after `rise` good evaluations in a row (every listed service has
 *   quorum and the first reconcile pass is done), and not before the hold-down since the
 *   last withdrawal for health has passed: a flapping service does not flap the route, which would
 *   move flows between directors every time.
 * - announced -> withdrawn after `fall` bad evaluations in a row, at once: a director never
 *   keeps attracting traffic it cannot serve.
 * - drain (director-wide, `lvsd drain`): an announced prefix goes to draining (announced
 *   with the GRACEFUL_SHUTDOWN community, so routers prefer the other directors) and is
 *   withdrawn when its active connections reach 0 or the drain's wait is over; with method
 *   withdraw it goes at once. Nothing is announced while drained. Undrain lets prefixes be
 *   announced again by the same rise rule (the good streak kept counting meanwhile).
 * - stop: everything withdrawn.
 */
import type { ResolvedAnnounce, ResolvedAnnounceVip } from '../config/announce.js';

export type VipState = 'withdrawn' | 'announced' | 'draining';

/** One route the routing daemon should carry; `gracefulShutdown` adds community (65535,0). */
export interface Announcement {
  prefix: string;
  gracefulShutdown: boolean;
}

export interface VipInput {
  /** Services of the prefix that are below quorum (empty: all good). */
  down: readonly string[];
  /** Active connections of the prefix's services (IPVS), or null when unknown. */
  activeConns: number | null;
}

export interface Evaluation {
  now: number;
  /** The first reconcile pass is done: the services are in the kernel. */
  converged: boolean;
  vips: ReadonlyMap<string, VipInput>;
}

export interface AnnounceTransition {
  prefix: string;
  from: VipState;
  to: VipState;
  reason: string;
}

export interface VipStatus {
  prefix: string;
  state: VipState;
  /** Why it is in this state, in words. */
  reason: string;
  /** ISO time of the last change of state. */
  since: string;
  services: string[];
  goodStreak: number;
  badStreak: number;
  /** Date.now() until which a withdrawn prefix is held down (0: not held). */
  holdDownUntil: number;
}

interface Entry {
  vip: ResolvedAnnounceVip;
  state: VipState;
  reason: string;
  since: number;
  good: number;
  bad: number;
  withdrawnAt: number;
  drainStarted: number;
}

export type DrainSettings = ResolvedAnnounce['drain'];

export class AnnounceMachine {
  private entries = new Map<string, Entry>();
  private drained: { since: number; reason: string } | null = null;
  private stopped = false;

  constructor(
    vips: readonly ResolvedAnnounceVip[],
    private drain: DrainSettings,
    now: number,
  ) {
    this.update(vips, drain, now);
  }

  /** Follows a reloaded config: new prefixes start withdrawn, kept ones keep their state. */
  update(
    vips: readonly ResolvedAnnounceVip[],
    drain: DrainSettings,
    now: number,
  ): AnnounceTransition[] {
    this.drain = drain;
    const next = new Map<string, Entry>();
    const out: AnnounceTransition[] = [];
    for (const vip of vips) {
      const old = this.entries.get(vip.prefix);
      next.set(
        vip.prefix,
        old
          ? { ...old, vip }
          : {
              vip,
              state: 'withdrawn',
              reason: 'starting: waiting for the services to rise',
              since: now,
              good: 0,
              bad: 0,
              withdrawnAt: 0,
              drainStarted: 0,
            },
      );
    }
    for (const [prefix, old] of this.entries)
      if (!next.has(prefix) && old.state !== 'withdrawn')
        out.push({ prefix, from: old.state, to: 'withdrawn', reason: 'no longer in the config' });
    this.entries = next;
    return out;
  }

  /** One evaluation: counts rise and fall and moves prefixes; returns what changed. */
  evaluate(input: Evaluation): AnnounceTransition[] {
    const out: AnnounceTransition[] = [];
    for (const entry of this.entries.values()) {
      const vip = input.vips.get(entry.vip.prefix) ?? { down: [], activeConns: null };
      const bad = badReason(input.converged, vip);
      if (bad) {
        entry.bad++;
        entry.good = 0;
      } else {
        entry.good++;
        entry.bad = 0;
      }
      const t = this.step(entry, bad, vip, input.now);
      if (t) out.push(t);
    }
    return out;
  }

  /** `lvsd drain`: announced prefixes go draining (or withdrawn), nothing new is announced. */
  startDrain(now: number, reason: string): AnnounceTransition[] {
    if (this.drained) return [];
    this.drained = { since: now, reason };
    const out: AnnounceTransition[] = [];
    for (const entry of this.entries.values()) {
      if (entry.state !== 'announced') continue;
      if (this.drain.method === 'withdraw') {
        out.push(this.move(entry, 'withdrawn', `drained: ${reason}`, now));
      } else {
        entry.drainStarted = now;
        out.push(this.move(entry, 'draining', `drain: ${reason}; routers prefer the others`, now));
      }
    }
    return out;
  }

  /** `lvsd undrain`: draining prefixes are announced plainly again; the others rise as usual. */
  undrain(now: number): AnnounceTransition[] {
    if (!this.drained) return [];
    this.drained = null;
    const out: AnnounceTransition[] = [];
    for (const entry of this.entries.values())
      if (entry.state === 'draining') out.push(this.move(entry, 'announced', 'undrained', now));
    return out;
  }

  /** Everything withdrawn for good (lvsd stops). */
  stop(now: number, reason: string): AnnounceTransition[] {
    this.stopped = true;
    const out: AnnounceTransition[] = [];
    for (const entry of this.entries.values())
      if (entry.state !== 'withdrawn') out.push(this.move(entry, 'withdrawn', reason, now));
    return out;
  }

  isDrained(): boolean {
    return this.drained !== null;
  }

  /** Whether every prefix is withdrawn (a drain or a stop is complete). */
  allWithdrawn(): boolean {
    return [...this.entries.values()].every((e) => e.state === 'withdrawn');
  }

  /** The routes the routing daemon should carry, in config order. */
  desired(): Announcement[] {
    return [...this.entries.values()]
      .filter((e) => e.state !== 'withdrawn')
      .map((e) => ({ prefix: e.vip.prefix, gracefulShutdown: e.state === 'draining' }));
  }

  status(): VipStatus[] {
    return [...this.entries.values()].map((e) => ({
      prefix: e.vip.prefix,
      state: e.state,
      reason: e.reason,
      since: new Date(e.since).toISOString(),
      services: e.vip.services,
      goodStreak: e.good,
      badStreak: e.bad,
      holdDownUntil:
        e.state === 'withdrawn' && e.withdrawnAt ? e.withdrawnAt + e.vip.holdDownMs : 0,
    }));
  }

  drainState(): { since: number; reason: string } | null {
    return this.drained;
  }

  private step(
    entry: Entry,
    bad: string | null,
    vip: VipInput,
    now: number,
  ): AnnounceTransition | null {
    const { rise, fall, holdDownMs } = entry.vip;
    if (entry.state === 'withdrawn') {
      if (this.stopped) return null;
      if (bad) {
        // The reason a person reads: what keeps it withdrawn now (a drain says so itself).
        if (!this.drained) entry.reason = bad;
        return null;
      }
      if (this.drained) {
        entry.reason = `drained: ${this.drained.reason}`;
        return null;
      }
      if (entry.good < rise) {
        entry.reason = `rising: ${entry.good}/${rise} good evaluations`;
        return null;
      }
      const heldUntil = entry.withdrawnAt ? entry.withdrawnAt + holdDownMs : 0;
      if (now < heldUntil) {
        entry.reason = `held down for ${Math.ceil((heldUntil - now) / 1000)} s after the last withdrawal`;
        return null;
      }
      return this.move(
        entry,
        'announced',
        `every service has quorum (${rise} good evaluations)`,
        now,
      );
    }
    if (bad && entry.bad >= fall) {
      // Only a withdrawal for health holds the prefix down; one after a drain does not.
      entry.withdrawnAt = now;
      return this.move(entry, 'withdrawn', `${bad} (${fall} bad evaluations)`, now);
    }
    if (entry.state === 'draining') {
      if (vip.activeConns === 0)
        return this.move(entry, 'withdrawn', 'drained: no active connection left', now);
      if (now - entry.drainStarted >= this.drain.waitMs)
        return this.move(
          entry,
          'withdrawn',
          `drained: the drain's wait is over (${vip.activeConns ?? '?'} active)`,
          now,
        );
    }
    return null;
  }

  private move(entry: Entry, to: VipState, reason: string, now: number): AnnounceTransition {
    const from = entry.state;
    entry.state = to;
    entry.reason = reason;
    entry.since = now;
    return { prefix: entry.vip.prefix, from, to, reason };
  }
}

function badReason(converged: boolean, vip: VipInput): string | null {
  if (!converged) return 'the services are not in the kernel yet (first reconcile pass)';
  if (vip.down.length === 0) return null;
  return `below quorum: ${vip.down.join(', ')}`;
}
