/**
 * `lvsd apply`: validate, read the kernel, plan, apply, report. An invalid config never
 * reaches the kernel. Idempotent: a second apply makes no kernel writes. Exit 0 when
 * everything applied, 1 when anything failed (the rest still applied; the next apply
 * converges); with --dry-run, plan's codes (0 nothing to do, 2 changes pending).
 */
import type { Command } from 'commander';
import { totalWrites, type ApplyReport } from '../../reconcile/apply.js';
import { formatApplyReport, formatPlan, planToJson } from '../../reconcile/format.js';
import { isEmptyPlan } from '../../reconcile/plan.js';
import type { ReconcileResult } from '../../reconcile/reconciler.js';
import { PhaseTimer } from '../../util/timings.js';
import type { CommandModule } from '../command.js';
import { reportError } from '../errors.js';
import { takeWriterLock, type WriterLock } from '../../util/writer-lock.js';
import {
  addConfigOptions,
  loadDesired,
  openKernel,
  printTimings,
  printWarnings,
  processIo,
  reconcilerFor,
  refusalText,
  refusedJson,
  type CommandIo,
  type ConfigOptions,
} from '../reconcile-command.js';

export interface ApplyOptions extends ConfigOptions {
  dryRun?: boolean;
  allowMassRemoval?: boolean;
}

/** What was done, in the order it was done: sysctls, then IPVS operations and addresses. */
function appliedJson(report: ApplyReport): object[] {
  const error = (message: string | undefined) => (message ? { error: message } : {});
  return [
    ...report.sysctls.map((o) => ({
      action: 'change',
      op: 'set-sysctl',
      object: `${o.change.name}=${o.change.to}`,
      ...error(o.error),
    })),
    ...report.outcomes.map((o) => ({
      action: o.step.action,
      op: o.step.op.op,
      service: o.step.service,
      ...(o.step.dest ? { dest: o.step.dest } : {}),
      ...error(o.error?.message),
    })),
    ...report.vips.map((o) => ({
      action: o.step.action,
      op: o.step.op.op,
      object: o.step.object,
      ...error(o.error),
    })),
  ];
}

function applyJson(result: ReconcileResult): object {
  const report = result.report;
  return {
    plan: planToJson(result.plan),
    applied: report ? appliedJson(report) : null,
    writes: report ? totalWrites(report) : 0,
    failed: report?.failed ?? 0,
    refused: result.refused ? refusedJson(result.refused) : null,
  };
}

function printResult(options: ApplyOptions, io: CommandIo, result: ReconcileResult): void {
  if (result.refused && !options.json)
    io.writeError(`lvsd apply: ${refusalText(result.refused, '--allow-mass-removal')}\n`);
  if (options.json) io.write(`${JSON.stringify(applyJson(result), null, 2)}\n`);
  else if (!result.report || isEmptyPlan(result.plan))
    io.write(`${formatPlan(result.plan, io.palette)}\n`);
  else
    io.write(
      `${formatPlan(result.plan, io.palette)}\n\n${formatApplyReport(result.report, io.palette)}\n`,
    );
}

export async function runApply(options: ApplyOptions, io: CommandIo = processIo): Promise<number> {
  const timer = new PhaseTimer();
  const loaded = await loadDesired(options, io, timer);
  if (!loaded.ok) return 1;
  const client = await openKernel('apply', io, options);
  if (!client) return 1;
  let result: ReconcileResult;
  let lock: WriterLock | null = null;
  try {
    // A dry run writes nothing: it waits for no one.
    if (!options.dryRun) lock = await takeWriterLock(options.stateDir);
    result = await reconcilerFor(io, client, options.stateDir).pass(loaded.desired, {
      policy: {
        ...loaded.policy,
        allowMassRemoval: loaded.policy.allowMassRemoval || Boolean(options.allowMassRemoval),
      },
      dryRun: Boolean(options.dryRun),
      // apply compares settings only: skip decoding counters (half of a big read).
      readStats: false,
      timer,
    });
  } catch (err) {
    reportError({ json: options.json, ...io }, 'apply', (err as Error).message);
    return 1;
  } finally {
    await lock?.release();
    await client.close();
  }
  printWarnings(io, result.warnings);
  printResult(options, io, result);
  printTimings(options, io, timer);
  if (result.refused) return 1;
  if (options.dryRun) return isEmptyPlan(result.plan) ? 0 : 2;
  return result.report && result.report.failed > 0 ? 1 : 0;
}

export const applyCommand: CommandModule = {
  register(program: Command, setExitCode) {
    addConfigOptions(
      program.command('apply').description('make the kernel table match the configuration'),
    )
      .option('--dry-run', 'plan only, change nothing (same as lvsd plan)')
      .option(
        '--allow-mass-removal',
        'apply even when the change removes every managed service or more than reconcile.max_removal',
      )
      .action(async (options: ApplyOptions) => setExitCode(await runApply(options)));
  },
};
