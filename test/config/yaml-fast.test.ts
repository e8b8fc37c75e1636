/**
 * The fast reader must give exactly what yaml.parse gives, or step aside (null).
 * Hand-picked documents, then generated ones (fast-check), then mutated ones: every time
 * the fast reader answers, its answer must equal yaml's, and yaml must have accepted the text.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDocument, stringify } from 'yaml';
import type { DataPath } from '../../src/config/diagnostics.js';
import { SourceFile } from '../../src/config/source.js';
import { EntryMemo, fastParseYaml } from '../../src/config/yaml-fast.js';

/** Every path in the data, plus a missing key under each mapping. */
function pathsOf(value: unknown, prefix: DataPath = []): DataPath[] {
  const out: DataPath[] = [prefix];
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) out.push(...pathsOf(v, [...prefix, i]));
  } else if (value !== null && typeof value === 'object') {
    out.push([...prefix, 'no-such-key']);
    for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...prefix, k]));
  }
  return out;
}

/** The fast reader's positions equal yaml's for every path, at keys and at values. */
function samePositions(text: string): boolean {
  const fast = fastParseYaml(text);
  if (fast === null) return false;
  const viaFast = new SourceFile('f.yaml', text, fast.value, 'fast');
  const viaYaml = new SourceFile('f.yaml', text, fast.value, 'yaml');
  for (const path of pathsOf(fast.value)) {
    for (const at of ['key', 'value'] as const) {
      expect(viaFast.locate(path, at), `${JSON.stringify(path)} at ${at} in\n${text}`).toEqual(
        viaYaml.locate(path, at),
      );
    }
  }
  return true;
}

function yamlValue(text: string): { ok: boolean; value: unknown } {
  const doc = parseDocument(text);
  return { ok: doc.errors.length === 0, value: doc.errors.length === 0 ? doc.toJS() : undefined };
}

/** The fast answer, when there is one, equals yaml's; returns whether the fast path answered. */
function agree(text: string): boolean {
  const fast = fastParseYaml(text);
  if (fast === null) return false;
  const slow = yamlValue(text);
  expect(slow.ok, `fast path accepted text yaml rejects:\n${text}`).toBe(true);
  expect(fast.value, text).toStrictEqual(slow.value);
  return true;
}

const accepted = [
  '',
  `${'k'.repeat(1024)}: 1\n`,
  '# only a comment\n',
  '---\na: 1\n',
  'a: 1\nb: two\nc: 3.5\nd: true\ne: ~\nf:\ng: null\nh: 0x1F\ni: 0o17\nj: 1e3\nk: -.inf\nl: .nan\nm: +12\nn: 012\n',
  'key with spaces: v\n"quoted key": 1\n\'single\': 2\n',
  "a: \"double\" # comment\nb: 'it''s'\nc: plain # comment\nd: x#y\n",
  'services:\n  web:\n    address: 10.0.0.1:80\n    reals:\n      - 192.168.10.2:80\n' +
    '      - { address: 192.168.11.2:80, weight: 3 }\n',
  'reals:\n- a\n- b\nnext: 1\n',
  'list:\n  - name: x\n    port: 1\n  - name: y\n    nested:\n      deep: [1, [2, 3], {a: b}]\n',
  'a: [2001:db8::1, "x, y", \'z\']\nb: {k: v, "q": [ ]}\nc: []\nd: {}\n',
  'a:\n  -\n    b: 1\n  - # comment\n    c: 2\n',
  'a: 1\r\nb: 2\r\n',
  'true: 1\n1.50: x\n~: y\n0x10: z\n',
  'check: { type: tcp, interval: 2s, timeout: 1s, rise: 2, fall: 3 }\n',
  'a: -1\nb: -x\nc: "-"\nd: .5\ne: 1.\nf: 1_000\ng: 0b1\nh: yes\ni: Off\nj: TRUE\nk: nULL\n',
  'a: b,c\nd: [a b, c d]\ne: x [y] {z}\n',
];

const stepsAside = [
  'a: &x 1\nb: *x\n',
  // a merge key means something to the yaml path (merge: true), even without an alias
  'a:\n  <<: 0\n',
  'a: { <<: 1 }\n',
  'a: !!str 1\n',
  'a: |\n  text\n',
  'a: >\n  folded\n',
  'a: "esc\\n"\n',
  'a: plain\n  continued\n',
  'a: 1\na: 2\n',
  '? complex\n: value\n',
  'a: 1\n---\nb: 2\n',
  'a:\n\t- x\n',
  'a: [1,\n  2]\n',
  'a: b: c\n',
  '- - x\n',
  'a: [1, 2, ]\n',
  'a:  1\n b: 2\n',
  'a: "unterminated\n',
  '%YAML 1.2\n---\na: 1\n',
  'a: {b: 1, b: 2}\n',
  'a: @x\n',
  'a: [2001:db8::1]:80\n',
  'just a scalar\n',
  '__proto__: 1\n',
  // an implicit key may not be longer than 1024 characters (yaml: KEY_OVER_1024_CHARS)
  `${'k'.repeat(1025)}: 1\n`,
  `"${'k'.repeat(1023)}": 1\n`,
  `- ${'k'.repeat(1025)}: 1\n`,
];

