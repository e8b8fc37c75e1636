/** Where the fault suite's mutants come from, and its seed (LVSD_FAULT_SEED replays another run). */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SourceFile } from './mutants.js';

export const FAULT_SEED = Number(process.env.LVSD_FAULT_SEED ?? 20261206);

/** examples/*.yaml and examples/conf.d/*.yaml, sorted by name. */
export function exampleFiles(root = 'examples'): SourceFile[] {
  const read = (dir: string) =>
    readdirSync(dir)
      .filter((n) => n.endsWith('.yaml'))
      .sort()
      .map((n) => ({ name: join(dir, n), text: readFileSync(join(dir, n), 'utf8') }));
  return [...read(root), ...read(join(root, 'conf.d'))];
}
