/**
 * A fast reader for the plain subset of YAML that config files are written in: block
 * mappings and sequences, one-line flow collections, plain and simple quoted scalars,
 * comments. Anything else (anchors, tags, block scalars, multi-line scalars, escapes,
 * several documents, anything that looks like an error) makes it return null, and the
 * caller parses with the `yaml` package instead.
 *
 * Why by hand: `yaml` builds a full Document (about 2 s for a 5000-service file, and its
 * CST parser alone takes 1.3 s), while lvsd reloads such files on every change. Values
 * must be exactly what `yaml.parse` returns (YAML 1.2 core schema); the test suite checks
 * that on every example and on generated and mutated documents.
 *
 * Positions: fastParseYaml() keeps none, which is the load path. Positions are needed
 * only when there is something to report; then source.ts reads the text again with
 * fastParseYamlWithPositions(), which records where each key, value and item starts in a
 * PositionMap, placed as `yaml` would place them, so both paths report the same column.
 */

class OutsideSubset extends Error {}

const bail = (): never => {
  throw new OutsideSubset();
};

/** Characters that may not start a plain scalar (YAML 1.2 c-indicator, less - ? : handled apart). */
const PLAIN_START_FORBIDDEN = new Set([
  '[',
  ']',
  '{',
  '}',
  '#',
  '&',
  '*',
  '!',
  '|',
  '>',
  "'",
  '"',
  '%',
  '@',
  '`',
  ',',
]);

const FLOW_INDICATORS = new Set([',', '[', ']', '{', '}']);

/** YAML's ns-plain-first: no indicator, except - ? : followed by a safe character. */
function plainStartOk(s: string, at: number, inFlow: boolean): boolean {
  const first = s[at] as string;
  if (PLAIN_START_FORBIDDEN.has(first)) return false;
  if (first === '-' || first === '?' || first === ':') {
    const next = s[at + 1];
    return next !== undefined && next !== ' ' && !(inFlow && FLOW_INDICATORS.has(next));
  }
  return true;
}

/**
 * The entries of the top-level `services:` mapping of one file's last read: the lines each
 * was read from and the value they gave. A reload of a file where one line changed reads
 * that service's lines again and takes the others' values as they were (the same objects:
 * the loader recalls what it resolved from them, config/memo.ts). Only block entries
 * (`name:` then indented lines) are kept.
 */
export class EntryMemo {
  private entries = new Map<string, { indents: number[]; block: string; value: unknown }>();
  private next: typeof this.entries = new Map();

  /** The value read last time from exactly these lines, or undefined. */
  recall(key: string, indents: number[], contents: string[], from: number, to: number): unknown {
    const kept = this.entries.get(key);
    if (!kept || kept.indents.length !== to - from) return undefined;
    // The lines are compared with the kept block in place: nothing is allocated.
    let at = 0;
    for (let k = from; k < to; k++) {
      const line = contents[k] as string;
      if (kept.indents[k - from] !== indents[k] || !kept.block.startsWith(line, at))
        return undefined;
      at += line.length;
      if (k < to - 1 && kept.block.charCodeAt(at++) !== 10) return undefined;
    }
    if (at !== kept.block.length) return undefined;
    this.next.set(key, kept);
    return kept.value;
  }

  /**
   * Keeps a value read from these lines. Its strings are made copies, and the lines are
   * kept as one new string: slices of the text would keep every text they were cut from
   * alive for as long as their entry is recalled (one whole file per reload).
   */
  keep(key: string, indents: number[], contents: string[], value: unknown): void {
    this.next.set(key, { indents, block: contents.join('\n'), value: detach(value) });
  }

  /** A read starts: what an unfinished read (outside the subset) noted is dropped. */
  begin(): void {
    this.next = new Map();
  }

  /** The read is over: what it saw is what the next read compares with. */
  done(): void {
    this.entries = this.next;
    this.next = new Map();
  }
}

/** A copy of a string that shares no memory with the text it was cut from (UTF-16 is lossless). */
const copyString = (s: string) => Buffer.from(s, 'utf16le').toString('utf16le');

