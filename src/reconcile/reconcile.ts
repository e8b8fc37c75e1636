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
export async function readActual(client: IpvsClient, desired: DesiredState, sysctlAccess: SysctlAccess = procSysctls): Promise<ActualState> {
  const sysctlNames = [...new Set([...ADVISED_SYSCTLS, ...Object.keys(desired.sysctls ?? {})])];
  const [table, timeouts, daemons, sysctls] = await Promise.all([
    client.readTable(),
    desired.timeouts ? client.getTimeouts() : undefined,
    desired.daemons ? client.listDaemons() : undefined,
    sysctlAccess.read(sysctlNames),
  ]);
  return { table, sysctls, ...(timeouts ? { timeouts } : {}), ...(daemons ? { daemons } : {}) };
}

export async function reconcile(client: IpvsClient, options: ReconcileOptions): Promise<ReconcileResult> {
  const actual = await (options.timer ?? new PhaseTimer()).time('read', () => readActual(client, options.desired, options.sysctls));
  return reconcileAgainst(actual, options, client);
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
    }),
  );
  if (options.dryRun || !client) return { plan, warnings };
  const report = await timer.time('write', () => applyPlan(client, plan, (options.sysctls ?? procSysctls).write));
  if (options.stateDir) {
    await saveState(options.stateDir, { version: 1, owned: plan.next.owned, draining: plan.next.draining });
  }
  return { plan, report, warnings };
}
