/**
 * One reconcile pass, the single path by which lvsd changes the kernel: read the live
 * state, load lvsd's own state, plan, apply, remember. `lvsd apply`, the daemon's
 * reloads, health changes and drift repair all come through here.
 */
import type { IpvsClient } from '../ipvs/client.js';
import { PhaseTimer } from '../util/timings.js';
import { applyPlan, type ApplyReport } from './apply.js';
import {
  drainKey,
  plan as makePlan,
  type ActualState,
  type DesiredService,
  type DesiredState,
  type Plan,
} from './plan.js';
import {
  emptyState,
  loadState,
  saveState,
  type ReconcileState,
  type StateMemory,
} from './state.js';
import type { IpvsTable, LiveService } from '../ipvs/model.js';
import { serviceId, serviceKeyOf } from '../ipvs/model.js';
import { procSysctls, type SysctlAccess } from '../sysctl/index.js';
import { ADVISED_SYSCTLS } from './sysctl-plan.js';
import { openAddresses, type AddressClient } from '../director/index.js';
import type { MarkScan } from '../director/fwmark-advice.js';

export interface ReconcileOptions {
  desired: DesiredState;
  /** Where the state file lives; null = no state (plans against a snapshot). */
  stateDir: string | null;
  prune: 'managed' | 'all';
  drainTimeoutMs: number;
  /** Plan only: no kernel writes, no state written. */
  dryRun: boolean;
  timer?: PhaseTimer;
  now?: number;
  /** Sysctl access; the real /proc/sys by default, swapped out in tests. */
  sysctls?: SysctlAccess;
  /**
   * Interface addresses for VIPs. Absent: opened over rtnetlink when the config holds VIPs
   * or the state file lists VIPs lvsd added; null: VIPs are neither read nor changed.
   */
  addresses?: AddressClient | null;
  /** Reads the marks firewall rules set (fwmark advice); absent: nftables over netlink; null: not checked. */
  markRules?: (() => Promise<MarkScan | null>) | null;
  /** Decode the table's counters (default true: the daemon serves them as metrics; plan and apply need none). */
  readStats?: boolean;
  /**
   * Config names of the only services this pass looks at (a health batch names the services
   * whose reals changed). Each is read on its own (getService + listDests), planned and
   * applied; nothing else is read or touched: no other service (owned or foreign), no
   * timeouts, sync daemons, sysctls or VIPs, none of which health changes. Their part of the
   * state file (drains) is merged into it, the other services' entries stay as they were.
   * A named service not in `desired` is skipped. Absent: the whole table (a full pass).
   */
  scope?: ReadonlySet<string>;
  /** The state as the last pass left it (the daemon's): scoped passes read it instead of the file. */
  stateMemory?: StateMemory;
}

export interface ReconcileResult {
  /** For a scoped pass, the plan of the scoped services alone (its `next` too: see stateAfter). */
  plan: Plan;
  /** serviceIds the pass covered; absent for a full pass. */
  scope?: ReadonlySet<string>;
  /** Absent on a dry run. */
  report?: ApplyReport;
  warnings: string[];
}

/** Reads what the plan needs: the table always, timeouts and daemons only when the config manages them. */
export async function readActual(
  client: IpvsClient,
  desired: DesiredState,
  sysctlAccess: SysctlAccess = procSysctls,
  addresses?: AddressClient | null,
  markRules?: (() => Promise<MarkScan | null>) | null,
  readStats = true,
): Promise<ActualState> {
  const sysctlNames = [...new Set([...ADVISED_SYSCTLS, ...Object.keys(desired.sysctls ?? {})])];
  const hasFwmark = desired.services.some((s) => 'fwmark' in s.service);
  const readMarks = markRules === undefined ? defaultMarkRules : markRules;
  const [table, timeouts, daemons, sysctls, snapshot, marks] = await Promise.all([
    client.readTable({ stats: readStats }),
    desired.timeouts ? client.getTimeouts() : undefined,
    desired.daemons ? client.listDaemons() : undefined,
    sysctlAccess.read(sysctlNames),
    addresses ? addresses.read() : undefined,
    hasFwmark && readMarks ? readMarks() : null,
  ]);
  return {
    table,
    sysctls,
    ...(timeouts ? { timeouts } : {}),
    ...(daemons ? { daemons } : {}),
    ...(snapshot ? { addresses: snapshot } : {}),
    ...(marks ? { markRules: marks } : {}),
  };
}

