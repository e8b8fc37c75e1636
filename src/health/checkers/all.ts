/**
 * all: several checks of one real, run together at each interval; up when every one
 * passes (keepalived: a real_server with several checkers). The first failure decides and
 * ends the others; the reason names the part that failed. Timing, rise and fall are the
 * `all` check's; each part's port, address and source default to the `all` check's.
 */
import type { CheckConfig, CheckPart } from '../../config/check.js';
import type { Checker, CheckOutcome, CheckSignal, CheckTarget, PreparedCheck } from '../types.js';
import { runTogether } from './together.js';

type AllConfig = Extract<CheckConfig, { type: 'all' }>;

/** A part as a check of its own: the `all` check's timing, the part's settings. */
function partConfig(config: AllConfig, part: CheckPart): CheckConfig {
  const { interval, timeout, rise, fall, initial, on_failure } = config;
  return { interval, timeout, rise, fall, initial, on_failure, ...part } as CheckConfig;
}

function partTarget(target: CheckTarget, part: CheckPart): CheckTarget {
  const source = part.source ?? target.source;
  return {
    ...target,
    address: part.address ?? target.address,
    port: part.port ?? target.port,
    ...(source ? { source } : {}),
  };
}

function label(part: CheckPart, index: number, parts: readonly CheckPart[]): string {
  const same = parts.filter((p) => p.type === part.type).length > 1;
  return same ? `${part.type} #${index + 1}` : part.type;
}

async function runAll(
  parts: { name: string; run: PreparedCheck }[],
  signal: CheckSignal,
): Promise<CheckOutcome> {
  const result = await runTogether(
    parts,
    (part) => part.name,
    async (part, together) => part.run(together),
    signal,
  );
  if (!result.ok) return result;
  const weight = result.outcomes.find((o) => o.weight !== undefined)?.weight;
  return {
    ok: true,
    message: result.outcomes.map((o, i) => `${parts[i]?.name}: ${o.message}`).join('; '),
    ...(weight === undefined ? {} : { weight }),
  };
}

export const allChecker: Checker<'all'> = {
  type: 'all',
  prepare(config, target, prepareOther) {
    const parts = config.checks.map((part, i) => ({
      name: label(part, i, config.checks),
      run: prepareOther(partConfig(config, part), partTarget(target, part)),
    }));
    const run: PreparedCheck = (signal) => runAll(parts, signal);
    const watched = parts.flatMap((p) => (p.run.watch ? [p.run.watch] : []));
    if (watched.length > 0)
      run.watch = (wake) => {
        const stops = watched.map((watch) => watch(wake));
        return () => {
          for (const stop of stops) stop();
        };
      };
    return run;
  },
};
