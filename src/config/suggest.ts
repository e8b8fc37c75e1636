/**
 * "Did you mean": the closest known word to a typo, by optimal string alignment distance
 * (Levenshtein plus transpositions, so 'shceduler' is one edit from 'scheduler').
 * No dependency lvsd keeps offers this, and it is short.
 */

export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(
        (d[i - 1]![j] as number) + 1,
        (d[i]![j - 1] as number) + 1,
        (d[i - 1]![j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, (d[i - 2]![j - 2] as number) + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length] as number;
}

/** The closest candidate within a distance that still reads as a typo, or null. */
export function closest(word: string, candidates: readonly string[]): string | null {
  const lower = word.toLowerCase();
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const other = candidate.toLowerCase();
    // A word that extends a key (ip_forwarding for ip_forward) is as close as a typo.
    const extends_ =
      Math.min(lower.length, other.length) >= 4 &&
      (lower.startsWith(other) || other.startsWith(lower));
    // The distance is at least the difference in length: past the limit it need not be
    // computed, which keeps a huge value (its table would be length x length) cheap.
    if (!extends_ && Math.abs(lower.length - other.length) > limit) continue;
    const distance = extends_ ? 1 : editDistance(lower, other);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== null && bestDistance <= limit ? best : null;
}

/** " — did you mean 'x'?" or "" */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const match = closest(word, candidates);
  return match === null ? '' : ` — did you mean '${match}'?`;
}