describe('fast YAML reader', () => {
  it.each(accepted)('reads %j exactly as yaml does', (text) => {
    expect(agree(text)).toBe(true);
  });

  it.each(accepted)('places every key and value of %j where yaml does', (text) => {
    expect(samePositions(text)).toBe(true);
  });

  it('places keys and values where yaml does, with empty values and trailing spaces', () => {
    for (const text of [
      'a:   \nb: 1\n',
      'a: # c\n  \nb:\n- x\n-   \n- # c\n  k: v\n',
      'list:\n- a: 1\n  b:\n- - \n',
    ]) {
      if (fastParseYaml(text)) samePositions(text);
    }
  });

  it.each(stepsAside)('steps aside for %j', (text) => {
    expect(fastParseYaml(text)).toBeNull();
  });

  const scalar = fc.oneof(
    fc.integer({ min: -100000, max: 100000 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.string({ maxLength: 12 }),
    fc.constantFrom(
      '10.0.0.1:80',
      '2001:db8::1',
      '[2001:db8::1]:80',
      '1s',
      '500ms',
      'yes',
      'no',
      '0x10',
      '1e3',
      '~',
      '',
      '#',
      ' a ',
      'a: b',
      '- x',
      "it's",
      'x"y',
    ),
  );
  const value = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small' }, scalar, tie('map'), tie('list')),
    map: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), tie('node'), { maxKeys: 5 }),
    list: fc.array(tie('node'), { maxLength: 5 }),
  })).map;

  it('agrees with yaml on generated documents in several styles', () => {
    let answered = 0;
    fc.assert(
      fc.property(
        value,
        fc.constantFrom(0, 1, 2, 3),
        fc.constantFrom(2, 3, 4),
        (doc, flowLevel, indent) => {
          const text = stringify(doc, {
            flowCollectionPadding: flowLevel % 2 === 0,
            indent,
            indentSeq: flowLevel < 2,
            collectionStyle: flowLevel === 3 ? 'flow' : 'any',
          });
          if (agree(text)) {
            answered++;
            samePositions(text);
          }
        },
      ),
      { numRuns: 600 },
    );
    // The generator is built to stay mostly inside the subset; make sure the comparison ran.
    expect(answered).toBeGreaterThan(100);
  });

  it('agrees with yaml on mutated config text (or steps aside)', () => {
    const base = [
      'services:',
      '  web:',
      '    address: 10.0.0.1:80 # vip',
      '    reals:',
      '      - 192.168.10.2:80',
      '      - { address: "192.168.11.2:80", weight: 3 }',
      '    check: { type: tcp }',
      '  dns:',
      '    address: 10.0.0.2:53',
      '    protocol: udp',
      '    reals: [a, b]',
      '',
    ].join('\n');
    const alphabet = [
      ' ',
      ':',
      '-',
      '#',
      '"',
      "'",
      '[',
      ']',
      '{',
      '}',
      ',',
      '\n',
      'a',
      '1',
      '.',
      '|',
      '&',
      '*',
      '!',
      '?',
    ];
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.nat(base.length),
            fc.constantFrom(...alphabet),
            fc.constantFrom('insert', 'replace', 'delete'),
          ),
          { minLength: 1, maxLength: 3 },
        ),
        (edits) => {
          let text = base;
          for (const [at, ch, op] of edits) {
            const p = at % (text.length + 1);
            text =
              op === 'insert'
                ? text.slice(0, p) + ch + text.slice(p)
                : op === 'replace'
                  ? text.slice(0, p) + ch + text.slice(p + 1)
                  : text.slice(0, p) + text.slice(p + 1);
          }
          if (agree(text)) samePositions(text);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('reads the same through the memo of the last read as without it, edit after edit', () => {
    const base = [
      'services:',
      '  web:',
      '    address: 10.0.0.1:80',
      '    reals:',
      '      - 192.168.10.2:80',
      '      - address: 192.168.11.2:80',
      '        weight: 3',
      '  dns:',
      '    address: 10.0.0.2:53',
      '    reals: [a, b]',
      '  mail: { address: 10.0.0.3:25 }',
      '',
    ].join('\n');
    const alphabet = [' ', ':', '-', '#', '\n', 'a', '1', '{', '}'];
    let recalled = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(base.length), fc.constantFrom(...alphabet), fc.boolean()), {
          minLength: 1,
          maxLength: 6,
        }),
        (edits) => {
          const memo = new EntryMemo();
          let text = base;
          fastParseYaml(text, memo);
          for (const [at, ch, insert] of edits) {
            const p = at % (text.length + 1);
            text = text.slice(0, p) + (insert ? ch : '') + text.slice(p + (insert ? 0 : 1));
            const fresh = fastParseYaml(text);
            const viaMemo = fastParseYaml(text, memo);
            expect(viaMemo, text).toStrictEqual(fresh);
            const webOf = (read: { value: unknown } | null) =>
              (read?.value as { services?: { web?: unknown } } | null)?.services?.web;
            const web = webOf(viaMemo);
            if (web !== undefined && web === webOf(fastParseYaml(text, memo))) recalled++;
          }
        },
      ),
      { numRuns: 800 },
    );
    // Most edits leave web's lines alone: its value is then the last read's object.
    expect(recalled).toBeGreaterThan(500);
  });
});
