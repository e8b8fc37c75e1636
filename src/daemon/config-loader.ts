/**
 * The config loader as the daemon wants it: diagnostics formatted one per line
 * ("file:line:col: error: path: message"), the same text `lvsd validate` prints.
 */
import { formatDiagnostics, loadConfig } from '../config/index.js';
import type { LoadOutcome } from './ports.js';

export async function loadConfigOutcome(path: string, host?: string): Promise<LoadOutcome> {
  const result = await loadConfig(path, host ? { host } : {});
  const lines = (diags: Parameters<typeof formatDiagnostics>[0]) =>
    diags.map((d) => formatDiagnostics([d]));
  if (!result.ok)
    return { ok: false, errors: lines(result.errors), warnings: lines(result.warnings) };
  return { ok: true, config: result.config, warnings: lines(result.warnings) };
}
