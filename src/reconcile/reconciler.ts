/**
 * The Reconciler: the single path by which lvsd changes the kernel. One pass reads the
 * live state, plans (plan.ts, pure) against lvsd's state, applies (apply.ts) and records
 * what it now owns and drains. `lvsd apply`, `lvsd plan`, the daemon's reloads, health
 * changes, drift repair and drains all come through pass().
 *
 * It is built once with its ports, one per thing it reads or writes: the IPVS client, the
 * state store, sysctls, interface addresses (VIPs) and the firewall's marks (advice).
 *
 * A pass is full (the whole table, kernel settings, VIPs) or scoped to a few services by
 * config name (a health batch names the services whose reals changed). A scoped pass reads
 * only those services (readServices), plans and applies them alone, and merges
 * their drains into the state: a decision costs a few milliseconds on a 10k-real table
 * where a whole dump costs a hundred. Given what the kernel holds as the caller last aimed
 * (`known`), it does not even read the services whose change that makes certain (a failed
 * real quiesced: quiesce.ts) and lists them in `quiesced`, for the caller to read later.
 * Both kinds share planContext() and the applier.
 */
import type { AddressClient } from '../director/vip-addresses.js';
import type { MarkScan } from '../director/fwmark-advice.js';
import type { IpvsClient } from '../ipvs/client.js';
import { serviceId, serviceKeyOf, type IpvsTable } from '../ipvs/model.js';
import type { SysctlAccess } from '../sysctl/access.js';
import { PhaseTimer } from '../util/timings.js';
import { applyPlan, type ApplyReport } from './apply.js';
import { checkMassRemoval, type MassRemoval } from './guard.js';
import { plan as makePlan } from './plan.js';
import { planQuiesce, withQuiesced, type KnownServices } from './quiesce.js';
import { emptyState, type ReconcileState, type StateStore } from './state.js';
import { SNAPSHOT_FORMAT, type DirectorSnapshot } from './snapshot.js';
import { ADVISED_SYSCTLS, KNOWN_SYSCTLS } from './sysctl-plan.js';
import type {
  ActualState,
  DesiredService,
  DesiredState,
  Plan,
  PlanContext,
  ReconcilePolicy,
} from './types.js';

export interface ReconcilerPorts {
  ipvs: IpvsClient;
  state: StateStore;
  sysctls: SysctlAccess;
  /**
   * Opens the interface addresses (rtnetlink) for VIPs; called only when the config holds
   * VIPs or the state lists VIPs lvsd added, and closed after the pass. Null: VIPs are
   * neither read nor changed.
   */
  openAddresses: (() => Promise<AddressClient>) | null;
  /** Reads the marks the firewall sets (fwmark advice); null: not checked. */
  markRules: (() => Promise<MarkScan | null>) | null;
}

export interface PassOptions {
  policy: ReconcilePolicy;
  /** Config names of the only services this pass looks at; absent: a full pass. */
  scope?: ReadonlySet<string>;
  /** Plan only: no kernel writes, no state written. */
  dryRun?: boolean;
  /**
   * For a scoped pass: what the kernel holds of each service as the caller last aimed, by
   * serviceId. A service whose change is certain from it (a failed real) is written
   * without a read (quiesce.ts) and listed in the result's `quiesced`.
   */
  known?: KnownServices;
  /** Decode the table's counters (default true: the daemon serves them as metrics). */
  readStats?: boolean;
  /**
   * For a full pass: asked between the services of its read; true ends the pass there with
   * a ReadYielded (src/ipvs/errors.ts), before anything is planned or written.
   */
  yieldTo?: () => boolean;
  now?: number;
  timer?: PhaseTimer;
}

export interface ReconcileResult {
  /** For a scoped pass, the plan of the scoped services alone. */
  plan: Plan;
  /** serviceIds a scoped pass covered; absent for a full pass. */
  scope?: ReadonlySet<string>;
  /** serviceIds of a scoped pass written without a read: read them again soon (quiesce.ts). */
  quiesced?: ReadonlySet<string>;
  /** Absent on a dry run, and when the guard refused the plan. */
  report?: ApplyReport;
  /** Set when the plan would start a mass removal the policy does not allow: nothing was applied. */
  refused?: MassRemoval;
  warnings: string[];
}

