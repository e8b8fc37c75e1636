/**
 * What `GET /status` answers and `lvsd status` prints: the config in force, the last
 * reload and reconcile, and every service with its reals as the kernel has them, joined
 * with the config (names, configured weights) and health. Defined as a zod schema so the
 * client side (`lvsd status`) validates what it reads with the same types.
 *
 * Pure: built from values the daemon already holds; no I/O here.
 */
import { z } from 'zod';
import type { ResolvedConfig } from '../config/resolved.js';
import type { CheckStatus, HealthSnapshot } from '../health/manager.js';
import type { IpvsTable, LiveDest, LiveService } from '../ipvs/model.js';
import { Dest, destId, DestCounters, Service, serviceId, Stats } from '../ipvs/model.js';
import type { WaitingDrain } from '../reconcile/types.js';
import { AnnounceStatus } from '../announce/status.js';
import { VrrpInstanceStatus } from '../vrrp/status.js';

export const HealthState = z.enum(['up', 'down', 'unchecked', 'draining', 'unmanaged']);
export type HealthState = z.infer<typeof HealthState>;

/** What the health side says about one checked real, as /status shows it. */
export interface HealthDetail {
  state: 'up' | 'down';
  /** Milliseconds since the epoch of the last transition, when known. */
  since?: number;
  /** The last check's message (why it failed). */
  message?: string;
}

/**
 * The health of configured reals as /status shows it, from the HealthManager: up or down
 * from its snapshot() (what desiredState read), the last check's message from its
 * status(). A lookup by (service name, real id); undefined = not checked.
 */
export function healthDetails(
  snapshot: HealthSnapshot,
  checks: readonly CheckStatus[],
): (serviceName: string, realId: string) => HealthDetail | undefined {
  const last = new Map<string, string>();
  for (const check of checks) last.set(`${check.service}\u0000${check.real}`, check.last);
  return (service, real) => {
    const health = snapshot.real(service, real);
    if (!health) return undefined;
    const message = last.get(`${service}\u0000${real}`);
    return { state: health.up ? 'up' : 'down', ...(message ? { message } : {}) };
  };
}

export const StatusDest = Dest.extend(DestCounters.shape).extend({
  /** destId: "192.168.10.2:80". */
  id: z.string(),
  health: HealthState,
  /** The check type, null when the real is not checked. */
  check: z.string().nullable(),
  /** The weight the config gives, null for reals the config does not declare. */
  configuredWeight: z.number().nullable(),
  /** False when the real is in the config but not in the kernel (down and removed). */
  inKernel: z.boolean(),
  since: z.string().nullable(),
  message: z.string().nullable(),
});
export type StatusDest = z.infer<typeof StatusDest>;

export const StatusService = z.intersection(
  Service,
  z.object({
    id: z.string(),
    /** The name under `services:`; null for a service lvsd does not manage. */
    name: z.string().nullable(),
    managed: z.boolean(),
    inKernel: z.boolean(),
    stats: Stats.optional(),
    dests: z.array(StatusDest),
    /** The config's quorum (minimum healthy weight), null without one; absent for others. */
    quorum: z.number().nullable().optional(),
    /** Configured weights of the reals that are up or unchecked; absent for others. */
    healthyWeight: z.number().optional(),
  }),
);
export type StatusService = Service & {
  id: string;
  name: string | null;
  managed: boolean;
  inKernel: boolean;
  stats?: Stats;
  dests: StatusDest[];
  quorum?: number | null;
  healthyWeight?: number;
};

export const ReloadRecord = z.object({
  ok: z.boolean(),
  at: z.string(),
  /** The hash of the config loaded (ok) or of the config kept (failed). */
  hash: z.string().nullable(),
  errors: z.array(z.string()),
  warnings: z.array(z.string()),
});
export type ReloadRecord = z.infer<typeof ReloadRecord>;

export const PassRecord = z.object({
  at: z.string(),
  triggers: z.array(z.string()),
  durationMs: z.number(),
  writes: z.number(),
  failed: z.number(),
  driftRepairs: z.number(),
  waitingDrains: z.number(),
  error: z.string().nullable(),
  /** The services a health pass was limited to (config names); absent for a full pass. */
  scope: z.array(z.string()).optional(),
});
export type PassRecord = z.infer<typeof PassRecord>;

export const DaemonStatus = z.object({
  version: z.string(),
  pid: z.number(),
  startedAt: z.string(),
  config: z.object({
    path: z.string(),
    hash: z.string(),
    host: z.string().nullable(),
    files: z.array(z.string()),
    loadedAt: z.string(),
  }),
  lastReload: ReloadRecord.nullable(),
  lastReconcile: PassRecord.nullable(),
  kernel: z.object({ version: z.string(), connTableSize: z.number() }).nullable(),
  /** When the table shown was read from the kernel. */
  tableReadAt: z.string().nullable(),
  services: z.array(StatusService),
  /** VRRP instances (absent without a vrrp: section). */
  vrrp: z.array(VrrpInstanceStatus).optional(),
  /** VIPs announced over BGP (absent without an announce: section). */
  announce: AnnounceStatus.optional(),
  draining: z.array(
    z.object({
      service: z.string(),
      dest: z.string(),
      activeConns: z.number(),
      inactiveConns: z.number(),
      remainingMs: z.number(),
    }),
  ),
});
export type DaemonStatus = z.infer<typeof DaemonStatus>;

