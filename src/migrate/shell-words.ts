/**
 * Just enough of the shell to read the ipvsadm lines of a director's script: comments,
 * backslash-newline continuations, '...' and "..." quotes, backslash escapes, variables
 * set in the same file (`VIP=10.0.0.1`, `export PORT=80`) and expanded as $VIP, ${VIP}
 * or ${VIP:-default}; commands joined by ;, &&, || or | are read one by one, and
 * redirections (`>/dev/null 2>&1`, `<<EOF`) are set aside. Nothing is executed: a command
 * substitution is reported, not run.
 */

export type ShellItem =
  | { kind: 'comment'; line: number; text: string }
  | { kind: 'blank'; line: number }
  | { kind: 'command'; line: number; words: string[]; text: string; redirects: string[] }
  | { kind: 'error'; line: number; message: string; text: string };

/** One simple command: its words, and its redirections as written (">/dev/null", "<<EOF"). */
interface Simple {
  words: string[];
  redirects: string[];
}

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

  /**
   * Splits one logical line into simple commands (at ;, &, && , || and |) and each into
   * words, removing quotes and expanding variables; redirections are kept apart.
   */
  commands(text: string): Simple[] {
    const commands: Simple[] = [{ words: [], redirects: [] }];
    let word: string | null = null;
    const current = () => commands[commands.length - 1] as Simple;
    const end = () => {
      if (word !== null) current().words.push(word);
      word = null;
    };
    const append = (s: string) => {
      word = (word ?? '') + s;
    };
    for (let i = 0; i < text.length; ) {
      const c = text[i] as string;
      const redirect = /^(\d*|&)(>>|>&|<<-?|<&|<>|>|<)\s*(&?[^\s;&|<>]*)/.exec(text.slice(i));
      if (c === ' ' || c === '\t') {
        end();
        i++;
      } else if (c === '#' && word === null) break;
      else if (
        redirect &&
        (word === null || /^\d+$/.test(word)) &&
        (c !== '&' || text[i + 1] === '>')
      ) {
        current().redirects.push(`${word ?? ''}${redirect[0].replace(/\s+/, '')}`);
        word = null;
        i += redirect[0].length;
      } else if (c === ';' || c === '|' || c === '&') {
        end();
        commands.push({ words: [], redirects: [] });
        i += text[i + 1] === c || (c === '|' && text[i + 1] === '&') ? 2 : 1;
      } else if (c === '`')
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
      } else {
        append(c);
        i++;
      }
    }
    end();
    return commands.filter((command) => command.words.length > 0);
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
  /** The here-document being read: its end word, and whether its lines are rules (ipvsadm-restore's). */
  let heredoc: { end: string; rules: boolean } | null = null;
  for (const { line, text: raw } of logicalLines(text)) {
    const trimmed = raw.trim();
    if (heredoc && (trimmed === heredoc.end || !heredoc.rules)) {
      if (trimmed === heredoc.end) heredoc = null;
      items.push({ kind: 'blank', line });
    } else if (trimmed === '') items.push({ kind: 'blank', line });
    else if (trimmed.startsWith('#'))
      items.push({ kind: 'comment', line, text: trimmed.slice(1).trim() });
    else {
      const commands = commandItems(expander, vars, line, trimmed);
      items.push(...commands);
      heredoc ??= hereDocument(commands);
    }
  }
  return items;
}

/** The here-document a line opens (`<<EOF`, `<<-'EOF'`), if any; its lines are rules for ipvsadm-restore. */
function hereDocument(items: ShellItem[]): { end: string; rules: boolean } | null {
  for (const item of items) {
    if (item.kind !== 'command') continue;
    const redirect = item.redirects.find((r) => /^\d*<<-?/.test(r));
    if (!redirect) continue;
    const end = redirect.replace(/^\d*<<-?/, '').replace(/^(['"])(.*)\1$/, '$2');
    const [first = '', ...rest] = item.words;
    const name = first.slice(first.lastIndexOf('/') + 1);
    const restores =
      name === 'ipvsadm-restore' ||
      (name === 'ipvsadm' && rest.some((w) => w === '-R' || w === '--restore'));
    return { end, rules: restores };
  }
  return null;
}

function commandItems(
  expander: Expander,
  vars: Map<string, string>,
  line: number,
  text: string,
): ShellItem[] {
  try {
    const assignment = ASSIGNMENT.exec(text);
    if (assignment && !/[;&|]/.test(assignment[2] as string)) {
      const [value = ''] = expander.commands(assignment[2] as string)[0]?.words ?? [];
      vars.set(assignment[1] as string, value);
      return [{ kind: 'blank', line }];
    }
    return expander
      .commands(text)
      .map((command) => ({ kind: 'command', line, text, ...command }) as const);
  } catch (err) {
    return [{ kind: 'error', line, message: (err as Error).message, text }];
  }
}
