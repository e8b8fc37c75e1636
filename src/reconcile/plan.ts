/**
 * The planner: desired state and the live table in, the smallest ordered list of IPVS
 * operations out. Pure: no I/O, no clock (the caller passes `now`), so every rule here
 * is unit- and property-tested without a kernel.
 *
 * Order of a plan: kernel settings; then, service by service in config order, the
 * service itself (add or edit) followed by its dests (adds and edits before drains and
 * deletes, so a real that changes address gains its replacement first); then services
 * that left the config. A service is never deleted and re-created to change an
 * attribute: the kernel edits every attribute in place, and a re-create throws its
 * connections away.
 */
import type { IpvsOp } from '../ipvs/client.js';
import type {
  Dest,
  LiveDest,
  LiveService,
  ServiceKey,
  SyncDaemon,
  Timeouts,
} from '../ipvs/model.js';
import { destId, serviceId, serviceKeyOf } from '../ipvs/model.js';
import { diffDest, diffService, type FieldChange } from './diff.js';
import { planSysctls, sysctlAdvice } from './sysctl-plan.js';
import { fwmarkAdvice } from '../director/fwmark-advice.js';
import { planVips } from './vip-plan.js';
import type {
  ActualState,
  DesiredService,
  DesiredState,
  Drains,
  Plan,
  PlanContext,
  PlanStep,
  StepAction,
  WaitingDrain,
} from './types.js';

function recordDrain(drains: Drains, service: string, dest: string, since: number): void {
  const reals = drains[service] ?? (drains[service] = realDrains());
  reals[dest] = since;
}

/**
 * A service's drains by dest id, as a dictionary (a copy of `from`). Keyed by real
 * ("10.1.2.3:8080"), a plain object gets a hidden class per key from V8, and a mass
 * failure's passes add a thousand such keys, most in code still interpreted (issue 15).
 */
export function realDrains(from?: Readonly<Record<string, number>>): Record<string, number> {
  const reals = Object.create(null) as Record<string, number>;
  return from ? Object.assign(reals, from) : reals;
}

export function countSteps(plan: Plan): Record<StepAction, number> {
  const counts: Record<StepAction, number> = { add: 0, change: 0, drain: 0, remove: 0 };
  for (const step of plan.steps) counts[step.action]++;
  return counts;
}

export function isEmptyPlan(plan: Plan): boolean {
  return plan.steps.length === 0 && plan.sysctls.length === 0 && plan.vips.length === 0;
}

/** Collects steps and the state to record; one per plan() call. */
class PlanBuilder {
  readonly steps: PlanStep[] = [];
  readonly waiting: WaitingDrain[] = [];
  readonly foreign: string[] = [];
  readonly removing: string[] = [];
  readonly owned = new Set<string>();
  readonly draining: Drains = {};

  constructor(readonly context: PlanContext) {}

  add(step: Omit<PlanStep, 'changes'> & { changes?: FieldChange[] }): void {
    this.steps.push({ changes: [], ...step });
  }
}

export function plan(desired: DesiredState, actual: ActualState, context: PlanContext): Plan {
  const builder = new PlanBuilder(context);
  planTimeouts(builder, desired.timeouts, actual.timeouts);
  planDaemons(builder, desired.daemons, actual.daemons);

  const live = new Map(actual.table.services.map((svc) => [serviceId(svc), svc]));
  const desiredIds = new Set<string>();
  for (const wanted of desired.services) {
    const id = serviceId(wanted.service);
    desiredIds.add(id);
    builder.owned.add(id);
    planService(builder, wanted, live.get(id), id);
  }
  let managedLive = 0;
  for (const [id, svc] of live) {
    if (desiredIds.has(id)) managedLive++;
    else if (context.owned.has(id) || context.prune === 'all') {
      managedLive++;
      builder.removing.push(id);
      planServiceRemoval(builder, id, svc);
    } else builder.foreign.push(id);
  }
  const ownedVips = context.ownedVips ?? new Set<string>();
  const vips = actual.addresses
    ? planVips(desired.vips ?? [], actual.addresses, ownedVips)
    : undefined;
  const fwmarks = desired.services.flatMap((s) =>
    'fwmark' in s.service
      ? [{ name: s.name, fwmark: s.service.fwmark, family: s.service.family }]
      : [],
  );
  return {
    steps: builder.steps,
    waiting: builder.waiting,
    foreign: builder.foreign,
    removing: builder.removing,
    managedLive,
    // No sysctls read (a snapshot from `lvsd ls --json`): nothing to compare, nothing to plan.
    sysctls: actual.sysctls ? planSysctls(desired.sysctls, actual.sysctls) : [],
    advice: [
      ...(actual.sysctls ? sysctlAdvice(desired, actual.sysctls, context.drainTimeoutMs) : []),
      ...(vips?.advice ?? []),
      ...fwmarkAdvice(fwmarks, actual.markRules),
    ],
    vips: vips?.steps ?? [],
    next: {
      owned: [...builder.owned],
      draining: builder.draining,
      vips: vips ? vips.owned : [...ownedVips],
    },
  };
}