async function defaultMarkRules(): Promise<MarkScan | null> {
  const { readMarkRules } = await import('../director/nft-reader.js');
  return readMarkRules();
}

export async function reconcile(
  client: IpvsClient,
  options: ReconcileOptions,
): Promise<ReconcileResult> {
  if (options.scope) return reconcileScoped(client, options, options.scope);
  let addresses = options.addresses;
  let opened = false;
  if (addresses === undefined) {
    // Opened only when there are VIPs to hold or to let go (the state file lists those lvsd added).
    const recorded = options.stateDir ? ((await loadState(options.stateDir)).state.vips ?? []) : [];
    if ((options.desired.vips?.length ?? 0) > 0 || recorded.length > 0) {
      addresses = await openAddresses();
      opened = true;
    }
  }
  try {
    const read = () =>
      readActual(
        client,
        options.desired,
        options.sysctls,
        addresses,
        options.markRules,
        options.readStats,
      );
    const actual = await (options.timer ?? new PhaseTimer()).time('read', read);
    return await reconcileAgainst(actual, { ...options, addresses: addresses ?? null }, client);
  } finally {
    if (opened) await addresses?.close();
  }
}

/** VIPs lvsd holds after applying: what it planned to hold, less additions that failed, plus removals that failed. */
function vipsHeldAfter(plan: Plan, report: ApplyReport): string[] {
  const held = new Set(plan.next.vips ?? []);
  for (const { step, error } of report.vips) {
    if (!error) continue;
    if (step.op.op === 'add-address') held.delete(step.object);
    if (step.op.op === 'delete-address') held.add(step.object);
  }
  return [...held];
}

/** Plans against a given actual state (a live read or a saved snapshot) and applies unless dry. */
export async function reconcileAgainst(
  actual: ActualState,
  options: ReconcileOptions,
  client?: IpvsClient,
): Promise<ReconcileResult> {
  const timer = options.timer ?? new PhaseTimer();
  const warnings: string[] = [];
  const loaded = options.stateDir ? await loadState(options.stateDir) : undefined;
  if (loaded?.warning) warnings.push(loaded.warning);
  const state = loaded?.state;
  const plan = await timer.time('plan', () =>
    makePlan(options.desired, actual, {
      now: options.now ?? Date.now(),
      owned: new Set(state?.owned ?? []),
      draining: new Map(Object.entries(state?.draining ?? {})),
      drainTimeoutMs: options.drainTimeoutMs,
      prune: options.prune,
      ownedVips: new Set(state?.vips ?? []),
    }),
  );
  if (options.dryRun || !client) return { plan, warnings };
  const report = await timer.time('write', () =>
    applyPlan(client, plan, (options.sysctls ?? procSysctls).write, options.addresses ?? undefined),
  );
  if (options.stateDir) {
    const vips = vipsHeldAfter(plan, report);
    await remembered(options.stateMemory, options.stateDir, {
      version: 1,
      owned: plan.next.owned,
      draining: plan.next.draining,
      ...(vips.length ? { vips } : {}),
    });
  }
  return { plan, report, warnings };
}

/**
 * A pass over a few services (see ReconcileOptions.scope): the same planner and applier
 * over a desired state and a table cut down to those services. Read one by one, ten
 * services of a 10k-real table cost a few milliseconds where the whole dump costs a
 * hundred, which is what keeps a health decision close to the kernel.
 */