/** The value with each string in it replaced by a copy, in place (keys are V8's own copies). */
function detach(value: unknown): unknown {
  if (typeof value === 'string') return copyString(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = detach(value[i]);
  } else if (value !== null && typeof value === 'object') {
    const map = value as Record<string, unknown>;
    for (const key of Object.keys(map)) map[key] = detach(map[key]);
  }
  return value;
}

/** The value yaml.parse gives, or null when the text is outside the subset. */
export function fastParseYaml(text: string, memo?: EntryMemo): { value: unknown } | null {
  try {
    memo?.begin();
    const value = new Reader(text, null, memo ?? null).document();
    memo?.done();
    return { value };
  } catch (err) {
    if (err instanceof OutsideSubset) return null;
    throw err;
  }
}

/** [line, column], both from 1. */
export type Pos = [number, number];

/**
 * Where the keys and values of one parse's objects start, placed as `yaml` places its
 * nodes (an empty value sits after the separator's spaces), so both paths report a
 * problem at the same column.
 */
export class PositionMap {
  root: Pos = [1, 1];
  /**
   * Per mapping: key, key line, key column, value line, value column, for each key in the
   * order read; per list: line, column of each item. Flat arrays: a 5000-service file has
   * 60,000 of them, and this pass runs only when there is something to report.
   */
  private readonly table = new Map<object, Array<string | number>>();

  private list(holder: object): Array<string | number> {
    let list = this.table.get(holder);
    if (!list) this.table.set(holder, (list = []));
    return list;
  }

  entry(holder: object, key: string, keyPos: Pos, valuePos: Pos): void {
    this.list(holder).push(key, keyPos[0], keyPos[1], valuePos[0], valuePos[1]);
  }

  item(holder: unknown[], pos: Pos): void {
    this.list(holder).push(pos[0], pos[1]);
  }

  itemAt(holder: unknown[], index: number): Pos | null {
    const list = this.table.get(holder);
    return list && list.length > index * 2 + 1
      ? [list[index * 2] as number, list[index * 2 + 1] as number]
      : null;
  }

  /** Key -> offset in the flat list, built on first lookup of a big mapping (`services:`). */
  private readonly indexes = new Map<object, Map<string, number>>();

  keyAt(holder: object, key: string, which: 'key' | 'value'): Pos | null {
    const list = this.table.get(holder) ?? [];
    let at = -1;
    if (list.length > 100) {
      let index = this.indexes.get(holder);
      if (!index) {
        index = new Map();
        for (let i = 0; i < list.length; i += 5) index.set(list[i] as string, i);
        this.indexes.set(holder, index);
      }
      at = index.get(key) ?? -1;
    } else {
      for (let i = 0; i < list.length && at === -1; i += 5) if (list[i] === key) at = i;
    }
    if (at === -1) return null;
    return which === 'key'
      ? [list[at + 1] as number, list[at + 2] as number]
      : [list[at + 3] as number, list[at + 4] as number];
  }
}

/** The value and where each part of it is; null when outside the subset. */
export function fastParseYamlWithPositions(
  text: string,
): { value: unknown; positions: PositionMap } | null {
  const positions = new PositionMap();
  try {
    return { value: new Reader(text, positions, null).document(), positions };
  } catch (err) {
    if (err instanceof OutsideSubset) return null;
    throw err;
  }
}

/** YAML 1.2 core schema resolution of a plain scalar, in the order `yaml` tests its tags. */
export function resolvePlain(s: string): unknown {
  const c = s.charCodeAt(0);
  // Only these first characters can start a null, bool, int or float; the rest are strings.
  const maybeTyped =
    s.length === 0 ||
    (c >= 48 && c <= 57) ||
    c === 43 ||
    c === 45 ||
    c === 46 ||
    c === 126 ||
    'nNtTfF'.includes(s[0] as string);
  if (!maybeTyped) return s;
  if (/^(?:~|[Nn]ull|NULL)?$/.test(s)) return null;
  if (/^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/.test(s)) return s[0] === 't' || s[0] === 'T';
  if (/^0o[0-7]+$/.test(s)) return parseInt(s.substring(2), 8);
  if (/^[-+]?[0-9]+$/.test(s)) return parseInt(s, 10);
  if (/^0x[0-9a-fA-F]+$/.test(s)) return parseInt(s.substring(2), 16);
  if (/^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/.test(s)) {
    return s.slice(-3).toLowerCase() === 'nan'
      ? NaN
      : s[0] === '-'
        ? Number.NEGATIVE_INFINITY
        : Number.POSITIVE_INFINITY;
  }
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/.test(s)) return parseFloat(s);
  if (/^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/.test(s)) return parseFloat(s);
  return s;
}