function planTimeouts(
  builder: PlanBuilder,
  desired: Partial<Timeouts> | undefined,
  actual: Timeouts | undefined,
): void {
  if (!desired) return;
  const changes: FieldChange[] = [];
  const write: Partial<Timeouts> = {};
  for (const field of ['tcp', 'tcpFin', 'udp'] as const) {
    const want = desired[field];
    if (want === undefined || want === actual?.[field]) continue;
    write[field] = want;
    changes.push({
      field: `${field} timeout`,
      from: String(actual?.[field] ?? '?'),
      to: String(want),
    });
  }
  if (changes.length)
    builder.add({
      action: 'change',
      op: { op: 'set-timeouts', timeouts: write },
      service: 'timeouts',
      changes,
    });
}

/**
 * The daemon as the kernel will report it: a setting the config leaves out takes the
 * kernel's default (maxlen from the interface MTU, group 224.0.0.81:8848, TTL 1), which
 * only the running daemon can tell; without this every apply would restart the daemons.
 */
function withKernelDefaults(want: SyncDaemon, have: SyncDaemon): SyncDaemon {
  return {
    ...want,
    syncMaxLen: want.syncMaxLen || have.syncMaxLen,
    mcastGroup: want.mcastGroup ?? have.mcastGroup,
    mcastPort: want.mcastPort || have.mcastPort,
    mcastTtl: want.mcastTtl || have.mcastTtl,
  };
}

function daemonText(daemon: SyncDaemon): string {
  const mcast = daemon.mcastGroup
    ? ` mcast ${daemon.mcastGroup}:${daemon.mcastPort ?? 0} ttl ${daemon.mcastTtl ?? 0}`
    : '';
  const maxlen = daemon.syncMaxLen ? ` maxlen ${daemon.syncMaxLen}` : '';
  return `${daemon.interface} syncid ${daemon.syncId}${maxlen}${mcast}`;
}

function planDaemons(
  builder: PlanBuilder,
  desired: SyncDaemon[] | undefined,
  actual: SyncDaemon[] | undefined,
): void {
  if (!desired) return;
  for (const state of ['master', 'backup'] as const) {
    const want = desired.find((d) => d.state === state);
    const have = actual?.find((d) => d.state === state);
    const label = `sync daemon ${state}`;
    if (have && want && daemonText(have) === daemonText(withKernelDefaults(want, have))) continue;
    // A running daemon cannot be edited: the kernel has no SET for it, so stop then start.
    if (have) builder.add({ action: 'remove', op: { op: 'delete-daemon', state }, service: label });
    if (want) {
      const changes = have
        ? [{ field: 'settings', from: daemonText(have), to: daemonText(want) }]
        : [];
      builder.add({
        action: have ? 'change' : 'add',
        op: { op: 'add-daemon', daemon: want },
        service: label,
        changes,
      });
    }
  }
}

function planService(
  builder: PlanBuilder,
  wanted: DesiredService,
  live: LiveService | undefined,
  id: string,
): void {
  const base = { service: id, serviceName: wanted.name };
  if (!live) {
    builder.add({ ...base, action: 'add', op: { op: 'add-service', service: wanted.service } });
  } else {
    const changes = diffService(live, wanted.service);
    if (changes.length)
      builder.add({
        ...base,
        action: 'change',
        op: { op: 'edit-service', service: wanted.service },
        changes,
      });
  }
  const key = serviceKeyOf(wanted.service);
  const { twins, unclaimed } = pairDests(wanted.dests, live?.dests ?? []);
  wanted.dests.forEach((dest, i) => {
    const have = twins[i];
    // A real re-added while draining simply gets its weight back below: no re-create.
    const changes = have ? diffDest(have, dest) : [];
    if (have && !changes.length) return;
    // Written out, not spread from `base`: a spread per dest cost 1 KB of garbage each
    // (14.5 MiB for a first plan of 1000 x 10, 6 MiB without; the start's peak).
    builder.steps.push({
      changes,
      service: id,
      serviceName: wanted.name,
      dest: destId(dest),
      action: have ? 'change' : 'add',
      op: { op: have ? 'edit-dest' : 'add-dest', service: key, dest },
    });
  });
  for (const have of unclaimed) planDrain(builder, id, key, have, wanted.name);
}

/**
 * Each wanted dest's live twin (undefined: not in the kernel), and the live dests no wanted
 * dest claims. The kernel lists a service's dests newest first, so a service lvsd wrote
 * reads back in config order reversed, and one restored by other tools often in order:
 * both are tried by comparing addresses and ports in place before the lookup by id, which
 * built two strings per dest (a no-op plan of 50,000 dests).
 */
