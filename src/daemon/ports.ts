/**
 * What the daemon needs from the rest of lvsd, as small interfaces: the daemon core is
 * tested on the host with FakeIpvs, a temporary config directory and a scripted health
 * source, and wired to the real loader, health manager and kernel client in index.ts.
 */
import type { ResolvedConfig } from '../config/resolved.js';
import type { IpvsTable } from '../ipvs/model.js';
import type { DesiredState } from '../reconcile/types.js';
import type { RealHealth } from './status.js';

/** A config load, its diagnostics already formatted for people ("file:line: field: message"). */
export type LoadOutcome =
  | { ok: true; config: ResolvedConfig; warnings: string[] }
  | { ok: false; errors: string[]; warnings: string[] };

export type ConfigLoader = (path: string) => Promise<LoadOutcome>;

/** One check's result, as the health side reports it ('result' events). */
export interface CheckResultEvent {
  service: string;
  real: string;
  type: string;
  ok: boolean;
  durationMs: number;
  message?: string;
}

/**
 * A 'changes' event: what changed, each change naming its service (config name). The
 * daemon scopes the pass to those services; a batch that names none gets a full pass.
 */
export interface HealthBatch {
  transitions?: ReadonlyArray<{ service: string }>;
  weights?: ReadonlyArray<{ service: string }>;
  quorum?: ReadonlyArray<{ service: string }>;
}

/**
 * The health side: runs the checks of the config it is given and says when reals change
 * state. It never touches the kernel; the daemon turns its snapshot into desired state.
 *
 * Events: 'changes' (a HealthBatch: time for one reconcile of the services it names), 'result' (one check
 * ran: CheckResultEvent), 'transition' (one real changed state; logged).
 */
export interface HealthSource<Snapshot> {
  /** Starts, stops and updates checks; unchanged checks keep their state. */
  update(config: ResolvedConfig, options: { table?: IpvsTable }): void | Promise<void>;
  snapshot(): Snapshot;
  on(event: 'changes' | 'result' | 'transition', listener: (...args: any[]) => void): unknown;
  stop(): void | Promise<void>;
}

/** Config + health -> what the kernel should hold (src/reconcile/desired.ts in production). */
export type DesiredFunction<Snapshot> = (config: ResolvedConfig, health: Snapshot) => DesiredState;

/**
 * How the health side describes configured reals, for /status and metrics: called once per
 * status, returns a lookup by (service name, real id); undefined = not checked.
 */
export type HealthView<Snapshot> = (
  health: Snapshot,
) => (serviceName: string, realId: string) => RealHealth | undefined;