export class Reconciler {
  constructor(private readonly ports: ReconcilerPorts) {}

  get ipvs(): IpvsClient {
    return this.ports.ipvs;
  }

  pass(desired: DesiredState, options: PassOptions): Promise<ReconcileResult> {
    return options.scope
      ? this.scopedPass(desired, options, options.scope)
      : this.fullPass(desired, options);
  }

  private async fullPass(desired: DesiredState, options: PassOptions): Promise<ReconcileResult> {
    const timer = options.timer ?? new PhaseTimer();
    const loaded = await this.ports.state.read();
    const addresses = await this.openAddressesIfNeeded(desired, loaded.state);
    try {
      const actual = await timer.time('read', () => this.readActual(desired, addresses, options));
      const context = planContext(loaded.state, options);
      const plan = await timer.time('plan', () => makePlan(desired, actual, context));
      const warnings = loaded.warning ? [loaded.warning] : [];
      const refused = checkMassRemoval(plan, context, options.policy);
      if (refused) return { plan, refused, warnings };
      if (options.dryRun) return { plan, warnings };
      const report = await timer.time('write', () =>
        applyPlan(this.ports.ipvs, plan, this.ports.sysctls.write, addresses ?? undefined),
      );
      const vips = vipsHeldAfter(plan, report);
      await this.ports.state.write({
        version: 2,
        owned: plan.next.owned,
        draining: plan.next.draining,
        ...(vips.length ? { vips } : {}),
      });
      return { plan, report, warnings };
    } finally {
      await addresses?.close();
    }
  }

  private async scopedPass(
    desired: DesiredState,
    options: PassOptions,
    names: ReadonlySet<string>,
  ): Promise<ReconcileResult> {
    const timer = options.timer ?? new PhaseTimer();
    const services = desired.services.filter((s) => names.has(s.name));
    const scope = new Set(services.map((s) => serviceId(s.service)));
    const loaded = await this.ports.state.current();
    const warnings = loaded.warning ? [loaded.warning] : [];
    const context = planContext(loaded.state, options);
    const quiesced = planQuiesce(services, options.known ?? new Map(), context);
    const table = await timer.time('read', () => this.readScoped(quiesced.rest, options));
    // Only the scoped services are desired and only they are in the table: the planner
    // neither removes nor reports anything else, and plans no kernel-wide setting.
    const plan = await timer.time('plan', () =>
      withQuiesced(makePlan({ services: quiesced.rest }, { table }, context), quiesced),
    );
    const result = { plan, scope, warnings, quiesced: quiesced.services };
    if (options.dryRun) return result;
    const report = await timer.time('write', () => applyPlan(this.ports.ipvs, plan));
    // A state file that could not be read is left for the next full pass to rewrite whole:
    // merged into an empty state, the other services would lose their ownership.
    if (!loaded.warning) await this.ports.state.write(mergeScoped(loaded.state, plan, scope));
    return { ...result, report };
  }

  /** The scoped services that need a read, alone (none: no read at all). */
  private async readScoped(
    services: readonly DesiredService[],
    options: PassOptions,
  ): Promise<IpvsTable> {
    if (!services.length) return { services: [] };
    return this.ports.ipvs.readServices(
      services.map((s) => serviceKeyOf(s.service)),
      { stats: options.readStats ?? true },
    );
  }

