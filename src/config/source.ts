/**
 * One config file: its data, and where each path of that data sits in the text.
 *
 * Two paths, one result. The fast path (yaml-fast.ts) reads the plain subset of YAML
 * without positions; the `yaml` path builds a Document, which knows every node's range.
 * A file is read by the fast path when it can be. Positions are needed only when there is
 * something to report: then locate() reads the text once more with the fast reader's
 * PositionMap (lazily, once per file). Files outside the subset, and files with syntax
 * errors, go through `yaml` from the start, and locate() walks their Document.
 */
import { createRequire } from 'node:module';
import type { Document, LineCounter, Node, Pair } from 'yaml';
import type { DataPath, Diagnostic } from './diagnostics.js';
import { excerpt } from './excerpt.js';
import {
  type EntryMemo,
  fastParseYaml,
  fastParseYamlWithPositions,
  type Pos,
  type PositionMap,
} from './yaml-fast.js';

export type ParserChoice = 'auto' | 'yaml';

type YamlPackage = typeof import('yaml');
let yamlPackage: YamlPackage | null = null;
/**
 * The `yaml` package, loaded on first use: a config in the fast reader's subset never needs
 * it, and its 48 modules were a visible part of a fresh `lvsd apply` in the lab (issue 21).
 */
function yaml(): YamlPackage {
  yamlPackage ??= createRequire(import.meta.url)('yaml') as YamlPackage;
  return yamlPackage;
}

export interface Position {
  line: number;
  column: number;
}

export class SourceFile {
  private document: { doc: Document; lines: LineCounter } | null = null;
  private fastPositions: { value: unknown; positions: PositionMap } | null = null;

  constructor(
    readonly file: string,
    readonly text: string,
    readonly data: unknown,
    /** Which path produced `data`: 'fast' or 'yaml'. */
    readonly parsedBy: 'fast' | 'yaml',
  ) {}

  /**
   * Where a path is: at its key (for unknown keys, duplicates) or its value. A path that does
   * not exist (a missing key) is placed at the nearest part of it that does.
   */
  locate(path: DataPath, at: 'key' | 'value' = 'value'): Position {
    if (this.parsedBy === 'fast') {
      this.fastPositions ??= fastParseYamlWithPositions(this.text);
      if (this.fastPositions) return locateFast(this.fastPositions, path, at);
    }
    const { doc, lines } = this.parsed();
    let node: unknown = doc.contents;
    let position = node ? ((node as Node).range?.[0] ?? 0) : 0;
    for (let i = 0; i < path.length; i++) {
      const segment = path[i];
      const last = i === path.length - 1;
      if (yaml().isMap(node)) {
        const pair = this.pairOf(node.items as Pair[], String(segment));
        if (!pair) break;
        const keyNode = pair.key as Node | null;
        const keyStart = keyNode?.range?.[0];
        position = keyStart ?? position;
        if (last && at === 'key') break;
        node = pair.value;
        const valueStart = (node as Node | null)?.range?.[0];
        if (last && valueStart !== undefined) position = valueStart;
      } else if (yaml().isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
        node = node.items[segment];
        position = (node as Node | null)?.range?.[0] ?? position;
      } else {
        break;
      }
    }
    const { line, col } = lines.linePos(position);
    return { line, column: col };
  }

  /** Big mappings (`services:`) are indexed on first use, so placing every service stays linear. */
  private readonly pairIndexes = new WeakMap<Pair[], Map<string, Pair>>();

  private pairOf(items: Pair[], key: string): Pair | undefined {
    if (items.length <= 20) return items.find((p) => keyText(p.key) === key);
    let index = this.pairIndexes.get(items);
    if (!index) {
      index = new Map();
      for (const p of items) if (!index.has(keyText(p.key))) index.set(keyText(p.key), p);
      this.pairIndexes.set(items, index);
    }
    return index.get(key);
  }

  private parsed(): { doc: Document; lines: LineCounter } {
    if (!this.document) {
      const lines = new (yaml().LineCounter)();
      this.document = {
        doc: yaml().parseDocument(this.text, { lineCounter: lines, merge: true }),
        lines,
      };
    }
    return this.document;
  }

  /** Hands over a Document already built by the yaml path, so locate() does not build it again. */
  adopt(doc: Document, lines: LineCounter): void {
    this.document = { doc, lines };
  }
}

