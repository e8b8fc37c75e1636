/**
 * Durations in the config: "2s", "500ms", "1m", "1h", "1m30s", or a bare number of seconds.
 * Parsed to milliseconds. Written by hand because no kept dependency parses this form.
 */
import { z } from 'zod';
import { quoted } from './excerpt.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;

/** Milliseconds, or null when the text is not a duration. */
export function parseDuration(value: string | number): number | null {
  if (typeof value === 'number')
    return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : null;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  if (text === '') return null;
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let match = PART.exec(text); match; match = PART.exec(text)) {
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
    consumed = PART.lastIndex;
  }
  return consumed === text.length ? Math.round(total) : null;
}

/** "1m30s" style text for a number of milliseconds, for messages and plans. */
export function formatDuration(ms: number): string {
  if (ms % 1000 !== 0 || ms === 0) return `${ms}ms`;
  const s = ms / 1000;
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

/** A zod field for a duration; the parsed value is milliseconds. */
export const Duration = z
  .union([z.number().nonnegative(), z.string()])
  .transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === null) {
      ctx.addIssue({
        code: 'custom',
        message:
          `${typeof value === 'string' ? quoted(value) : value} is not a duration: ` +
          'write 2s, 500ms, 1m, 1h or a number of seconds',
      });
      return z.NEVER;
    }
    return ms;
  })
  .meta({
    description: 'A duration: "2s", "500ms", "1m", "1h", "1m30s", or a number of seconds.',
    examples: ['2s', '500ms', 5],
  });
