/**
 * lvsd's memory between runs (default /run/lvsd/state.json): which services it manages,
 * so that a service removed from the config is removed from the kernel while services
 * made by others are left alone; when each draining real began to drain, so a restart
 * neither cuts a drain short nor lets it run forever; and the VIPs it added. Lost state is
 * safe: owned services not in config are then treated as foreign, and drains restart
 * their clock.
 *
 * The StateStore is the one owner of that file and of the copy a long-running caller keeps
 * in memory; the Reconciler reads and writes lvsd's state through it alone.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { readJsonFile, writeJsonFile } from '../util/json-file.js';
import { sameValue } from '../util/same-value.js';
import type { Drains } from './types.js';

const Owned = z.array(z.string());
/** Addresses lvsd added ("10.0.0.1/32 on lvsd0"); absent in files from before VIPs. */
const Vips = z.array(z.string()).optional();

export const ReconcileStateSchema = z.object({
  version: z.literal(2),
  owned: Owned,
  draining: z.record(z.string(), z.record(z.string(), z.number())),
  vips: Vips,
});
export type ReconcileState = z.infer<typeof ReconcileStateSchema>;

/** Version 1 keyed drains by one string, "TCP 10.0.0.1:80 -> 192.168.10.2:80". */
const StateFileV1 = z.object({
  version: z.literal(1),
  owned: Owned,
  draining: z.record(z.string(), z.number()),
  vips: Vips,
});

const AnyStateFile = z.union([ReconcileStateSchema, StateFileV1]);

/** Default home of the state file: /run is tmpfs, so a reboot (which empties the IPVS table too) forgets it. */
export const DEFAULT_STATE_DIR = '/run/lvsd';

export const emptyState = (): ReconcileState => ({ version: 2, owned: [], draining: {} });

export function stateFilePath(stateDir: string): string {
  return join(stateDir, 'state.json');
}

export interface LoadedState {
  state: ReconcileState;
  /** Set when the file exists but cannot be used: the state is then empty. */
  warning?: string;
}

function fromV1(file: z.infer<typeof StateFileV1>): ReconcileState {
  const draining: Drains = {};
  for (const [key, since] of Object.entries(file.draining)) {
    const at = key.indexOf(' -> ');
    if (at < 0) continue;
    const service = key.slice(0, at);
    (draining[service] ??= {})[key.slice(at + 4)] = since;
  }
  return { version: 2, owned: file.owned, draining, ...(file.vips ? { vips: file.vips } : {}) };
}

export async function loadState(stateDir: string): Promise<LoadedState> {
  const path = stateFilePath(stateDir);
  const read = await readJsonFile(path, AnyStateFile);
  if (read.status === 'ok')
    return { state: read.value.version === 2 ? read.value : fromV1(read.value) };
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
 * The state file and the copy of it the last pass left. Full passes read the file again,
 * so an edit by another hand is picked up; scoped passes start from the copy: under load
 * every file access waits for a turn of a busy event loop, which was most of the time a
 * health decision took to reach the kernel. Without a directory (a plan against a saved
 * snapshot) there is no state: nothing owned, nothing draining, nothing written.
 */
export class StateStore {
  /** What the last read or write left; null before the first, and after a failed write. */
  private remembered: ReconcileState | null = null;

  constructor(readonly dir: string | null) {}

  /** The file as it is now. */
  async read(): Promise<LoadedState> {
    if (!this.dir) return { state: emptyState() };
    const loaded = await loadState(this.dir);
    this.remembered = loaded.warning ? null : loaded.state;
    return loaded;
  }

  /** The state as the last pass left it, or the file when nothing is remembered. */
  async current(): Promise<LoadedState> {
    return this.remembered ? { state: this.remembered } : this.read();
  }

  /** Writes the file unless it already holds this state; a failed write forgets the copy. */
  async write(state: ReconcileState): Promise<void> {
    if (!this.dir) return;
    if (this.remembered && sameState(this.remembered, state)) return;
    this.remembered = null;
    await saveState(this.dir, state);
    this.remembered = state;
  }
}

/**
 * Whether two states say the same (the order of drains' keys aside; no VIPs listed is none),
 * stopping at the first difference. A health pass in a mass failure writes a new drain each
 * time, and comparing the two states as JSON text cost two stringifies of the whole state a
 * pass (issue 15).
 */
export function sameState(a: ReconcileState, b: ReconcileState): boolean {
  return (
    a.version === b.version &&
    sameValue(a.owned, b.owned) &&
    sameValue(a.vips ?? [], b.vips ?? []) &&
    sameValue(a.draining, b.draining)
  );
}