/** The same walk as over yaml's Document, over the positions the fast reader recorded. */
function locateFast(
  { value, positions }: { value: unknown; positions: PositionMap },
  path: DataPath,
  at: 'key' | 'value',
): Position {
  let node = value;
  let position: Pos = positions.root;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i] as string | number;
    const last = i === path.length - 1;
    if (Array.isArray(node)) {
      if (typeof segment !== 'number' || segment >= node.length) break;
      position = positions.itemAt(node, segment) ?? position;
      node = node[segment];
    } else if (node !== null && typeof node === 'object') {
      const key = String(segment);
      if (!Object.hasOwn(node, key)) break;
      position = positions.keyAt(node, key, 'key') ?? position;
      if (last && at === 'key') break;
      if (last) position = positions.keyAt(node, key, 'value') ?? position;
      node = (node as Record<string, unknown>)[key];
    } else {
      break;
    }
  }
  return { line: position[0], column: position[1] };
}

function keyText(key: unknown): string {
  if (yaml().isScalar(key)) return key.value === null ? '' : String(key.value);
  return String(key);
}

export type ReadResult = { ok: true; source: SourceFile } | { ok: false; errors: Diagnostic[] };

/** Parses one file; YAML syntax errors come back as diagnostics, all of them. */
export function readSource(
  file: string,
  text: string,
  parser: ParserChoice = 'auto',
  memo?: EntryMemo,
): ReadResult {
  if (parser === 'auto') {
    const fast = fastParseYaml(text, memo);
    if (fast) return { ok: true, source: new SourceFile(file, text, fast.value, 'fast') };
  }
  const lines = new (yaml().LineCounter)();
  // merge: YAML merge keys (<<: *anchor), which people use to share settings between services.
  const doc = yaml().parseDocument(text, { lineCounter: lines, prettyErrors: false, merge: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((err) => {
        const { line, col } = lines.linePos(err.pos[0]);
        return {
          severity: 'error',
          file,
          line,
          column: col,
          path: '',
          message: syntaxMessage(err.message, text, line),
        };
      }),
    };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    // Well-formed YAML that has no value: a merge key (<<) whose value is not a map, or an
    // alias bomb. The yaml package throws without a position; the merge key is found here.
    const at = badMergeKey(doc) ?? 0;
    const { line, col } = lines.linePos(at);
    return {
      ok: false,
      errors: [
        {
          severity: 'error',
          file,
          line,
          column: col,
          path: '',
          message: `YAML: ${excerpt((err as Error).message, MESSAGE_CHARS)}`,
        },
      ],
    };
  }
  const source = new SourceFile(file, text, value, 'yaml');
  source.adopt(doc, lines);
  return { ok: true, source };
}

/** Where the first merge key (<<) whose value is not a map, an alias or a list of those starts. */
function badMergeKey(doc: Document): number | undefined {
  let found: number | undefined;
  const mergeable = (node: unknown) => yaml().isMap(node) || yaml().isAlias(node);
  yaml().visit(doc, {
    Pair(_, pair) {
      // With merge: true the parser gives a merge key the value Symbol(<<), not the text.
      const key = yaml().isScalar(pair.key) ? pair.key.value : undefined;
      if (key !== '<<' && !(typeof key === 'symbol' && key.description === '<<')) return undefined;
      const value = pair.value;
      if (mergeable(value) || (yaml().isSeq(value) && value.items.every(mergeable)))
        return undefined;
      found = (pair.key as Node).range?.[0];
      return yaml().visit.BREAK;
    },
  });
  return found;
}

/** yaml's messages may quote the text (an alias, a tag): they are cut like values, only later. */
const MESSAGE_CHARS = 200;

/** yaml's message, plus the hint people need most: an IPv6 address with a port must be quoted. */
function syntaxMessage(message: string, text: string, line: number): string {
  const sourceLine = text.split('\n')[line - 1] ?? '';
  const base = `YAML syntax: ${excerpt(message.split('\n')[0] ?? '', MESSAGE_CHARS)}`;
  if (/\[[0-9a-fA-F:.]*:[0-9a-fA-F:.]*\]:\d+/.test(sourceLine)) {
    return `${base} (quote an IPv6 address with a port: "[2001:db8::1]:80"; unquoted, [ starts a YAML list)`;
  }
  return base;
}
