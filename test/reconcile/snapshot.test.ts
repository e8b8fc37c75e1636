import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSnapshot, renderSnapshotSchema } from '../../src/reconcile/snapshot.js';

const root = join(import.meta.dirname, '../..');

describe('the director snapshot format', () => {
  it('schemas/lvsd-snapshot.schema.json is up to date (npm run build && npm run schema)', () => {
    expect(readFileSync(join(root, 'schemas/lvsd-snapshot.schema.json'), 'utf8')).toBe(
      renderSnapshotSchema(),
    );
  });

  it('names the field that is wrong in a damaged snapshot', () => {
    const damaged = {
      lvsd: { format: 1, version: '0.1.0', host: 'lb1', takenAt: '2026-12-06T00:00:00Z' },
      services: [],
      state: null,
      timeouts: { tcp: 900, tcpFin: 120, udp: 'x' },
      daemons: [],
      sysctls: {},
      addresses: null,
      markRules: null,
    };
    expect(() => parseSnapshot(damaged, 'lb1.json')).toThrow(
      /lb1\.json is not an lvsd snapshot \(lvsd ls --json\): timeouts\.udp: /,
    );
  });

  it('a snapshot of a format this lvsd does not know is refused, not read as a bare table', () => {
    const future = { lvsd: { format: 2 }, services: [] };
    expect(() => parseSnapshot(future, 'x.json')).toThrow(/is not an lvsd snapshot/);
  });
});
