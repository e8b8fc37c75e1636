/**
 * A dns check's `answer`, written as `dig +short` prints it: read the same way when the
 * config is validated and when the checker compares it with a reply, so an answer that
 * validates is one the checker can match, and one that could never match is refused with
 * its file, line and field rather than failing every check.
 */
import net from 'node:net';

/** A string's UTF-8 bytes, one character per byte (latin1), as DNS character-strings are read. */
export function utf8Bytes(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/**
 * The character-strings of a TXT answer written as dig prints it: "a" "b c", escapes
 * (\" \\ \DDD) undone, as bytes (latin1: text as UTF-8, \DDD as one byte). Undefined when
 * the text is not in that form.
 */
export function parseTxt(text: string): string[] | undefined {
  const strings: string[] = [];
  const token = /\s*"((?:[^"\\]|\\\d{3}|\\.)*)"\s*/y;
  let at = 0;
  while (at < text.length) {
    token.lastIndex = at;
    const match = token.exec(text);
    if (!match) return undefined;
    strings.push(
      (match[1] as string).replace(/\\(\d{3})|\\(.)|([^\\]+)/gs, (_, code, escaped, plain) =>
        code !== undefined ? String.fromCharCode(Number(code)) : utf8Bytes(escaped ?? plain),
      ),
    );
    at = token.lastIndex;
  }
  return strings.length > 0 ? strings : undefined;
}

/** Why `answer` can never be among the answers to a `qtype` query; undefined when it can. */
export function answerProblem(qtype: string, answer: string): string | undefined {
  const text = answer.trim();
  if (qtype === 'A' && !net.isIPv4(text))
    return `an A answer is an IPv4 address (192.0.2.1), not ${JSON.stringify(answer)}`;
  if (qtype === 'AAAA' && !net.isIPv6(text))
    return `an AAAA answer is an IPv6 address (2001:db8::1), not ${JSON.stringify(answer)}`;
  if (qtype === 'TXT' && text.startsWith('"') && parseTxt(text) === undefined)
    return (
      'a quoted TXT answer is written as dig +short prints it, each string in double quotes ' +
      `("v=spf1" "include:example.com", with \\" inside one): ${JSON.stringify(answer)} is not`
    );
  return undefined;
}