function pairDests(
  wanted: readonly Dest[],
  live: readonly LiveDest[],
): { twins: Array<LiveDest | undefined>; unclaimed: LiveDest[] } {
  if (live.length === wanted.length) {
    if (sameDestKeys(wanted, live, false)) return { twins: live.slice(), unclaimed: [] };
    if (sameDestKeys(wanted, live, true)) return { twins: live.slice().reverse(), unclaimed: [] };
  }
  const byId = new Map(live.map((d) => [destId(d), d]));
  const wantedIds = new Set<string>();
  const twins = wanted.map((dest) => {
    const id = destId(dest);
    wantedIds.add(id);
    return byId.get(id);
  });
  return { twins, unclaimed: live.filter((d) => !wantedIds.has(destId(d))) };
}

/** The same addresses and ports, position by position (or against `live` reversed). */
function sameDestKeys(
  wanted: readonly Dest[],
  live: readonly LiveDest[],
  reversed: boolean,
): boolean {
  const last = live.length - 1;
  for (let i = 0; i < wanted.length; i++) {
    const a = wanted[i] as Dest;
    const b = live[reversed ? last - i : i] as LiveDest;
    if (a.address !== b.address || a.port !== b.port) return false;
  }
  return true;
}

/**
 * A real leaving the table: weight 0 first, so new connections go elsewhere while
 * established ones finish; deleted once it has no connections or the drain time is up.
 * Returns true when the dest is deleted by this plan. The caller passes the service's id
 * and key, made once per service: a mass failure drains every real of a service at once,
 * and making them per dest (two address strings and a key object each) was most of it.
 */
function planDrain(
  builder: PlanBuilder,
  id: string,
  key: ServiceKey,
  dest: LiveDest,
  serviceName?: string,
): boolean {
  const { context } = builder;
  const did = destId(dest);
  // A drain found without a record (lvsd restarted, state lost) starts its clock now.
  const since = context.draining[id]?.[did] ?? context.now;
  const connections = dest.activeConns + dest.inactiveConns;
  const elapsed = context.now - since;
  if (context.drainTimeoutMs > 0 && dest.weight > 0 && connections > 0) {
    // The op's dest is the live one at weight 0 (counters and all), as before.
    builder.steps.push(quiesceStep(id, did, key, dest, serviceName));
    recordDrain(builder.draining, id, did, context.now);
    builder.waiting.push(waitingDrain(id, did, dest, context.drainTimeoutMs));
    return false;
  }
  if (connections === 0 || elapsed >= context.drainTimeoutMs) {
    builder.steps.push(deleteDestStep(id, did, key, dest, serviceName));
    return true;
  }
  recordDrain(builder.draining, id, did, since);
  builder.waiting.push(waitingDrain(id, did, dest, context.drainTimeoutMs - elapsed));
  return false;
}

/** A real's drain begins: weight 0, every other attribute as it is (also quiesce.ts's). */
export function quiesceStep(
  id: string,
  did: string,
  key: ServiceKey,
  dest: Dest,
  serviceName?: string,
): PlanStep {
  const op: IpvsOp = { op: 'edit-dest', service: key, dest: { ...dest, weight: 0 } };
  return destStep(id, did, serviceName, 'drain', op, [
    { field: 'weight', from: String(dest.weight), to: '0' },
  ]);
}

/** A real leaves the table (also quiesce.ts's, when drains are off). */
export function deleteDestStep(
  id: string,
  did: string,
  key: ServiceKey,
  dest: Dest | LiveDest,
  serviceName?: string,
): PlanStep {
  const op: IpvsOp = {
    op: 'delete-dest',
    service: key,
    dest: { address: dest.address, port: dest.port },
  };
  return destStep(id, did, serviceName, 'remove', op, []);
}

/**
 * A dest's step, written out rather than spread from a base object (as planService's dest
 * steps are: a spread per dest is garbage per dest). Fields in the order the spreads gave.
 */
export function destStep(
  service: string,
  dest: string,
  serviceName: string | undefined,
  action: StepAction,
  op: IpvsOp,
  changes: FieldChange[],
): PlanStep {
  return serviceName
    ? { changes, service, dest, serviceName, action, op }
    : { changes, service, dest, action, op };
}

function waitingDrain(
  service: string,
  dest: string,
  live: LiveDest,
  remainingMs: number,
): WaitingDrain {
  return {
    service,
    dest,
    activeConns: live.activeConns,
    inactiveConns: live.inactiveConns,
    remainingMs,
  };
}

/** A service that left the config: its reals drain like any removed real, then it goes. */
function planServiceRemoval(builder: PlanBuilder, id: string, live: LiveService): void {
  const key = serviceKeyOf(live);
  let remaining = 0;
  for (const dest of live.dests) {
    if (!planDrain(builder, id, key, dest)) remaining++;
  }
  if (remaining > 0) {
    builder.owned.add(id);
    return;
  }
  builder.add({
    action: 'remove',
    op: { op: 'delete-service', service: key },
    service: id,
  });
}
