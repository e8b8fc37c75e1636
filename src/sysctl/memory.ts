/**
 * Sysctls in memory, for tests: a read gives what was last set (null for a name never set,
 * as /proc/sys has nothing for a sysctl that does not exist), a write sets it. `values` is
 * the caller's object, so a test can seed it and look at it afterwards.
 */
import type { SysctlAccess } from './access.js';

export class MemorySysctls implements SysctlAccess {
  constructor(readonly values: Record<string, number | null> = {}) {}

  // Bound to this instance: the reconciler hands `write` on by itself, as it does procfs's.
  readonly read = async (names: readonly string[]): Promise<Record<string, number | null>> =>
    Object.fromEntries(names.map((name) => [name, this.values[name] ?? null]));

  readonly write = async (name: string, value: number): Promise<void> => {
    this.values[name] = value;
  };
}
