/**
 * What lvsd needs of a routing daemon that speaks BGP for it: carry exactly this set of
 * routes (or say why not, the previous set staying in force), and tell the state of its
 * sessions. BIRD is the one there is (bird.ts); GoBGP or FRR would be another class here.
 */
import type { Announcement } from './machine.js';

export type ApplyOutcome = { ok: true; changed: boolean } | { ok: false; error: string };

/** One BGP session as the routing daemon reports it. */
export interface PeerSession {
  /** The protocol's name in the daemon's config. */
  name: string;
  protocol: string;
  /** The protocol's state: up, start, down. */
  state: string;
  up: boolean;
  /** Established, Active, Connect, Idle...; null when not reported. */
  bgpState: string | null;
  info: string;
  neighbor: string | null;
  neighborAs: number | null;
  /** The negotiated hold time in seconds (null before a session is up). */
  holdTime: number | null;
  bfd: boolean;
  lastError: string | null;
  routesExported: number | null;
}

export interface RoutingDaemon {
  readonly name: string;
  /**
   * Makes the daemon carry these routes and no other of lvsd's. `force` writes and
   * reconfigures even when nothing seems to have changed (at start: a file left by a
   * killed lvsd must not stay in force).
   */
  announce(routes: readonly Announcement[], options?: { force?: boolean }): Promise<ApplyOutcome>;
  sessions(): Promise<PeerSession[]>;
  close(): Promise<void>;
}
