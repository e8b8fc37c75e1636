/**
 * all: several checks of one real, run together at each interval; up when every one
 * passes (keepalived: a real_server with several checkers). The first failure decides and
 * ends the others; the reason names the part that failed. Timing, rise and fall are the
 * `all` check's; each part's port, address and source default to the `all` check's.
 */
import type { CheckConfig, CheckPart } from '../../config/check.js';
import type { Checker, CheckOutcome, CheckSignal, CheckTarget, PreparedCheck } from '../types.js';
import { abortError, errorText } from '../types.js';

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
  const together = new AbortController();
  const onAbort = () => together.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const outcomes = await Promise.all(
      parts.map(async ({ name, run }) => {
        let outcome: CheckOutcome;
        try {
          outcome = await run(together.signal);
        } catch (err) {
          outcome = { ok: false, message: errorText(err) };
        }
        if (!outcome.ok && !together.signal.aborted) {
          together.abort();
          throw new Error(`${name}: ${outcome.message}`);
        }
        return { name, outcome };
      }),
    );
    // Every part returned, some of them cut short: the check itself was aborted.
    if (together.signal.aborted) throw abortError(signal);
    const weight = outcomes.find((o) => o.outcome.weight !== undefined)?.outcome.weight;
    return {
      ok: true,
      message: outcomes.map((o) => `${o.name}: ${o.outcome.message}`).join('; '),
      ...(weight === undefined ? {} : { weight }),
    };
  } catch (err) {
    if (signal.aborted) throw abortError(signal);
    return { ok: false, message: errorText(err) };
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
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
