/**
 * One reconcile pass, the single path by which lvsd changes the kernel: read the live
 * state, load lvsd's own state, plan, apply, remember. `lvsd apply`, the daemon's
 * reloads, health changes and drift repair all come through here.
 */
import type { IpvsClient } from '../ipvs/client.js';
import { PhaseTimer } from '../util/timings.js';
import { applyPlan, type ApplyReport } from './apply.js';
import { plan as makePlan, type ActualState, type DesiredState, type Plan } from './plan.js';
import { loadState, saveState } from './state.js';
import { readSysctls, writeSysctl } from '../ipvs/sysctl.js';
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
}

export interface SysctlAccess {
  read(names: readonly string[]): Promise<Record<string, number | null>>;
  write(name: string, value: number): Promise<void>;
}

export const procSysctls: SysctlAccess = { read: (names) => readSysctls(names), write: (name, value) => writeSysctl(name, value) };

export interface ReconcileResult {
  plan: Plan;
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

export async function reconcile(client: IpvsClient, options: ReconcileOptions): Promise<ReconcileResult> {
  let addresses = options.addresses;
  let opened = false;
  if (addresses === undefined) {
    // Opened only when there are VIPs to hold or to let go (the state file lists those lvsd added).
    const recorded = options.stateDir ? (await loadState(options.stateDir)).state.vips ?? [] : [];
    if ((options.desired.vips?.length ?? 0) > 0 || recorded.length > 0) {
      addresses = await openAddresses();
      opened = true;
    }
  }
  try {
    const read = () => readActual(client, options.desired, options.sysctls, addresses, options.markRules, options.readStats);
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
export async function reconcileAgainst(actual: ActualState, options: ReconcileOptions, client?: IpvsClient): Promise<ReconcileResult> {
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
  const report = await timer.time('write', () => applyPlan(client, plan, (options.sysctls ?? procSysctls).write, options.addresses ?? undefined));
  if (options.stateDir) {
    const vips = vipsHeldAfter(plan, report);
    await saveState(options.stateDir, { version: 1, owned: plan.next.owned, draining: plan.next.draining, ...(vips.length ? { vips } : {}) });
  }
  return { plan, report, warnings };
}