async function reconcileScoped(
  client: IpvsClient,
  options: ReconcileOptions,
  names: ReadonlySet<string>,
): Promise<ReconcileResult> {
  const timer = options.timer ?? new PhaseTimer();
  const services = options.desired.services.filter((s) => names.has(s.name));
  const scope = new Set(services.map((s) => serviceId(s.service)));
  const table = await timer.time('read', () =>
    readServices(client, services, options.readStats ?? true),
  );
  const warnings: string[] = [];
  const memory = options.stateMemory?.state;
  const loaded = memory
    ? { state: memory }
    : options.stateDir
      ? await loadState(options.stateDir)
      : undefined;
  if (loaded?.warning) warnings.push(loaded.warning);
  const state = loaded?.state ?? emptyState();
  // Only the scoped services are desired and only they are in the table: the planner
  // neither removes nor reports anything else, and plans no kernel-wide setting.
  const plan = await timer.time('plan', () =>
    makePlan(
      { services },
      { table },
      {
        now: options.now ?? Date.now(),
        owned: new Set(state.owned),
        draining: new Map(Object.entries(state.draining)),
        drainTimeoutMs: options.drainTimeoutMs,
        prune: options.prune,
        ownedVips: new Set(state.vips ?? []),
      },
    ),
  );
  if (options.dryRun) return { plan, scope, warnings };
  const report = await timer.time('write', () => applyPlan(client, plan));
  // A state file that could not be read is left for the next full pass to rewrite whole:
  // merged into an empty state, the other services would lose their ownership.
  if (options.stateDir && !loaded?.warning) {
    const next = mergeScopedState(state, plan, scope);
    // Most health passes change no drain record: an unchanged file is not written again.
    if (JSON.stringify(next) !== JSON.stringify(state))
      await remembered(options.stateMemory, options.stateDir, next);
    else if (options.stateMemory) options.stateMemory.state = state;
  }
  return { plan, report, scope, warnings };
}

/** The scoped services' live state, read service by service; absent ones are simply not in the table. */
async function readServices(
  client: IpvsClient,
  services: readonly DesiredService[],
  stats: boolean,
): Promise<IpvsTable> {
  const read = await Promise.all(
    services.map(async (wanted) => {
      const key = serviceKeyOf(wanted.service);
      const [found, dests] = await Promise.all([
        client.getService(key),
        client.listDests(key, { stats }),
      ]);
      return found ? { ...found, dests } : null;
    }),
  );
  return { services: read.filter((s): s is LiveService => s !== null) };
}

/** The serviceId of a drainKey ("TCP 10.0.0.1:80 -> 192.168.10.2:80"). */
export function drainKeyService(key: string): string {
  const dest = drainKey('', '');
  const at = key.indexOf(dest);
  return at < 0 ? key : key.slice(0, at);
}

/**
 * The state file after a scoped pass: the scoped services' drains as the plan left them,
 * everything else as it was. The scoped services are desired, so they are owned.
 */
export function mergeScopedState(
  state: ReconcileState,
  plan: Plan,
  scope: ReadonlySet<string>,
): ReconcileState {
  const draining: Record<string, number> = {};
  for (const [key, since] of Object.entries(state.draining))
    if (!scope.has(drainKeyService(key))) draining[key] = since;
  Object.assign(draining, plan.next.draining);
  const owned = [...new Set([...state.owned, ...scope])];
  return { version: 1, owned, draining, ...(state.vips?.length ? { vips: state.vips } : {}) };
}

/** Writes the state file and remembers what it holds; a failed write forgets, so the next pass reads the file. */
async function remembered(
  memory: StateMemory | undefined,
  stateDir: string,
  state: ReconcileState,
): Promise<void> {
  if (memory) memory.state = null;
  await saveState(stateDir, state);
  if (memory) memory.state = state;
}
