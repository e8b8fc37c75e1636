/**
 * The config loader as the daemon wants it: diagnostics formatted one per line
 * ("file:line:col: error: path: message"), the same text `lvsd validate` prints.
 */
import { loadConfig } from '../config/index.js';
import { formatDiagnostics } from '../config/diagnostics.js';
import type { ServiceMemo } from '../config/memo.js';
import type { ResolvedConfig } from '../config/resolved.js';

/** A config load, its diagnostics already formatted for people ("file:line: field: message"). */
export type LoadOutcome =
  | { ok: true; config: ResolvedConfig; warnings: string[] }
  | { ok: false; errors: string[]; warnings: string[] };

/** What the daemon loads its config with (loadConfigOutcome in production; tests pass their own). */
export type ConfigLoader = (path: string) => Promise<LoadOutcome>;

/**
 * One load; with a memo (the daemon's, one for its life) the services written as in the
 * last good load are recalled rather than checked and resolved again (config/memo.ts).
 */
export async function loadConfigOutcome(
  path: string,
  host?: string,
  memo?: ServiceMemo,
): Promise<LoadOutcome> {
  const result = await loadConfig(path, { ...(host ? { host } : {}), ...(memo ? { memo } : {}) });
  const lines = (diags: Parameters<typeof formatDiagnostics>[0]) =>
    diags.map((d) => formatDiagnostics([d]));
  if (!result.ok)
    return { ok: false, errors: lines(result.errors), warnings: lines(result.warnings) };
  return { ok: true, config: result.config, warnings: lines(result.warnings) };
}
