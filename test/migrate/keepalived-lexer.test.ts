/**
 * keepalived.conf as keepalived's lib/parser.c reads it: comments, quotes, braces anywhere
 * on a line, includes with globs relative to the including file, @config-id lines,
 * $definitions; and errors with the file and line they are at.
 */
import { describe, expect, it } from 'vitest';
import { expandBraces, glob } from '../../src/migrate/glob.js';
import {
  decomment,
  lexKeepalived,
  type Statement,
  splitWords,
} from '../../src/migrate/keepalived-lexer.js';
import { memFs } from './helpers.js';

/** Statements as nested [words, block] for compact expectations. */
type Shape = string | [string, Shape[]];
function shape(statements: readonly Statement[]): Shape[] {
  return statements.map((s) => (s.block ? [s.words.join(' '), shape(s.block)] : s.words.join(' ')));
}

function lex(files: Record<string, string>, main = 'k.conf', configId?: string) {
  return lexKeepalived(main, { fs: memFs(files), ...(configId ? { configId } : {}) });
}

function findings(files: Record<string, string>, main = 'k.conf') {
  return lex(files, main).findings.list.map(
    (d) => `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`,
  );
}

describe('lines', () => {
  it.each([
    ['weight 2 # heavier', 'weight 2'],
    ['weight 2 ! heavier', 'weight 2'],
    ['misc_path "/bin/check #1"', 'misc_path "/bin/check #1"'],
    ['notify "a \\# b"', 'notify "a \\# b"'],
    ['virtualhost a\\#b', 'virtualhost a#b'],
    ['   lb_algo rr   ', 'lb_algo rr'],
  ])('decomment(%j) = %j', (line, out) => expect(decomment(line)).toBe(out));

  it('splits words as keepalived does: blanks, and "..." as one word', () => {
    expect(splitWords('misc_path "/bin/check 10.0.0.1" extra')).toEqual([
      'misc_path',
      '/bin/check 10.0.0.1',
      'extra',
    ]);
    expect(splitWords('a"b c"')).toEqual(['a', 'b c']);
    expect(splitWords('x "open')).toEqual({ error: 'unmatched quote: x "open' });
  });
});

describe('blocks', () => {
  it('braces end a line wherever they stand, outside quotes', () => {
    const { statements } = lex({
      'k.conf':
        'virtual_server 10.0.0.1 80 { lb_algo rr\n  real_server 10.1.1.1 80 { weight ' +
        '2 } }\nvirtual_server fwmark 1\n{\n}\n',
    });
    expect(shape(statements)).toEqual([
      ['virtual_server 10.0.0.1 80', ['lb_algo rr', ['real_server 10.1.1.1 80', ['weight 2']]]],
      ['virtual_server fwmark 1', []],
    ]);
  });

  it("keeps each statement's file, line and column, and the comment just above it", () => {
    const { statements } = lex({
      'k.conf': '# web farm\nvirtual_server 10.0.0.1 80 {\n    lb_algo rr\n}\n',
    });
    const [vs] = statements;
    expect(vs?.pos).toEqual({ file: 'k.conf', line: 2, column: 1 });
    expect(vs?.comments).toEqual(['web farm']);
    expect(vs?.block?.[0]?.pos).toEqual({ file: 'k.conf', line: 3, column: 5 });
  });

  it('a blank line ends a comment block: only the comment just above counts', () => {
    const { statements } = lex({ 'k.conf': '# old\n\n# web\nvirtual_server 10.0.0.1 80 {\n}\n' });
    expect(statements[0]?.comments).toEqual(['web']);
  });
});

