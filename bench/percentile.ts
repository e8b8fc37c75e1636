/** The figures benchmarks take of their samples, one definition for every bench. */

/** The value at percentile `p` (0-100) of ascending `sorted`, nearest rank below; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** The median of `values` in any order (the upper one of an even count). */
export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}
