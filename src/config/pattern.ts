/**
 * The regular expressions of checks (http `body`, `body_no_match`, udp `expect`): JavaScript
 * syntax, compiled the same way when the config is validated and when a checker is
 * prepared, so a pattern that validates is one the checker can run.
 */

/** The check settings that become RegExp flags. */
export interface PatternFlags {
  ignore_case?: boolean;
  multiline?: boolean;
}

export function regexFlags(flags: PatternFlags): string {
  return `${flags.ignore_case ? 'i' : ''}${flags.multiline ? 'm' : ''}`;
}

export function compilePattern(pattern: string, flags: PatternFlags): RegExp {
  return new RegExp(pattern, regexFlags(flags));
}

const INLINE_FLAGS: Record<string, string> = { i: 'ignore_case: true', m: 'multiline: true' };

/** Why a pattern cannot be used, in a user's words; undefined when it compiles. */
export function patternProblem(pattern: string, flags: PatternFlags): string | undefined {
  // PCRE's (?i) (keepalived's regex) is not JavaScript: say what to write instead.
  const inline = /^\(\?([a-zA-Z]+)\)/.exec(pattern);
  if (inline) {
    const options = [...(inline[1] as string)].map(
      (f) => INLINE_FLAGS[f] ?? `(?${f}) has no equivalent`,
    );
    return `inline flags (?${inline[1]}) are PCRE syntax, not JavaScript: drop them and set ${options.join(', ')}`;
  }
  try {
    compilePattern(pattern, flags);
    return undefined;
  } catch (err) {
    const why = (err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
    return `not a valid JavaScript regular expression: ${why.charAt(0).toLowerCase()}${why.slice(1)}`;
  }
}