describe('include', () => {
  const files = {
    'etc/keepalived.conf': 'include conf.d/*.conf\ninclude svc/{web,mail}.conf\n',
    'etc/conf.d/20-b.conf': 'b\n',
    'etc/conf.d/10-a.conf': 'a\ninclude ../svc/inner.conf\n',
    'etc/conf.d/.hidden.conf': 'hidden\n',
    'etc/conf.d/notes.txt': 'txt\n',
    'etc/svc/mail.conf': 'mail\n',
    'etc/svc/web.conf': 'web\n',
    'etc/svc/inner.conf': 'inner\n',
  };

  it('globs sorted, {a,b} in the order written, relative to the including file, dot files left out', () => {
    const { statements, files: read } = lex(files, 'etc/keepalived.conf');
    expect(shape(statements)).toEqual(['a', 'inner', 'b', 'web', 'mail']);
    expect(read).toEqual([
      'etc/keepalived.conf',
      'etc/conf.d/10-a.conf',
      'etc/svc/inner.conf',
      'etc/conf.d/20-b.conf',
      'etc/svc/web.conf',
      'etc/svc/mail.conf',
    ]);
  });

  it('an include may stand inside a block', () => {
    const { statements } = lex({
      'k.conf': 'virtual_server 10.0.0.1 80 {\n  include reals/*.conf\n}\n',
      'reals/1.conf': 'real_server 10.1.1.1 80 {\n}\n',
      'reals/2.conf': 'real_server 10.1.1.2 80 {\n}\n',
    });
    expect(shape(statements)).toEqual([
      [
        'virtual_server 10.0.0.1 80',
        [
          ['real_server 10.1.1.1 80', []],
          ['real_server 10.1.1.2 80', []],
        ],
      ],
    ]);
  });

  it('a missing file is an error, a glob that matches nothing a warning, a loop an error', () => {
    expect(findings({ 'k.conf': 'include nope.conf\ninclude none/*.conf\n' })).toEqual([
      'k.conf:1:1: error: include nope.conf: no such file (nope.conf)',
      'k.conf:2:1: warning: include none/*.conf: no file matches',
    ]);
    expect(findings({ 'k.conf': 'include k.conf\n' })[0]).toMatch(
      /^k\.conf:1:1: error: include k\.conf: includes nested 32 deep/,
    );
  });

  it('brace alternatives expand in order, nested too', () => {
    expect(expandBraces('a{1,2{x,y}}b')).toEqual(['a1b', 'a2xb', 'a2yb']);
    expect(glob(memFs({ 'd/x1': '', 'd/x2': '', 'd/y': '' }), 'd/x[0-9]', '.')).toEqual([
      'd/x1',
      'd/x2',
    ]);
    expect(glob(memFs({ 'd/x1': '', 'd/x2': '' }), 'd/x[!1]', '.')).toEqual(['d/x2']);
  });
});

describe('conditional lines and definitions', () => {
  it('@id lines count on that config id only, @^id everywhere else', () => {
    const text = '@lb1 a\n@lb2 b\n@^lb1 c\nd\n';
    expect(shape(lex({ 'k.conf': text }, 'k.conf', 'lb1').statements)).toEqual(['a', 'd']);
    expect(shape(lex({ 'k.conf': text }, 'k.conf', 'lb2').statements)).toEqual(['b', 'c', 'd']);
  });

  // biome-ignore lint/suspicious/noTemplateCurlyInString: keepalived's own ${NAME} syntax
  it('$NAME=value is replaced in later lines, as $NAME and ${NAME}; unknown names stay; $_HASH in quotes', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: keepalived's own ${NAME} syntax
    const text = '$VIP=10.0.0.1\n$PORT = 80\nvirtual_server $VIP ${PORT}\nx $OTHER "$_HASH"\n';
    expect(shape(lex({ 'k.conf': text }).statements)).toEqual([
      'virtual_server 10.0.0.1 80',
      'x $OTHER #',
    ]);
  });

  it('what the import does not expand is an error at its line', () => {
    expect(findings({ 'k.conf': '~SEQ(n,1,3) x $n\n$M=a \\\n' })).toEqual([
      'k.conf:1:1: error: ~SEQ(n,1,3) blocks are not expanded by the import: write the lines out',
      'k.conf:2:1: error: multi-line definition $M is not expanded by the import: write it on one line',
    ]);
  });
});

describe('syntax errors name their file and line', () => {
  it('an unclosed block at the end of an included file, an extra }, an unterminated quote', () => {
    expect(
      findings({
        'k.conf': 'include part.conf\nvirtual_server 10.0.0.1 80 {\n}\n}\nmisc_path "x\n',
        'part.conf': 'virtual_server 10.0.0.2 80 {\n  real_server 10.1.1.1 80 {\n',
      }),
    ).toEqual([
      "part.conf:2:3: error: 'real_server' block is not closed: '}' missing before the end of the file",
      "part.conf:1:1: error: 'virtual_server' block is not closed: '}' missing before the end of the file",
      "k.conf:4:1: error: extra '}': no block is open here",
      'k.conf:5:1: error: unmatched quote: misc_path "x',
    ]);
  });
});
