/**
 * Diagnostics: what validation says about a config, each naming file, line, column and the
 * field's path, formatted like compilers do ("file:line:col: error: path: message") so
 * editors and CI annotate the right line.
 */
import { excerpt, quoted } from './excerpt.js';

/**
 * Codes of the diagnostics that programs act on, beyond showing them:
 * - no-services: the config declares no service, so applying it removes every service
 *   lvsd manages (the loaded config also says so: ResolvedConfig.declaresNoServices).
 */
export type DiagnosticCode = 'no-services';

export interface Diagnostic {
  severity: 'error' | 'warning';
  /** Set on the few diagnostics that programs act on; most have none. */
  code?: DiagnosticCode;
  file: string;
  line: number;
  column: number;
  /** "services.web.reals[2].weight"; "" for the whole file. */
  path: string;
  message: string;
}

/** A path into the config data: object keys and array indexes. */
export type DataPath = ReadonlyArray<string | number>;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * services.web.reals[2].weight; keys that are not plain words are quoted:
 * hosts["lb1.example.com"]. Keys are cut and escaped as values are (excerpt.ts).
 */
export function formatPath(path: DataPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += `${out === '' ? '' : '.'}${excerpt(segment)}`;
    else out += `[${quoted(segment)}]`;
  }
  return out;
}

const COLORS = {
  error: '\u001b[31m',
  warning: '\u001b[33m',
  bold: '\u001b[1m',
  dim: '\u001b[2m',
  reset: '\u001b[0m',
};

/** One line per diagnostic: errors, then warnings, each in file order (summarize() counts them). */
export function formatDiagnostics(
  diagnostics: Diagnostic[],
  options: { color?: boolean } = {},
): string {
  const paint = (code: string, text: string) =>
    options.color ? `${code}${text}${COLORS.reset}` : text;
  const lines = sortDiagnostics(diagnostics).map((d) => {
    const where = paint(COLORS.bold, `${d.file}:${d.line}:${d.column}:`);
    const severity = paint(COLORS[d.severity], `${d.severity}:`);
    const path = d.path ? `${paint(COLORS.dim, d.path)}: ` : '';
    return `${where} ${severity} ${path}${d.message}`;
  });
  return lines.join('\n');
}

/** A one-line count: "2 errors, 1 warning". */
export function summarize(diagnostics: Diagnostic[]): string {
  const count = (severity: Diagnostic['severity']) =>
    diagnostics.filter((d) => d.severity === severity).length;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  return `${plural(count('error'), 'error')}, ${plural(count('warning'), 'warning')}`;
}

export function sortDiagnostics(diagnostics: Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort(
    (a, b) =>
      (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1) ||
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      a.line - b.line ||
      a.column - b.column,
  );
}

/** Removes exact repeats (the same finding reached through two passes). */
export function uniqueDiagnostics(diagnostics: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diagnostics.filter((d) => {
    const key = `${d.severity}|${d.file}|${d.line}|${d.column}|${d.path}|${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
