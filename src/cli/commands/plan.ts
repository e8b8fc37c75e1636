/**
 * `lvsd plan`: what `apply` would change, without changing it. Exit codes follow
 * `terraform plan -detailed-exitcode`: 0 no changes, 2 changes pending, 1 error.
 * With `--state SNAPSHOT.json` (from `lvsd ls --json`) it plans against a saved table,
 * so CI can show what a merge would do on each director without root or netlink.
 */
import type { Command } from 'commander';
import { parseSnapshot, type SnapshotRead } from '../../reconcile/snapshot.js';
import { formatPlan, planToJson } from '../../reconcile/format.js';
import { isEmptyPlan } from '../../reconcile/plan.js';
import { planOffline, type PassOptions, type ReconcileResult } from '../../reconcile/reconciler.js';
import type { DesiredState } from '../../reconcile/types.js';
import { PhaseTimer } from '../../util/timings.js';
import type { CommandModule } from '../command.js';
import { reportError } from '../errors.js';
import {
  addConfigOptions,
  loadDesired,
  openKernel,
  printTimings,
  printWarnings,
  processIo,
  readInput,
  reconcilerFor,
  refusedJson,
  type CommandIo,
  type ConfigOptions,
} from '../reconcile-command.js';

export interface PlanOptions extends ConfigOptions {
  state?: string;
}

/** Reads a snapshot written by `lvsd ls --json` ("-": standard input). */
export async function readSnapshot(path: string, io: CommandIo): Promise<SnapshotRead> {
  let json: unknown;
  const source = path === '-' ? 'standard input' : path;
  try {
    json = JSON.parse(await readInput(path, io));
  } catch (err) {
    throw new Error(`cannot read the snapshot ${source}: ${(err as Error).message}`);
  }
  return parseSnapshot(json, source);
}

/** The snapshot was taken on another director than the config entry the plan is for. */
function hostMismatch(snapshot: SnapshotRead, host: string | null): string[] {
  if (!snapshot.host || !host || snapshot.host === host) return [];
  return [`the snapshot was taken on ${snapshot.host}, but this plan is for hosts.${host}`];
}

async function planAgainstKernel(
  desired: DesiredState,
  settings: PassOptions,
  options: PlanOptions,
  io: CommandIo,
): Promise<ReconcileResult | null> {
  const client = await openKernel('plan', io, options);
  if (!client) return null;
  try {
    return await reconcilerFor(io, client, options.stateDir).pass(desired, settings);
  } finally {
    await client.close();
  }
}

export async function runPlan(options: PlanOptions, io: CommandIo = processIo): Promise<number> {
  const timer = new PhaseTimer();
  const loaded = await loadDesired(options, io, timer);
  if (!loaded.ok) return 1;
  // plan compares settings only: skip decoding counters (half of a big read).
  const settings: PassOptions = { policy: loaded.policy, dryRun: true, readStats: false, timer };
  let result: ReconcileResult | null;
  try {
    if (options.state) {
      const path = options.state;
      const snapshot = await timer.time('read', () => readSnapshot(path, io));
      const offline = await planOffline(
        snapshot.actual,
        loaded.desired,
        settings,
        snapshot.state ?? undefined,
      );
      const warnings = [...snapshot.warnings, ...hostMismatch(snapshot, loaded.config.host)];
      result = { ...offline, warnings: [...warnings, ...offline.warnings] };
    } else {
      result = await planAgainstKernel(loaded.desired, settings, options, io);
    }
  } catch (err) {
    reportError({ json: options.json, ...io }, 'plan', (err as Error).message);
    return 1;
  }
  if (!result) return 1;
  printWarnings(io, result.warnings);
  if (result.refused)
    io.writeError(`warning: apply would refuse this plan: ${result.refused.message}\n`);
  if (options.json) {
    const refused = result.refused ? refusedJson(result.refused) : null;
    io.write(`${JSON.stringify({ ...planToJson(result.plan), refused }, null, 2)}\n`);
  } else io.write(`${formatPlan(result.plan, io.palette)}\n`);
  printTimings(options, io, timer);
  return isEmptyPlan(result.plan) ? 0 : 2;
}

export const planCommand: CommandModule = {
  register(program: Command, setExitCode) {
    addConfigOptions(
      program
        .command('plan')
        .description(
          'show what apply would change (exit 0: nothing, 2: changes pending, 1: error)',
        ),
    )
      .option(
        '--state <snapshot.json>',
        'plan against a table saved with `lvsd ls --json` instead of the live kernel',
      )
      .action(async (options: PlanOptions) => setExitCode(await runPlan(options)));
  },
};
