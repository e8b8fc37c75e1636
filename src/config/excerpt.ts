/**
 * Values from a config as they are shown in messages. A message echoes what the user wrote,
 * and a config can hold anything: a 5 MB scalar (a file pasted by mistake, or one made to
 * flood logs), control characters that a terminal acts on (ESC starts a colour or moves
 * the cursor), characters that are invisible or turn the text around (bidi overrides). So
 * a value is cut to a short excerpt that says how long it was, and every such character
 * is shown as an escape (\x1b, \u202e).
 */

/** Characters shown in messages before a value is cut. */
export const EXCERPT_CHARS = 60;

/** What a terminal acts on, or what hides or turns text around, as regular expression ranges. */
const UNSAFE_RANGES = [
  '\\u0000-\\u001f', // C0 controls: ESC (\x1b) starts terminal escape sequences
  '\\u007f-\\u009f', // DEL and the C1 controls
  '\\u00ad\\u061c\\u180e', // soft hyphen, Arabic letter mark, Mongolian vowel separator
  '\\u200b-\\u200f', // zero-width characters, left-to-right and right-to-left marks
  '\\u2028-\\u202e', // line and paragraph separators, bidi embeddings and overrides
  '\\u2060-\\u206f', // word joiner, invisible operators, bidi isolates
  '\\ufeff', // byte order mark
  '\\ufff9-\\ufffb', // interlinear annotation
];
/** Half of a surrogate pair without the other half: text that was not valid UTF-16. */
const LONE_SURROGATE =
  '[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]';
const UNSAFE = new RegExp(`[${UNSAFE_RANGES.join('')}]|${LONE_SURROGATE}`, 'g');

const NAMED: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function escapeChar(char: string): string {
  const named = NAMED[char];
  if (named) return named;
  const code = char.charCodeAt(0);
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Control and invisible characters as escapes; everything else as it is. */
export function escapeUnsafe(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/** The first `limit` characters (a surrogate pair kept whole) and what says the rest is cut. */
function cut(text: string, limit: number): { head: string; rest: string } {
  if (text.length <= limit) return { head: text, rest: '' };
  let head = text.slice(0, limit);
  if (/[\ud800-\udbff]$/.test(head)) head = head.slice(0, -1);
  return { head, rest: `…(${Buffer.byteLength(text, 'utf8')} bytes)` };
}

/**
 * A value as a message shows it: escaped, and past EXCERPT_CHARS cut, with its size in
 * bytes (UTF-8, as in the file): `aaaa…(5242880 bytes)`.
 */
export function excerpt(text: string, limit = EXCERPT_CHARS): string {
  const { head, rest } = cut(text, limit);
  return `${escapeUnsafe(head)}${rest}`;
}

/** An excerpt in double quotes, with the quotes and backslashes inside escaped: "a\"b". */
export function quoted(text: string, limit = EXCERPT_CHARS): string {
  const { head, rest } = cut(text, limit);
  return `"${escapeUnsafe(head.replace(/["\\]/g, '\\$&'))}"${rest}`;
}
