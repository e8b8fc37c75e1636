/**
 * keepalived.conf read as keepalived reads it (lib/parser.c): `#` and `!` start comments
 * (not inside "..."; `\#` is a literal #), `include` (and includer/m/w/b/a) pulls in the
 * files a glob matches, relative to the including file, wherever it stands; `@id` lines
 * count only for that config id; `$NAME=value` defines text that $NAME and ${NAME}
 * are replaced with; `{` and `}` end a line wherever they stand outside quotes. The result
 * is a tree of statements (words, the text they came from, file:line:column, the comment
 * just above, and their block), which keepalived-parser.ts gives meaning to.
 */
import { dirname, join } from 'node:path';
import { type FileSystem, glob, hasWildcard } from './glob.js';
import { Findings, type SourcePos } from './types.js';

export interface Statement {
  /** Words as keepalived splits them: whitespace-separated, "..." one word without quotes. */
  words: string[];
  /** The line's text after comments are removed (for keepalived's quoted-escaped re-reads). */
  text: string;
  pos: SourcePos;
  /** The comment lines just above (no blank line between), without # or !. */
  comments: string[];
  /** The statements between the { and } that follow, or null when none follow. */
  block: Statement[] | null;
}

export interface LexOptions {
  fs: FileSystem;
  /** keepalived's config id (-i; default the host name's first label): which @id lines count. */
  configId?: string;
}

export interface LexResult {
  statements: Statement[];
  files: string[];
  findings: Findings;
}

interface Piece {
  /** A line's text, or a file's start or end (blocks do not run past the end of their file). */
  text: string | { file: 'start' | 'end' };
  pos: SourcePos;
  comments: string[];
}

const MAX_INCLUDE_DEPTH = 32;
const INCLUDE = /^include([rmwba])?\s+(.+)$/;

/** keepalived's decomment(): the text before an unquoted # or !, with \# and \! unescaped. */
export function decomment(line: string): string {
  let out = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === '"') quoted = !quoted;
    else if (c === '\\' && !quoted && (line[i + 1] === '#' || line[i + 1] === '!')) {
      out += line[++i];
      continue;
    } else if (c === '\\') {
      out += c + (line[i + 1] ?? '');
      i++;
      continue;
    } else if (!quoted && (c === '#' || c === '!')) break;
    out += c;
  }
  return out.trim();
}

/** keepalived's alloc_strvec(): words split on blanks, "..." kept whole without its quotes. */
export function splitWords(text: string): string[] | { error: string } {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
    if (i >= text.length) break;
    if (text[i] === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) return { error: `unmatched quote: ${text}` };
      words.push(text.slice(i + 1, end));
      i = end + 1;
    } else {
      const start = i;
      while (i < text.length && !/[\s"]/.test(text[i] as string)) i++;
      words.push(text.slice(start, i));
    }
  }
  return words;
}

/** Splits a line before and after each { and } outside quotes, keeping each piece's column. */
function splitBraces(text: string, column: number): Array<{ text: string; column: number }> {
  const out: Array<{ text: string; column: number }> = [];
  let quoted = false;
  let start = 0;
  const push = (from: number, to: number) => {
    const piece = text.slice(from, to);
    const lead = piece.length - piece.trimStart().length;
    if (piece.trim() !== '') out.push({ text: piece.trim(), column: column + from + lead });
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === '{' || c === '}')) {
      push(start, i);
      push(i, i + 1);
      start = i + 1;
    }
  }
  push(start, text.length);
  return out;
}

class Lexer {
  readonly findings = new Findings();
  readonly files: string[] = [];
  readonly pieces: Piece[] = [];
  private readonly defs = new Map<string, string>();
  private comments: string[] = [];

  constructor(private readonly options: LexOptions) {}

