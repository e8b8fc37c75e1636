/**
 * schemas/lvsd.schema.json as strict JSON Schema tools see it: only the formats the
 * specification defines, compiled by ajv in strict mode, and every example config valid
 * against it (editors check the same files with the same schema).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { STANDARD_FORMATS } from '../../src/config/json-schema.js';

const root = new URL('../../', import.meta.url).pathname;
const schema = JSON.parse(readFileSync(join(root, 'schemas/lvsd.schema.json'), 'utf8'));

/** Every value of `key` anywhere in a JSON value. */
function valuesOf(node: unknown, key: string): unknown[] {
  if (Array.isArray(node)) return node.flatMap((item) => valuesOf(item, key));
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([k, v]) => [...(k === key ? [v] : []), ...valuesOf(v, key)]);
}

const examples = ['', 'conf.d'].flatMap((dir) =>
  readdirSync(join(root, 'examples', dir))
    .filter((name) => name.endsWith('.yaml'))
    .map((name) => join(dir, name)),
);

describe('the JSON Schema for strict validators', () => {
  it('uses only the formats JSON Schema 2020-12 defines', () => {
    const unknown = valuesOf(schema, 'format').filter(
      (format) => typeof format !== 'string' || !STANDARD_FORMATS.has(format),
    );
    expect(unknown).toEqual([]);
  });

  it('keeps the pattern where a format was dropped (http path starts with /)', () => {
    expect(valuesOf(schema, 'pattern')).toContain('^\\/.*');
  });

  // Compiled inside the tests, so that a schema ajv refuses fails them with ajv's reason.
  let compiled: ValidateFunction | null = null;
  const validator = () => {
    compiled ??= new Ajv2020({ strict: true, allErrors: true }).compile(schema);
    return compiled;
  };

  it('compiles in ajv strict mode', () => {
    expect(typeof validator()).toBe('function');
  });

  it('has examples to check', () => expect(examples.length).toBeGreaterThanOrEqual(10));

  it.each(examples)('examples/%s is valid against it', (name) => {
    const data = parse(readFileSync(join(root, 'examples', name), 'utf8'), { merge: true });
    const validate = validator();
    validate(data);
    expect(validate.errors ?? []).toEqual([]);
  });

  it('refuses what lvsd validate refuses: an unknown key, a weight above 65535', () => {
    const validate = validator();
    expect(validate({ services: { web: { address: '10.0.0.1:80', shceduler: 'rr' } } })).toBe(
      false,
    );
    expect(
      validate({ services: { web: { reals: [{ address: '10.0.0.2', weight: 70000 }] } } }),
    ).toBe(false);
  });
});
