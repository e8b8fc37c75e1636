/**
 * MISC_CHECK as an lvsd exec check. misc_path is split into argv as keepalived splits it
 * (notify.c: the keyword's line is re-read with quotes and backslash escapes, and its
 * first word split again the same way), so `misc_path "/bin/check 10.0.0.1 80"` runs
 * /bin/check with two arguments. misc_dynamic (a weight from the exit status, 2..255 =
 * weight + 2) is lvsd's dynamic_weight: exit_status, and `user NAME [GROUP]` its user and group.
 */
import {
  Builder,
  type CheckContext,
  type Common,
  readBlock,
  timing,
} from './keepalived-check-common.js';
import type { Statement } from './keepalived-lexer.js';
import { unsigned, ValueError, word } from './keepalived-values.js';
import type { CheckOut } from './types.js';

const ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  E: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

/** One backslash escape at text[i] (after the backslash): the character and the next index. */
function escaped(text: string, i: number): [string, number] {
  const c = text[i];
  if (c === undefined) throw new ValueError(`missing escape character at the end of '${text}'`);
  const hex = /^x([0-9a-fA-F]+)/.exec(text.slice(i));
  if (hex)
    return [
      String.fromCharCode(Number.parseInt((hex[1] as string).slice(-2), 16)),
      i + hex[0].length,
    ];
  if (c === 'c' && text[i + 1] !== undefined)
    return [String.fromCharCode((text.charCodeAt(i + 1) as number) & 0x1f), i + 2];
  const octal = /^[0-7]{1,3}/.exec(text.slice(i));
  if (octal) return [String.fromCharCode(Number.parseInt(octal[0], 8) & 0xff), i + octal[0].length];
  return [ESCAPES[c] ?? c, i + 1];
}

/** keepalived's alloc_strvec_quoted_escaped(): words with '...' and "..." quotes and \ escapes. */
export function quotedEscapedWords(text: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
    if (i >= text.length) break;
    let current = '';
    let quote: string | null = null;
    while (i < text.length && (quote !== null || !/\s/.test(text[i] as string))) {
      const c = text[i] as string;
      if (c === '\\') {
        const [char, next] = escaped(text, i + 1);
        current += char;
        i = next;
        continue;
      }
      if (quote !== null && c === quote) quote = null;
      else if (quote === null && (c === '"' || c === "'")) quote = c;
      else current += c;
      i++;
    }
    if (quote !== null) throw new ValueError(`string '${text}': missing terminating ${quote}`);
    words.push(current);
  }
  return words;
}

interface Misc {
  argv?: string[];
  timeoutMs?: number;
  dynamic: boolean;
  user?: string;
  group?: string;
}

function readMisc(stmt: Statement, ctx: CheckContext, common: Common): Misc {
  const misc: Misc = { dynamic: false };
  readBlock(
    stmt,
    ctx,
    (inner) => {
      const [keyword = ''] = inner.words;
      if (keyword === 'misc_path') {
        const [, path] = quotedEscapedWords(inner.text);
        misc.argv = quotedEscapedWords(path ?? word(inner.words, 1, 'a program'));
        if (inner.words.length > 2)
          ctx.warn(
            inner.pos,
            `misc_path takes one word: keepalived runs '${path}' and drops the rest; quote the command line`,
          );
      } else if (keyword === 'misc_timeout')
        misc.timeoutMs = unsigned(word(inner.words, 1, 'seconds'), 0, 2 ** 31, keyword) * 1000;
      else if (keyword === 'misc_dynamic') misc.dynamic = true;
      else if (keyword === 'user') {
        misc.user = word(inner.words, 1, 'a user');
        misc.group = inner.words[2];
      } else return false;
      return true;
    },
    common,
    false,
  );
  return misc;
}

export function miscCheck(stmt: Statement, ctx: CheckContext): CheckOut | undefined {
  const common: Common = {};
  const misc = readMisc(stmt, ctx, common);
  if (!misc.argv || misc.argv.length === 0) {
    ctx.warn(
      stmt.pos,
      'MISC_CHECK has no misc_path: keepalived drops this checker, and so does the import',
    );
    return undefined;
  }
  const b = new Builder();
  b.set('type', 'exec');
  // keepalived's default misc_timeout is the virtual server's delay_loop.
  const timeout = misc.timeoutMs || (ctx.vs.delayLoopMs ?? 60_000);
  timing(
    b,
    'MISC_CHECK',
    common,
    ctx,
    timeout,
    misc.timeoutMs ? 'misc_timeout' : 'no misc_timeout: delay_loop',
  );
  b.set('command', misc.argv);
  if (misc.dynamic) b.set('dynamic_weight', 'exit_status');
  b.set('user', misc.user);
  b.set('group', misc.group);
  return b.out();
}
