/**
 * Several checks of one real run at once under one signal: `all` runs its parts so, http
 * its URLs. The first failure decides, named ("PART: reason"), and ends the others; an
 * abort from outside (timeout, stop) throws as a single check's would.
 */
import type { CheckOutcome, CheckSignal } from '../types.js';
import { abortError, errorText } from '../types.js';

/** Every outcome in order when all passed; else the first failure's named reason. */
export type TogetherResult =
  | { ok: true; outcomes: CheckOutcome[] }
  | { ok: false; message: string };

export async function runTogether<T>(
  items: readonly T[],
  name: (item: T) => string,
  run: (item: T, signal: CheckSignal) => Promise<CheckOutcome>,
  signal: CheckSignal,
): Promise<TogetherResult> {
  const together = new AbortController();
  const onAbort = () => together.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const outcomes = await Promise.all(
      items.map(async (item) => {
        let outcome: CheckOutcome;
        try {
          outcome = await run(item, together.signal);
        } catch (err) {
          outcome = { ok: false, message: errorText(err) };
        }
        if (!outcome.ok && !together.signal.aborted) {
          together.abort(new Error(outcome.message));
          throw new Error(`${name(item)}: ${outcome.message}`);
        }
        return outcome;
      }),
    );
    // Every check returned, some of them cut short: the whole was aborted from outside.
    if (together.signal.aborted) throw abortError(signal);
    return { ok: true, outcomes };
  } catch (err) {
    if (signal.aborted) throw abortError(signal);
    return { ok: false, message: errorText(err) };
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
