/**
 * The fault suite's damaged configs (test/kernel/faults/mutants.ts), checked on the host
 * against the config loader: the kernel test feeds them to a running daemon and expects,
 * kind by kind, a refused reload of the right sort (invalid, or valid and refused by the
 * guard). Here each mutant's class is settled once, cheaply, for the default seed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/index.js';
import { serviceId } from '../../src/ipvs/model.js';
import { desiredState } from '../../src/reconcile/desired.js';
import {
  mutants,
  runningConfig,
  runningDamaged,
  type Mutant,
  type SourceFile,
} from '../kernel/faults/mutants.js';
import { FAULT_SEED, exampleFiles } from '../kernel/faults/sources.js';

/** What the loader makes of a mutant: invalid, or the service ids of a valid config. */
function classify(m: Mutant): { valid: false } | { valid: true; ids: string[] } {
  const result = loadConfigText(m.bytes.toString('utf8'), 'lvsd.yaml', { host: null });
  if (!result.ok) return { valid: false };
  return {
    valid: true,
    ids: desiredState(result.config).services.map((s) => serviceId(s.service)),
  };
}

const running = () => {
  const result = loadConfigText(runningConfig(), 'lvsd.yaml', { host: null });
  if (!result.ok) throw new Error('the running config is invalid');
  return new Set(desiredState(result.config).services.map((s) => serviceId(s.service)));
};

describe('fault suite mutants', () => {
  const all = mutants(exampleFiles(), FAULT_SEED);

  it('are 200 or more, of every kind, from every example, and the same for the same seed', () => {
    expect(all.length).toBeGreaterThanOrEqual(200);
    expect(new Set(all.map((m) => m.kind)).size).toBe(10);
    for (const file of exampleFiles()) expect(all.some((m) => m.id.includes(file.name))).toBe(true);
    expect(mutants(exampleFiles(), FAULT_SEED).map((m) => m.bytes.toString('hex'))).toEqual(
      all.map((m) => m.bytes.toString('hex')),
    );
  });

  it('are each what their kind promises: invalid, or valid with no service of the running config', () => {
    const ours = running();
    const wrong: string[] = [];
    for (const m of all) {
      const c = classify(m);
      const shared = c.valid ? c.ids.filter((id) => ours.has(id)) : [];
      const ok =
        shared.length === 0 &&
        (m.expect === 'either' ||
          (m.expect === 'invalid' && !c.valid) ||
          (m.expect === 'refused' && c.valid && c.ids.length === 0));
      if (!ok) wrong.push(`${m.id}: expected ${m.expect}, loader says ${JSON.stringify(c)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('the running config is valid, and its damaged copies are what they say', () => {
    expect(running().size).toBe(3);
    expect(
      classify({
        id: 'edit',
        kind: 'empty',
        expect: 'either',
        bytes: Buffer.from(runningConfig(true)),
      }),
    ).toMatchObject({ valid: true });
    for (const m of runningDamaged()) {
      const c = classify(m);
      if (m.expect === 'invalid') expect(c, m.id).toEqual({ valid: false });
      else expect(c, m.id).toEqual({ valid: true, ids: [] });
    }
  });

  it('the example files are all found', () => {
    const names = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.yaml'));
    expect(
      exampleFiles()
        .map((f: SourceFile) => f.name)
        .sort(),
    ).toEqual(
      [
        ...names('examples').map((n) => `examples/${n}`),
        ...names(join('examples', 'conf.d')).map((n) => `examples/conf.d/${n}`),
      ].sort(),
    );
    expect(exampleFiles()[0]!.text).toBe(readFileSync(exampleFiles()[0]!.name, 'utf8'));
  });
});
