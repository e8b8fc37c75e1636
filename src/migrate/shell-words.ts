/**
 * Just enough of the shell to read the ipvsadm lines of a director's script: comments,
 * backslash-newline continuations, '...' and "..." quotes, backslash escapes, variables
 * set in the same file (`VIP=10.0.0.1`, `export PORT=80`) and expanded as $VIP, ${VIP}
 * or ${VIP:-default}. Nothing is executed: a command substitution is reported, not run.
 */

export type ShellItem =
  | { kind: 'comment'; line: number; text: string }
  | { kind: 'blank'; line: number }
  | { kind: 'command'; line: number; words: string[]; text: string }
  | { kind: 'error'; line: number; message: string };

/** Physical lines joined where a line ends in a backslash; each keeps its first line number. */
function logicalLines(text: string): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  let pending: { line: number; text: string } | null = null;
  text.split(/\r?\n/).forEach((physical, i) => {
    const current = pending ?? { line: i + 1, text: '' };
    const continued = /(^|[^\\])(\\\\)*\\$/.test(physical);
    current.text += continued ? physical.slice(0, -1) : physical;
    pending = continued ? current : null;
    if (!continued) out.push(current);
  });
  if (pending) out.push(pending);
  return out;
}

const ASSIGNMENT = /^(?:(?:export|readonly|local|declare)\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;

class Expander {
  constructor(private readonly vars: Map<string, string>) {}

  /** One variable reference starting at text[at] === '$'; returns the value and where it ends. */
  variable(text: string, at: number): { value: string; end: number } {
    const braced = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}/.exec(text.slice(at));
    const bare = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(text.slice(at));
    const match = braced ?? bare;
    if (!match) {
      if (/^\$[({]/.test(text.slice(at)) || text[at + 1] === '(')
        throw new Error(
          `${text.slice(at, at + 12)}...: command substitution and other expansions are not run; write the value`,
        );
      return { value: '$', end: at + 1 };
    }
    const name = match[1] as string;
    const value = this.vars.get(name) ?? (braced && match[2] !== undefined ? match[3] : undefined);
    if (value === undefined)
      throw new Error(
        `$${name} is not set in this file: set it above (${name}=...) or write the value`,
      );
    return { value, end: at + match[0].length };
  }

  /** Splits one logical line into words, removing quotes and expanding variables. */
  words(text: string): string[] {
    const words: string[] = [];
    let word: string | null = null;
    const append = (s: string) => {
      word = (word ?? '') + s;
    };
    for (let i = 0; i < text.length; ) {
      const c = text[i] as string;
      if (c === ' ' || c === '\t') {
        if (word !== null) words.push(word);
        word = null;
        i++;
      } else if (c === '#' && word === null) break;
      else if (c === '`')
        throw new Error('`...`: command substitution is not run; write the value');
      else if (c === "'") {
        const end = text.indexOf("'", i + 1);
        if (end < 0) throw new Error("unterminated ' quote");
        append(text.slice(i + 1, end));
        i = end + 1;
      } else if (c === '"') i = this.doubleQuoted(text, i + 1, append);
      else if (c === '\\') {
        append(text[i + 1] ?? '');
        i += 2;
      } else if (c === '$') {
        const { value, end } = this.variable(text, i);
        append(value);
        i = end;
      } else if (c === ';' || c === '|' || c === '&' || c === '<' || c === '>') {
        throw new Error(`'${c}': one command a line, without pipes or redirections`);
      } else {
        append(c);
        i++;
      }
    }
    if (word !== null) words.push(word);
    return words;
  }

  private doubleQuoted(text: string, from: number, append: (s: string) => void): number {
    let i = from;
    let seen = '';
    for (; i < text.length && text[i] !== '"'; ) {
      const c = text[i] as string;
      if (c === '\\' && '$`"\\'.includes(text[i + 1] ?? '')) {
        seen += text[i + 1];
        i += 2;
      } else if (c === '$') {
        const { value, end } = this.variable(text, i);
        seen += value;
        i = end;
      } else if (c === '`')
        throw new Error('`...`: command substitution is not run; write the value');
      else {
        seen += c;
        i++;
      }
    }
    if (i >= text.length) throw new Error('unterminated " quote');
    append(seen);
    return i + 1;
  }
}

/** The items of a script, in order; variables are set as their assignments are read. */
export function shellItems(text: string): ShellItem[] {
  const vars = new Map<string, string>();
  const expander = new Expander(vars);
  const items: ShellItem[] = [];
  for (const { line, text: raw } of logicalLines(text)) {
    const trimmed = raw.trim();
    if (trimmed === '') items.push({ kind: 'blank', line });
    else if (trimmed.startsWith('#'))
      items.push({ kind: 'comment', line, text: trimmed.slice(1).trim() });
    else items.push(commandItem(expander, vars, line, trimmed));
  }
  return items;
}

function commandItem(
  expander: Expander,
  vars: Map<string, string>,
  line: number,
  text: string,
): ShellItem {
  try {
    const assignment = ASSIGNMENT.exec(text);
    if (assignment) {
      const [value = ''] = expander.words(assignment[2] as string);
      vars.set(assignment[1] as string, value);
      return { kind: 'blank', line };
    }
    return { kind: 'command', line, words: expander.words(text), text };
  } catch (err) {
    return { kind: 'error', line, message: (err as Error).message };
  }
}
