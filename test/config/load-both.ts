/**
 * Loading a config text through both parsing paths (the fast reader and `yaml`), which
 * must report the same diagnostics and resolve to the same config.
 */
import { expect } from 'vitest';
import { loadConfigText, type LoadResult } from '../../src/config/index.js';
import type { Diagnostic } from '../../src/config/diagnostics.js';

/** YAML text from lines, with the final newline. */
export const y = (...lines: string[]) => `${lines.join('\n')}\n`;

export function load(text: string, options: { host?: string | null } = {}): LoadResult {
  const fast = loadConfigText(text, 'lvsd.yaml', { ...options, parser: 'auto' });
  const slow = loadConfigText(text, 'lvsd.yaml', { ...options, parser: 'yaml' });
  const diags = (r: LoadResult): Diagnostic[] => (r.ok ? r.warnings : [...r.errors, ...r.warnings]);
  expect(diags(fast), 'both parsing paths report the same').toStrictEqual(diags(slow));
  expect(fast.ok).toBe(slow.ok);
  if (fast.ok && slow.ok)
    expect(JSON.parse(JSON.stringify(fast.config))).toStrictEqual(
      JSON.parse(JSON.stringify(slow.config)),
    );
  return fast;
}
