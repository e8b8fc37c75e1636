/**
 * A check worker's results on their way to the main thread, in a compact form: the numbers
 * of each result in one Float64Array (its buffer is transferred, not copied) and each
 * distinct message text once per batch ("connected" for nearly every result of a healthy
 * fleet). Structured-cloning an array of six mixed fields per result, strings among them,
 * was a visible part of a check's cost on both threads at ten thousand checks a second.
 */
import type { CheckRun } from './attempt.js';

/** A batch as posted: `numbers` holds STRIDE numbers per result (see ResultBatch.push). */
export interface PostedResults {
  numbers: Float64Array;
  messages: string[];
}

/** Per result: check id, flags (1 ok, 2 timed out), duration in ms, weight (-1: none), message index. */
const STRIDE = 5;
const OK = 1;
const TIMED_OUT = 2;

/** Results gathered on a worker until they are posted. */
export class ResultBatch {
  private numbers = new Float64Array(STRIDE * 256);
  private length = 0;
  private messages: string[] = [];
  private messageIndex = new Map<string, number>();

  /** Results gathered. */
  get size(): number {
    return this.length / STRIDE;
  }

  push(id: number, result: CheckRun): void {
    if (this.length + STRIDE > this.numbers.length) {
      const grown = new Float64Array(this.numbers.length * 2);
      grown.set(this.numbers);
      this.numbers = grown;
    }
    let index = this.messageIndex.get(result.message);
    if (index === undefined) {
      index = this.messages.push(result.message) - 1;
      this.messageIndex.set(result.message, index);
    }
    const at = this.length;
    this.numbers[at] = id;
    this.numbers[at + 1] = (result.ok ? OK : 0) | (result.timedOut ? TIMED_OUT : 0);
    this.numbers[at + 2] = result.durationMs;
    this.numbers[at + 3] = result.weight ?? -1;
    this.numbers[at + 4] = index;
    this.length += STRIDE;
  }

  /** The results gathered, as posted (the batch is empty again); `numbers` may be transferred. */
  take(): PostedResults {
    const taken = { numbers: this.numbers.slice(0, this.length), messages: this.messages };
    this.length = 0;
    this.messages = [];
    this.messageIndex.clear();
    return taken;
  }
}

/** Calls `each` with every result of a posted batch, in the order they were pushed. */
export function eachResult(
  batch: PostedResults,
  each: (id: number, result: CheckRun) => void,
): void {
  const { numbers, messages } = batch;
  for (let at = 0; at < numbers.length; at += STRIDE) {
    const flags = numbers[at + 1] as number;
    const result: CheckRun = {
      ok: (flags & OK) !== 0,
      durationMs: numbers[at + 2] as number,
      timedOut: (flags & TIMED_OUT) !== 0,
      message: messages[numbers[at + 4] as number] as string,
    };
    const weight = numbers[at + 3] as number;
    if (weight >= 0) result.weight = weight;
    each(numbers[at] as number, result);
  }
}