/** How `yaml` turns a scalar key into a JS property name. */
function keyString(value: unknown): string {
  return value === null ? '' : String(value);
}

function isSeqItem(content: string): boolean {
  return content === '-' || content.startsWith('- ');
}

/** A comment starts at # preceded by a space; rest after it is ignored. */
function isBlankOrComment(rest: string): boolean {
  return rest.trim() === '' || /^ +#/.test(rest);
}

class Reader {
  private readonly indents: number[] = [];
  private readonly contents: string[] = [];
  /** Index in `lines` of each significant line (positions only). */
  private readonly lineIndex: number[] = [];
  private readonly lines: string[];
  private i = 0;

  constructor(
    text: string,
    private readonly positions: PositionMap | null,
    /** Never with positions: a recalled value has none recorded. */
    private readonly memo: EntryMemo | null,
  ) {
    if (text.includes('\t') || text.charCodeAt(0) === 0xfeff) bail();
    // Without positions and without CR, the text is walked in place: no array of every line
    // (a reload's garbage is mostly the lines of services the memo then recalls).
    const walk = !positions && !text.includes('\r');
    this.lines = walk ? [] : text.split('\n');
    let first = true;
    let start = 0;
    for (let n = 0; walk ? start <= text.length : n < this.lines.length; n++) {
      let raw: string;
      let indent = 0;
      let content: string;
      if (walk) {
        const next = text.indexOf('\n', start);
        const end = next < 0 ? text.length : next;
        while (text.charCodeAt(start + indent) === 32 && start + indent < end) indent++;
        content = start + indent < end ? text.slice(start + indent, end).trimEnd() : '';
        start = end + 1;
      } else {
        raw = this.lines[n] as string;
        if (raw.endsWith('\r')) raw = raw.slice(0, -1);
        if (raw.includes('\r')) bail();
        while (raw.charCodeAt(indent) === 32) indent++;
        content = raw.slice(indent).trimEnd();
      }
      if (content === '' || content[0] === '#') continue;
      if (content === '---' && indent === 0 && first) {
        first = false;
        continue;
      }
      first = false;
      if (content.startsWith('---') || content.startsWith('...') || content[0] === '%') bail();
      this.indents.push(indent);
      this.contents.push(content);
      if (positions) this.lineIndex.push(n);
    }
  }

  /** Line and column of character `offset` (0-based) of significant line `i`. */
  private pos(i: number, offset: number): Pos {
    return [(this.lineIndex[i] as number) + 1, offset + 1];
  }

  /** Where yaml puts an empty value: after the spaces that follow the indicator at `offset`. */
  private emptyPos(i: number, offset: number): Pos {
    const raw = (this.lines[this.lineIndex[i] as number] as string).replace(/\r$/, '');
    let at = offset + 1;
    while (raw.charCodeAt(at) === 32) at++;
    return this.pos(i, at);
  }

  /** Position of the next node, if one starts on the next significant line. */
  private nextPos(): Pos {
    return this.pos(this.i, this.indents[this.i] as number);
  }

  document(): unknown {
    if (this.contents.length === 0) return null;
    const content = this.contents[0] as string;
    if (this.positions) this.positions.root = this.pos(0, this.indents[0] as number);
    const value = isSeqItem(content)
      ? this.blockSeq(this.indents[0] as number)
      : this.blockMap(this.indents[0] as number, 'top');
    if (this.i < this.contents.length) bail();
    return value;
  }

