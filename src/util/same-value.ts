/**
 * Whether two JSON-shaped values are equal: primitives by identity, arrays element by
 * element, objects key by key (in any order). Compares values without building text, and
 * stops at the first difference: a reload compares 37k checks (health/manager.ts), a health
 * pass compares lvsd's state before each write (reconcile/state.ts).
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a))
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) =>
    sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
  );
}
