/**
 * The glob(3) that keepalived's `include` uses (GLOB_BRACE, no GLOB_PERIOD): * ? [...]
 * within one path component, {a,b} alternatives expanded first and matched in the order
 * written, each alternative's matches sorted; names starting with "." only match a
 * pattern that starts with ".". The file system is passed in, so tests use a map of files.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface FileSystem {
  /** The file's text; throws (ENOENT, EISDIR, ...) when it cannot be read. */
  readFile(path: string): string;
  /** The names in a directory; throws when it is not one. */
  readdir(path: string): string[];
  exists(path: string): boolean;
  isDirectory(path: string): boolean;
}

/** {a,b} alternatives, nested ones too, in the order written ("a{1,2}" -> a1, a2). */
export function expandBraces(pattern: string): string[] {
  let depth = 0;
  let open = -1;
  const commas: number[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') i++;
    else if (c === '{' && depth++ === 0) open = i;
    else if (c === ',' && depth === 1) commas.push(i);
    else if (c === '}' && depth > 0 && --depth === 0) {
      if (commas.length === 0)
        return expandBraces(pattern.slice(i + 1)).map((t) => pattern.slice(0, i + 1) + t);
      const head = pattern.slice(0, open);
      const tail = pattern.slice(i + 1);
      const bounds = [open, ...commas, i];
      const parts = bounds.slice(1).map((end, k) => pattern.slice((bounds[k] as number) + 1, end));
      return parts.flatMap((part) => expandBraces(head + part + tail));
    }
  }
  return [pattern];
}

export function hasWildcard(segment: string): boolean {
  return /(^|[^\\])[*?[]/.test(segment);
}

function segmentRegex(segment: string): RegExp {
  let out = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] as string;
    if (c === '\\') out += escapeRegex(segment[++i] ?? '');
    else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = segment.indexOf(']', i + 2);
      if (end < 0) out += '\\[';
      else {
        const body = segment
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\');
        out += `[${body}]`;
        i = end;
      }
    } else out += escapeRegex(c);
  }
  return new RegExp(`^${out}$`);
}

function escapeRegex(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function matchSegments(fs: FileSystem, base: string, segments: string[]): string[] {
  const [segment, ...rest] = segments;
  if (segment === undefined) return [base];
  if (!hasWildcard(segment)) {
    const next = base === '' ? segment : join(base, segment.replace(/\\(.)/g, '$1'));
    return rest.length === 0 ? (fs.exists(next) ? [next] : []) : matchSegments(fs, next, rest);
  }
  let names: string[];
  try {
    names = fs.readdir(base === '' ? '.' : base);
  } catch {
    return [];
  }
  const regex = segmentRegex(segment);
  const wanted = names
    .filter((n) => regex.test(n) && (!n.startsWith('.') || segment.startsWith('.')))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return wanted.flatMap((n) => {
    const next = base === '' ? n : join(base, n);
    return rest.length === 0 ? [next] : fs.isDirectory(next) ? matchSegments(fs, next, rest) : [];
  });
}

/** The paths a pattern matches, in glob(3)'s order (absolute or relative to `dir`). */
export function glob(fs: FileSystem, pattern: string, dir: string): string[] {
  return expandBraces(pattern).flatMap((one) => {
    const absolute = one.startsWith('/');
    const segments = one.split('/').filter((s) => s !== '');
    return matchSegments(fs, absolute ? '/' : dir, segments);
  });
}

/** The machine's file system, for the commands. */
export const nodeFileSystem: FileSystem = {
  readFile: (path) => readFileSync(path, 'utf8'),
  readdir: (path) => readdirSync(path),
  exists: (path) => existsSync(path),
  isDirectory: (path) => {
    try {
      return statSync(path).isDirectory();
    } catch {
      return false;
    }
  },
};