  /**
   * Everything a pass could read, for `lvsd ls --json`: the table with its counters, the
   * kernel-wide settings, every sysctl lvsd knows, the addresses, the firewall's marks and
   * lvsd's state. A plan against it (planOffline) is the plan a pass makes here.
   */
  async snapshot(meta: { version: string; host: string }): Promise<DirectorSnapshot> {
    const ipvs = this.ports.ipvs;
    const addresses = this.ports.openAddresses ? await this.ports.openAddresses() : null;
    try {
      const [table, timeouts, daemons, sysctls, links, marks, loaded] = await Promise.all([
        ipvs.readTable(),
        ipvs.getTimeouts(),
        ipvs.listDaemons(),
        this.ports.sysctls.read(KNOWN_SYSCTLS),
        addresses ? addresses.read() : null,
        this.ports.markRules ? this.ports.markRules() : null,
        this.ports.state.read(),
      ]);
      return {
        lvsd: { format: SNAPSHOT_FORMAT, ...meta, takenAt: new Date().toISOString() },
        services: table.services,
        // A state file that cannot be read is no state: the snapshot says so (null).
        state: this.ports.state.dir && !loaded.warning ? loaded.state : null,
        timeouts,
        daemons,
        sysctls,
        addresses: links,
        markRules: marks,
      };
    } finally {
      await addresses?.close();
    }
  }

  /** What the plan needs: the table always, timeouts and daemons only when the config manages them. */
  private async readActual(
    desired: DesiredState,
    addresses: AddressClient | null,
    options: PassOptions,
  ): Promise<ActualState> {
    const sysctlNames = [...new Set([...ADVISED_SYSCTLS, ...Object.keys(desired.sysctls ?? {})])];
    const hasFwmark = desired.services.some((s) => 'fwmark' in s.service);
    const ipvs = this.ports.ipvs;
    const [table, timeouts, daemons, sysctls, snapshot, marks] = await Promise.all([
      ipvs.readTable({
        stats: options.readStats ?? true,
        ...(options.yieldTo ? { yieldTo: options.yieldTo } : {}),
      }),
      desired.timeouts ? ipvs.getTimeouts() : undefined,
      desired.daemons ? ipvs.listDaemons() : undefined,
      this.ports.sysctls.read(sysctlNames),
      addresses ? addresses.read() : undefined,
      hasFwmark && this.ports.markRules ? this.ports.markRules() : null,
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

  /** Only when there are VIPs to hold or to let go (the state lists those lvsd added). */
  private async openAddressesIfNeeded(
    desired: DesiredState,
    state: ReconcileState,
  ): Promise<AddressClient | null> {
    const open = this.ports.openAddresses;
    if (!open) return null;
    const wanted = (desired.vips?.length ?? 0) > 0 || (state.vips?.length ?? 0) > 0;
    return wanted ? open() : null;
  }
}

/**
 * Plans against a saved table (`lvsd plan --state`): nothing is read from the kernel and
 * nothing written. The state is what lvsd remembers on that director (empty: nothing owned).
 */
export async function planOffline(
  actual: ActualState,
  desired: DesiredState,
  options: PassOptions,
  state: ReconcileState = emptyState(),
): Promise<ReconcileResult> {
  const timer = options.timer ?? new PhaseTimer();
  const context = planContext(state, options);
  const plan = await timer.time('plan', () => makePlan(desired, actual, context));
  const refused = checkMassRemoval(plan, context, options.policy);
  return { plan, warnings: [], ...(refused ? { refused } : {}) };
}

/** The planner's view of lvsd's state and policy at the time of a pass; shared by every kind of pass. */
export function planContext(state: ReconcileState, options: PassOptions): PlanContext {
  return {
    now: options.now ?? Date.now(),
    owned: new Set(state.owned),
    draining: state.draining,
    prune: options.policy.prune,
    drainTimeoutMs: options.policy.drainTimeoutMs,
    ownedVips: new Set(state.vips ?? []),
  };
}

/**
 * The state after a scoped pass: the scoped services' drains as the plan left them,
 * everything else as it was. The scoped services are desired, so they are owned.
 */
export function mergeScoped(
  state: ReconcileState,
  plan: Plan,
  scope: ReadonlySet<string>,
): ReconcileState {
  const draining = { ...state.draining };
  for (const id of scope) delete draining[id];
  Object.assign(draining, plan.next.draining);
  const owned = [...new Set([...state.owned, ...scope])];
  return { version: 2, owned, draining, ...(state.vips?.length ? { vips: state.vips } : {}) };
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