  /** A node on the lines after a key or dash with nothing after it. */
  private nested(parentIndent: number, seqAtSameIndent: boolean): unknown {
    if (this.i >= this.contents.length) return null;
    const indent = this.indents[this.i] as number;
    const content = this.contents[this.i] as string;
    if (indent > parentIndent)
      return isSeqItem(content) ? this.blockSeq(indent) : this.blockMap(indent);
    if (indent === parentIndent && seqAtSameIndent && isSeqItem(content))
      return this.blockSeq(indent);
    return null;
  }

  /** The lines after line `this.i - 1` indented deeper than `indent`: [this.i, end). */
  private blockEnd(indent: number): number {
    let end = this.i;
    while (end < this.contents.length && (this.indents[end] as number) > indent) end++;
    return end;
  }

  /** A `services:` entry's block: recalled from the memo when its lines are the same. */
  private memoEntry(key: string, indent: number, memo: EntryMemo): unknown {
    const end = this.blockEnd(indent);
    const recalled = memo.recall(key, this.indents, this.contents, this.i, end);
    if (recalled !== undefined) {
      this.i = end;
      return recalled;
    }
    // Taken before reading: reading "- key: v" items rewrites their lines.
    const indents = this.indents.slice(this.i, end);
    const contents = this.contents.slice(this.i, end);
    const value = this.nested(indent, true);
    if (this.i === end && value !== null && typeof value === 'object')
      memo.keep(key, indents, contents, value);
    return value;
  }

  /** `top`: the document's mapping; `services`: the mapping under its services key. */
  private blockMap(indent: number, level?: 'top' | 'services'): Record<string, unknown> {
    const map: Record<string, unknown> = {};
    while (this.i < this.contents.length && this.indents[this.i] === indent) {
      const content = this.contents[this.i] as string;
      if (isSeqItem(content)) bail();
      const { key, rest, restOffset } = splitKey(content);
      const line = this.i;
      this.i++;
      let value: unknown;
      let valuePos: Pos | null = null;
      if (isBlankOrComment(rest) && this.memo && level === 'services') {
        value = this.memoEntry(key, indent, this.memo);
      } else if (isBlankOrComment(rest) && this.memo && level === 'top' && key === 'services') {
        const next = this.i < this.contents.length ? (this.indents[this.i] as number) : -1;
        value =
          next > indent && !isSeqItem(this.contents[this.i] as string)
            ? this.blockMap(next, 'services')
            : this.nested(indent, true);
      } else if (isBlankOrComment(rest)) {
        const before = this.i;
        // Taken before reading: "- key: v" items move their line's indent while read.
        const start = this.positions && before < this.contents.length ? this.nextPos() : null;
        value = this.nested(indent, true);
        if (this.positions)
          valuePos =
            this.i > before && start ? start : this.emptyPos(line, indent + restOffset - 1);
      } else {
        const at = indent + restOffset;
        value = inlineValue(
          rest,
          this.positions
            ? {
                positions: this.positions,
                line: (this.lineIndex[line] as number) + 1,
                column: at + 1,
              }
            : null,
        );
        if (this.positions) valuePos = this.pos(line, at + rest.length - rest.trimStart().length);
      }
      // '<<' is a merge key to the yaml path (merge: true): its meaning is left to it.
      if (Object.hasOwn(map, key) || key === '__proto__' || key === '<<') bail();
      map[key] = value;
      if (this.positions) this.positions.entry(map, key, this.pos(line, indent), valuePos as Pos);
    }
    if (this.i < this.contents.length && (this.indents[this.i] as number) > indent) bail();
    return map;
  }

