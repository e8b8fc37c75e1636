/**
 * The fast path and the `yaml` path must agree on everything a user sees: the resolved
 * config when valid, every diagnostic (file, line, column, path, message) when not.
 * Checked on the examples and on generated configs with random damage.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfigText, type LoadResult } from '../../src/config/index.js';
import { readSource } from '../../src/config/source.js';

const exampleDir = new URL('../../examples/', import.meta.url).pathname;

function visible(result: LoadResult): unknown {
  return result.ok
    ? { config: JSON.parse(JSON.stringify(result.config)), warnings: result.warnings }
    : { errors: result.errors, warnings: result.warnings };
}

function bothPaths(text: string): { fast: unknown; slow: unknown; parsedBy: string | null } {
  const read = readSource('f.yaml', text);
  return {
    fast: visible(loadConfigText(text, 'f.yaml', { host: null })),
    slow: visible(loadConfigText(text, 'f.yaml', { host: null, parser: 'yaml' })),
    parsedBy: read.ok ? read.source.parsedBy : null,
  };
}

describe('fast path and yaml path agree', () => {
  const files = readdirSync(exampleDir).filter((n) => statSync(join(exampleDir, n)).isFile());
  it.each(files)('on examples/%s, which the fast reader reads itself', (name) => {
    const { fast, slow, parsedBy } = bothPaths(readFileSync(join(exampleDir, name), 'utf8'));
    expect(parsedBy).toBe('fast');
    expect(fast).toStrictEqual(slow);
  });

  const address = fc.oneof(
    fc.constantFrom('10.0.0.1', '10.0.0.2', '2001:db8::1', 'host.example'),
    fc.ipV4(),
  );
  const port = fc.oneof(fc.constant(''), fc.constantFrom(':80', ':0', ':8080', ':70000'));
  const realLine = fc
    .tuple(
      address,
      port,
      fc.option(fc.integer({ min: -1, max: 70000 })),
      fc.option(fc.constantFrom('nat', 'dr', 'tun', 'fullnat')),
    )
    .map(([a, p, w, f]) => {
      const addr = a.includes(':') ? (p ? `"[${a}]${p}"` : a) : `${a}${p}`;
      const extras = [
        w === null ? '' : `, weight: ${w}`,
        f === null ? '' : `, forwarding: ${f}`,
      ].join('');
      return extras ? `      - { address: ${addr}${extras} }` : `      - ${addr}`;
    });
  const service = fc
    .tuple(
      fc.constantFrom('web', 'dns', 'shop', 'web'),
      fc.oneof(
        fc
          .tuple(address, port)
          .map(([a, p]) =>
            a.includes(':') ? `    address: "[${a}]${p || ':80'}"` : `    address: ${a}${p}`,
          ),
        fc.integer({ min: 0, max: 3 }).map((m) => `    fwmark: ${m}`),
      ),
      fc.constantFrom(
        '',
        '    scheduler: rr',
        '    scheduler: wrl',
        '    persistence: true',
        '    protocol: udp',
        '    ops: true',
        '    shceduler: rr',
        '    check: { type: tcp, interval: 1s, timeout: 2s }',
        '    lower: 5',
      ),
      fc.array(realLine, { maxLength: 4 }),
    )
    .map(([name, id, extra, reals]) =>
      [`  ${name}:`, id, extra, ...(reals.length ? ['    reals:', ...reals] : [])]
        .filter(Boolean)
        .join('\n'),
    );
  const config = fc
    .array(service, { minLength: 1, maxLength: 4 })
    .map((services) => `defaults: { forwarding: nat }\nservices:\n${services.join('\n')}\n`);

  it('on generated configs, valid and invalid', () => {
    fc.assert(
      fc.property(config, (text) => {
        const { fast, slow } = bothPaths(text);
        expect(fast).toStrictEqual(slow);
      }),
      { numRuns: 300 },
    );
  });

  it('on generated configs with a character changed', () => {
    fc.assert(
      fc.property(
        config,
        fc.nat(),
        fc.constantFrom(' ', ':', '-', '#', '"', '[', '{', 'x', '\n'),
        (text, at, ch) => {
          const p = at % text.length;
          const damaged = text.slice(0, p) + ch + text.slice(p + 1);
          const { fast, slow } = bothPaths(damaged);
          expect(fast).toStrictEqual(slow);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never throws, whatever the document holds', () => {
    const keys = fc.constantFrom(
      'services',
      'defaults',
      'kernel',
      'hosts',
      'vips',
      'reconcile',
      'reals',
      'check',
      'address',
      'fwmark',
      'sync',
      'web',
      'lb1',
      'persistence',
      'tunnel',
      'vip',
    );
    const tree = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, fc.anything({ maxDepth: 1 }), tie('map'), tie('list')),
      map: fc.dictionary(keys, tie('node'), { maxKeys: 4 }),
      list: fc.array(tie('node'), { maxLength: 3 }),
    })).map;
    fc.assert(
      fc.property(tree, (doc) => {
        const text = stringify(doc);
        const { fast, slow } = bothPaths(text);
        expect(fast).toStrictEqual(slow);
      }),
      { numRuns: 150 },
    );
  });
});
