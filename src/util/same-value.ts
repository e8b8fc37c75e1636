/**
 * Whether two JSON-shaped values are equal: primitives by identity, arrays element by
 * element, objects key by key (in any order). Compares values without building text, and
 * stops at the first difference: a reload compares 37k checks (health/manager.ts) and every
 * service (daemon/reload-scope.ts), a health pass compares lvsd's state before each write
 * (reconcile/state.ts). `skip`, when given, leaves out the object keys it names (with their
 * values) on both sides.
 */
export function sameValue(
  a: unknown,
  b: unknown,
  skip?: (key: string, value: unknown) => boolean,
): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b))
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((v, i) => sameValue(v, b[i], skip))
    );
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = (o: Record<string, unknown>) =>
    skip ? Object.keys(o).filter((k) => !skip(k, o[k])) : Object.keys(o);
  const leftKeys = keys(left);
  if (leftKeys.length !== keys(right).length) return false;
  return leftKeys.every((k) => sameValue(left[k], right[k], skip));
}