  private blockSeq(indent: number): unknown[] {
    const seq: unknown[] = [];
    while (
      this.i < this.contents.length &&
      this.indents[this.i] === indent &&
      isSeqItem(this.contents[this.i] as string)
    ) {
      const content = this.contents[this.i] as string;
      let spaces = 1;
      while (content.charCodeAt(spaces) === 32) spaces++;
      const rest = content.slice(spaces);
      const line = this.i;
      if (rest === '' || rest[0] === '#') {
        this.i++;
        const before = this.i;
        const start = this.positions && before < this.contents.length ? this.nextPos() : null;
        const value = this.nested(indent, false);
        if (this.positions)
          this.positions.item(seq, this.i > before && start ? start : this.emptyPos(line, indent));
        seq.push(value);
      } else if (isSeqItem(rest)) {
        bail();
      } else if (hasKey(rest)) {
        // "- key: value": a mapping whose keys line up with this first key.
        this.indents[this.i] = indent + spaces;
        this.contents[this.i] = rest;
        if (this.positions) this.positions.item(seq, this.pos(line, indent + spaces));
        seq.push(this.blockMap(indent + spaces));
      } else {
        this.i++;
        const at = indent + spaces;
        const value = inlineValue(
          ` ${rest}`,
          this.positions
            ? { positions: this.positions, line: (this.lineIndex[line] as number) + 1, column: at }
            : null,
        );
        if (this.positions) this.positions.item(seq, this.pos(line, at));
        seq.push(value);
      }
    }
    if (this.i < this.contents.length && (this.indents[this.i] as number) > indent) bail();
    return seq;
  }
}

/** Whether a line holds "key:" or "key: ..." (a mapping entry) rather than a scalar. */
function hasKey(content: string): boolean {
  const first = content[0] as string;
  if (first === '"' || first === "'") {
    const end = quotedEnd(content, 0);
    return end !== -1 && /^ *:( |$)/.test(content.slice(end));
  }
  if (first === '[' || first === '{') return false;
  return keyColon(content) !== -1;
}

/** Index of the ':' ending a plain key, or -1. */
function keyColon(content: string): number {
  for (let j = 0; j < content.length; j++) {
    const c = content[j];
    if (c === ':' && (j + 1 === content.length || content[j + 1] === ' ')) return j;
    if (c === '#' && j > 0 && content[j - 1] === ' ') return -1;
  }
  return -1;
}

/** End (exclusive) of a one-line quoted scalar starting at `start`, or -1. */
function quotedEnd(s: string, start: number): number {
  const quote = s[start];
  for (let j = start + 1; j < s.length; j++) {
    const c = s[j];
    if (quote === '"' && c === '\\') return -1;
    if (c === quote) {
      if (quote === "'" && s[j + 1] === "'") {
        j++;
        continue;
      }
      return j + 1;
    }
  }
  return -1;
}

function quotedValue(s: string, start: number, end: number): string {
  const inner = s.slice(start + 1, end - 1);
  return s[start] === "'" ? inner.replace(/''/g, "'") : inner;
}

/**
 * YAML allows the ':' of an implicit key at most 1024 characters after the key starts;
 * `yaml` reports a longer key as an error, so the fast reader steps aside for it.
 */
const MAX_KEY_CHARS = 1024;

function splitKey(content: string): { key: string; rest: string; restOffset: number } {
  const first = content[0] as string;
  if (first === '"' || first === "'") {
    const end = quotedEnd(content, 0);
    if (end === -1) bail();
    const match = /^ *:(?= |$)/.exec(content.slice(end));
    if (!match) bail();
    const restOffset = end + (match as RegExpExecArray)[0].length;
    if (restOffset - 1 > MAX_KEY_CHARS) bail();
    return { key: quotedValue(content, 0, end), rest: content.slice(restOffset), restOffset };
  }
  if (!plainStartOk(content, 0, false)) bail();
  const colon = keyColon(content);
  if (colon === -1 || colon > MAX_KEY_CHARS) bail();
  const keyText = content.slice(0, colon).trimEnd();
  if (keyText === '') bail();
  return {
    key: keyString(resolvePlain(keyText)),
    rest: content.slice(colon + 1),
    restOffset: colon + 1,
  };
}

interface Track {
  positions: PositionMap;
  line: number;
  /** Column (from 1) of rest[0]. */
  column: number;
}

