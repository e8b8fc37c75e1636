/**
 * lvsd's memory between runs (default /run/lvsd/state.json): which services it manages,
 * so that a service removed from the config is removed from the kernel while services
 * made by others are left alone; and when each draining real began to drain, so a
 * restart neither cuts a drain short nor lets it run forever. Lost state is safe: owned
 * services not in config are then treated as foreign, and drains restart their clock.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { readJsonFile, writeJsonFile } from '../util/json-file.js';

const StateFile = z.object({
  version: z.literal(1),
  owned: z.array(z.string()),
  draining: z.record(z.string(), z.number()),
  /** Addresses lvsd added ("10.0.0.1/32 on lvsd0"); absent in files from before VIPs. */
  vips: z.array(z.string()).optional(),
});
export type ReconcileState = z.infer<typeof StateFile>;

/** Default home of the state file: /run is tmpfs, so a reboot (which empties the IPVS table too) forgets it. */
export const DEFAULT_STATE_DIR = '/run/lvsd';

export const emptyState = (): ReconcileState => ({ version: 1, owned: [], draining: {} });

export function stateFilePath(stateDir: string): string {
  return join(stateDir, 'state.json');
}

export async function loadState(
  stateDir: string,
): Promise<{ state: ReconcileState; warning?: string }> {
  const path = stateFilePath(stateDir);
  const read = await readJsonFile(path, StateFile);
  if (read.status === 'ok') return { state: read.value };
  if (read.status === 'absent') return { state: emptyState() };
  if (read.status === 'unreadable')
    return {
      state: emptyState(),
      warning: `cannot read ${path}: ${read.reason}; treating every unlisted service as foreign`,
    };
  return {
    state: emptyState(),
    warning: `${path} is not a valid lvsd state file; treating every unlisted service as foreign`,
  };
}

/** Written whole or not at all: a crash never leaves half a state file. */
export async function saveState(stateDir: string, state: ReconcileState): Promise<void> {
  await writeJsonFile(stateFilePath(stateDir), state);
}

/**
 * The state as the last pass read or wrote it, kept by a long-running caller (the daemon).
 * A scoped pass starts from it instead of reading the file: under load every file access
 * waits for a turn of a busy event loop, which was most of the time a health decision
 * took to reach the kernel. Full passes read the file again, so an edit by another hand is
 * picked up at the next one. Null: nothing remembered (before the first pass, or after a
 * failed write).
 */
export class StateMemory {
  state: ReconcileState | null = null;
}