export interface StatusInput {
  config: ResolvedConfig;
  table: IpvsTable;
  /** Health of a configured real; undefined = not checked. */
  health: (serviceName: string, realId: string) => HealthDetail | undefined;
  waiting: readonly WaitingDrain[];
}

const iso = (ms: number | undefined): string | null =>
  ms === undefined ? null : new Date(ms).toISOString();

/** Managed services in config order, then the kernel's other services. */
export function buildServices(input: StatusInput): StatusService[] {
  const live = new Map(input.table.services.map((s) => [serviceId(s), s]));
  const waiting = (service: string, dest: string) =>
    input.waiting.some((w) => w.service === service && w.dest === dest);
  const out: StatusService[] = [];
  for (const svc of input.config.services) {
    const id = serviceId(svc.service);
    const liveSvc = live.get(id);
    live.delete(id);
    const liveDests = new Map((liveSvc?.dests ?? []).map((d) => [destId(d), d]));
    const dests: StatusDest[] = [];
    for (const real of svc.reals) {
      const have = liveDests.get(real.id);
      liveDests.delete(real.id);
      const health = real.check ? input.health(svc.name, real.id) : undefined;
      const state: HealthState = real.check ? (health?.state ?? 'down') : 'unchecked';
      dests.push({
        ...(have ?? { ...real.dest, weight: 0, activeConns: 0, inactiveConns: 0, persistConns: 0 }),
        id: real.id,
        health: state,
        check: real.check?.type ?? null,
        configuredWeight: real.dest.weight,
        inKernel: have !== undefined,
        since: iso(health?.since),
        message: health?.message ?? null,
      });
    }
    // Live dests the config does not declare: the sorry server, or reals on their way out.
    for (const [did, have] of liveDests) {
      const isSorry = svc.sorry !== null && destId(svc.sorry) === did;
      dests.push(
        extraDest(
          have,
          did,
          isSorry ? 'up' : waiting(id, did) ? 'draining' : 'unmanaged',
          isSorry ? 'sorry server' : null,
        ),
      );
    }
    out.push({
      ...svc.service,
      id,
      name: svc.name,
      managed: true,
      inKernel: liveSvc !== undefined,
      ...(liveSvc?.stats ? { stats: liveSvc.stats } : {}),
      dests,
      quorum: svc.quorum?.min ?? null,
      healthyWeight: healthyWeight(dests),
    });
  }
  for (const [id, svc] of live) {
    const draining = input.waiting.some((w) => w.service === id);
    out.push({
      ...serviceOf(svc),
      id,
      name: null,
      managed: draining,
      inKernel: true,
      ...(svc.stats ? { stats: svc.stats } : {}),
      dests: svc.dests.map((d) =>
        extraDest(d, destId(d), draining ? 'draining' : 'unmanaged', null),
      ),
    });
  }
  return out;
}

/** As the health side sums it for quorum, but with configured weights (not dynamic ones). */
function healthyWeight(dests: readonly StatusDest[]): number {
  let sum = 0;
  for (const d of dests)
    if (d.configuredWeight !== null && (d.health === 'up' || d.health === 'unchecked'))
      sum += d.configuredWeight;
  return sum;
}

function extraDest(
  d: LiveDest,
  id: string,
  health: HealthState,
  message: string | null,
): StatusDest {
  return {
    ...d,
    id,
    health,
    check: null,
    configuredWeight: null,
    inKernel: true,
    since: null,
    message,
  };
}

function serviceOf(svc: LiveService): Service {
  const { dests: _dests, stats: _stats, ...service } = svc;
  return service as Service;
}

/** The status as an IpvsTable plus a health lookup, for the ipvsadm-style renderer. */
export function statusTable(services: readonly StatusService[]): {
  table: IpvsTable;
  healthOf: (service: LiveService, dest: LiveDest) => string;
} {
  const health = new Map<string, string>();
  const table: IpvsTable = {
    services: services.map((s) => {
      const {
        id,
        name: _name,
        managed: _managed,
        inKernel: _inKernel,
        quorum: _quorum,
        healthyWeight: _healthyWeight,
        dests,
        ...rest
      } = s;
      return {
        ...(rest as Service & { stats?: Stats }),
        dests: dests.map((d) => {
          const label = !d.inKernel ? `${d.health} (out)` : d.health;
          health.set(`${id} -> ${d.id}`, label);
          const {
            id: _id,
            health: _h,
            check: _c,
            configuredWeight: _w,
            inKernel: _k,
            since: _s,
            message: _m,
            ...dest
          } = d;
          return dest as LiveDest;
        }),
      };
    }),
  };
  return {
    table,
    healthOf: (service, dest) => health.get(`${serviceId(service)} -> ${destId(dest)}`) ?? '-',
  };
}