/** The value after "key:" or "- " on the same line (rest starts with a space). */
function inlineValue(rest: string, track: Track | null = null): unknown {
  if (rest[0] !== ' ') bail();
  const s = rest.trimStart();
  const first = s[0] as string;
  let value: unknown;
  let end: number;
  if (first === '"' || first === "'") {
    end = quotedEnd(s, 0);
    if (end === -1) bail();
    value = quotedValue(s, 0, end);
  } else if (first === '[' || first === '{') {
    const flow = new FlowReader(
      s,
      track ? { ...track, column: track.column + rest.length - s.length } : null,
    );
    value = flow.node();
    end = flow.pos;
  } else {
    if (!plainStartOk(s, 0, false)) bail();
    const hash = s.indexOf(' #');
    const text = (hash === -1 ? s : s.slice(0, hash)).trimEnd();
    // "a: b: c" is an error in YAML (a mapping in a compact value): leave it to `yaml`.
    if (text.includes(': ') || text.endsWith(':')) bail();
    return resolvePlain(text);
  }
  const after = s.slice(end);
  if (after !== '' && !/^ +(#.*)?$/.test(after)) bail();
  return value;
}

/** One-line flow collections: [a, b], { k: v, l: [1, 2] }. */
class FlowReader {
  pos = 0;
  constructor(
    private readonly s: string,
    /** column: of s[0]. */
    private readonly track: Track | null = null,
  ) {}

  private here(): Pos {
    return [(this.track as Track).line, (this.track as Track).column + this.pos];
  }

  private spaces(): void {
    while (this.s.charCodeAt(this.pos) === 32) this.pos++;
  }

  node(): unknown {
    const c = this.s[this.pos];
    if (c === '[') return this.seq();
    if (c === '{') return this.map();
    return this.scalar(false);
  }

  private seq(): unknown[] {
    this.pos++;
    const out: unknown[] = [];
    this.spaces();
    if (this.s[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      if (this.track) this.track.positions.item(out, this.here());
      out.push(this.node());
      this.spaces();
      const c = this.s[this.pos];
      this.pos++;
      if (c === ']') return out;
      if (c !== ',') bail();
      this.spaces();
      if (this.s[this.pos] === ']') bail();
    }
  }

  private map(): Record<string, unknown> {
    this.pos++;
    const out: Record<string, unknown> = {};
    this.spaces();
    if (this.s[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      const keyPos = this.track ? this.here() : null;
      const key = keyString(this.scalar(true));
      if (this.s[this.pos] !== ':' || this.s[this.pos + 1] !== ' ') bail();
      this.pos += 2;
      this.spaces();
      const c = this.s[this.pos];
      if (c === ',' || c === '}' || c === undefined) bail();
      const valuePos = this.track ? this.here() : null;
      const value = this.node();
      if (Object.hasOwn(out, key) || key === '__proto__' || key === '<<') bail();
      out[key] = value;
      if (this.track) {
        this.track.positions.entry(out, key, keyPos as Pos, valuePos as Pos);
      }
      this.spaces();
      const next = this.s[this.pos];
      this.pos++;
      if (next === '}') return out;
      if (next !== ',') bail();
      this.spaces();
      if (this.s[this.pos] === '}') bail();
    }
  }

  private scalar(isKey: boolean): unknown {
    const s = this.s;
    const start = this.pos;
    const first = s[start];
    if (first === undefined) bail();
    if (first === '"' || first === "'") {
      const end = quotedEnd(s, start);
      if (end === -1) bail();
      this.pos = end;
      if (!isKey) {
        // A quoted scalar followed by ':' would be an implicit key: not in the subset.
        this.spaces();
        if (s[this.pos] === ':') bail();
      }
      return quotedValue(s, start, end);
    }
    if (!plainStartOk(s, start, true)) bail();
    let j = start;
    for (; j < s.length; j++) {
      const c = s[j];
      if (c === ',' || c === '[' || c === ']' || c === '{' || c === '}') break;
      if (c === ':') {
        const n = s[j + 1];
        if (
          n === undefined ||
          n === ' ' ||
          n === ',' ||
          n === '[' ||
          n === ']' ||
          n === '{' ||
          n === '}'
        )
          break;
      }
      if (c === '#' && s[j - 1] === ' ') bail();
    }
    const text = s.slice(start, j).trimEnd();
    if (text === '') bail();
    this.pos = j;
    if (!isKey && s[j] === ':') bail();
    return resolvePlain(text);
  }
}