  file(path: string, depth: number, from: SourcePos | null): void {
    let text: string;
    try {
      text = this.options.fs.readFile(path);
    } catch (err) {
      const why =
        (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
      this.findings.error(
        from ?? { file: path, line: 1, column: 1 },
        `cannot read ${path}: ${why}`,
      );
      return;
    }
    this.files.push(path);
    const lines = text.split(/\r?\n/);
    this.pieces.push({
      text: { file: 'start' },
      pos: { file: path, line: 1, column: 1 },
      comments: [],
    });
    for (const [i, line] of lines.entries())
      this.line(line, { file: path, line: i + 1, column: 1 }, depth);
    this.pieces.push({
      text: { file: 'end' },
      pos: { file: path, line: lines.length, column: 1 },
      comments: [],
    });
    this.comments = [];
  }

  private line(raw: string, at: SourcePos, depth: number): void {
    const trimmed = raw.trim();
    if (trimmed === '') {
      this.comments = [];
      return;
    }
    if (trimmed.startsWith('#') || trimmed.startsWith('!')) {
      this.comments.push(trimmed.slice(1).trim());
      return;
    }
    let text = decomment(raw);
    const column = raw.length - raw.trimStart().length + 1;
    const pos = { ...at, column };
    text = this.conditional(text);
    if (text === '' || this.definition(text, pos)) return;
    text = this.substitute(text, pos);
    if (text.startsWith('~')) {
      this.findings.error(
        pos,
        `${text.split(/\s/)[0]} blocks are not expanded by the import: write the lines out`,
      );
      return;
    }
    const include = INCLUDE.exec(text);
    if (include) return this.include(include[2] as string, pos, depth);
    for (const piece of splitBraces(text, column))
      this.pieces.push({
        text: piece.text,
        pos: { ...at, column: piece.column },
        comments: this.take(),
      });
  }

  private take(): string[] {
    const taken = this.comments;
    this.comments = [];
    return taken;
  }

  /** `@id line` counts only when keepalived runs with config id `id`; `@^id` the opposite. */
  private conditional(text: string): string {
    const match = /^@(\^?)(\S+)\s+(.*)$/.exec(text);
    if (!match) return text.startsWith('@') ? '' : text;
    const same = match[2] === this.options.configId;
    return same !== (match[1] === '^') ? (match[3] as string) : '';
  }

  private definition(text: string, pos: SourcePos): boolean {
    const match = /^\$([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(text);
    if (!match) return false;
    const value = match[2] as string;
    if (value.endsWith('\\')) {
      this.findings.error(
        pos,
        `multi-line definition $${match[1]} is not expanded by the import: write it on one line`,
      );
      return true;
    }
    this.defs.set(match[1] as string, value);
    return true;
  }

  /** $NAME and ${NAME} for names defined above, as keepalived's replace_param (others stay). */
  private substitute(text: string, pos: SourcePos): string {
    if (!text.includes('$')) return text;
    let out = text;
    for (let round = 0; round < 16 && out.includes('$'); round++) {
      const next = out.replace(
        /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
        (whole, a, b) => this.value((a ?? b) as string, pos) ?? whole,
      );
      if (next === out) break;
      out = decomment(next);
    }
    return out;
  }

  private value(name: string, pos: SourcePos): string | null {
    if (this.defs.has(name)) return this.defs.get(name) as string;
    if (name === '_HASH') return '#';
    if (name === '_BANG') return '!';
    if (name === '_PWD') return dirname(pos.file);
    if (name === '_RANDOM' || name === '_INSTANCE')
      this.findings.error(pos, `$${name} depends on how keepalived runs; write the value`);
    return null;
  }

  private include(pattern: string, pos: SourcePos, depth: number): void {
    if (depth >= MAX_INCLUDE_DEPTH) {
      this.findings.error(
        pos,
        `include ${pattern}: includes nested ${MAX_INCLUDE_DEPTH} deep (an include loop?)`,
      );
      return;
    }
    const matches = glob(this.options.fs, pattern, dirname(pos.file)).filter(
      (p) => !this.options.fs.isDirectory(p),
    );
    if (matches.length === 0) {
      if (hasWildcard(pattern) || pattern.includes('{'))
        this.findings.warning(pos, `include ${pattern}: no file matches`);
      else
        this.findings.error(
          pos,
          `include ${pattern}: no such file (${join(dirname(pos.file), pattern)})`,
        );
    }
    this.comments = [];
    for (const path of matches) this.file(path, depth + 1, pos);
  }
}

interface Frame {
  owner: Statement | null;
  list: Statement[];
}

/**
 * Pieces into statements: a piece followed by { owns what comes up to the matching }.
 * keepalived reads an included file as part of its includer's stream; here a block still
 * open at the end of its file is an error there, so that the includer's own lines are
 * read (and checked) as written.
 */
function tree(pieces: Piece[], findings: Findings): Statement[] {
  const top: Statement[] = [];
  const stack: Frame[] = [{ owner: null, list: top }];
  const barriers: number[] = [];
  let last: Statement | null = null;
  const close = (frame: Frame | undefined) => {
    if (frame?.owner)
      findings.error(
        frame.owner.pos,
        `'${frame.owner.words[0]}' block is not closed: '}' missing before the end of the file`,
      );
  };
  for (const piece of pieces) {
    const frame = stack[stack.length - 1] as Frame;
    if (typeof piece.text !== 'string') {
      if (piece.text.file === 'start') barriers.push(stack.length);
      else for (const floor = barriers.pop() ?? 1; stack.length > floor; ) close(stack.pop());
      last = null;
    } else if (piece.text === '{') {
      if (!last || last.block) findings.error(piece.pos, "'{' with no keyword before it");
      const owner = last && !last.block ? last : null;
      const list: Statement[] = [];
      if (owner) owner.block = list;
      stack.push({ owner, list });
      last = null;
    } else if (piece.text === '}') {
      if (stack.length <= (barriers.at(-1) ?? 1))
        findings.error(piece.pos, "extra '}': no block is open here");
      else stack.pop();
      last = null;
    } else {
      const words = splitWords(piece.text);
      if ('error' in words) {
        findings.error(piece.pos, words.error);
        continue;
      }
      last = { words, text: piece.text, pos: piece.pos, comments: piece.comments, block: null };
      frame.list.push(last);
    }
  }
  return top;
}

/** Reads a keepalived.conf and everything it includes. */
export function lexKeepalived(path: string, options: LexOptions): LexResult {
  const lexer = new Lexer(options);
  lexer.file(path, 0, null);
  return {
    statements: tree(lexer.pieces, lexer.findings),
    files: lexer.files,
    findings: lexer.findings,
  };
}
