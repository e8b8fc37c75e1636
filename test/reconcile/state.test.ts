import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mergeScoped } from '../../src/reconcile/reconciler.js';
import {
  emptyState,
  type ReconcileState,
  sameState,
  StateStore,
  stateFilePath,
} from '../../src/reconcile/state.js';
import type { Plan } from '../../src/reconcile/types.js';

const dir = () => mkdtemp(join(tmpdir(), 'lvsd-state-'));

describe('StateStore', () => {
  it('reads a version 1 file, whose drains were keyed by one string', async () => {
    const d = await dir();
    await writeFile(
      stateFilePath(d),
      JSON.stringify({
        version: 1,
        owned: ['TCP 10.0.0.1:80'],
        draining: { 'TCP 10.0.0.1:80 -> 192.168.10.2:80': 1000, '[2001:db8::1]:80 -> x': 5 },
        vips: ['10.0.0.1/32 on lvsd0'],
      }),
    );
    const { state, warning } = await new StateStore(d).read();
    expect(warning).toBeUndefined();
    expect(state).toEqual({
      version: 2,
      owned: ['TCP 10.0.0.1:80'],
      draining: { 'TCP 10.0.0.1:80': { '192.168.10.2:80': 1000 }, '[2001:db8::1]:80': { x: 5 } },
      vips: ['10.0.0.1/32 on lvsd0'],
    });
  });

  it('an unusable file is an empty state with a warning, and is not remembered', async () => {
    const d = await dir();
    await writeFile(stateFilePath(d), '{"version": 2, "owned": 3');
    const store = new StateStore(d);
    const first = await store.read();
    expect(first.state).toEqual(emptyState());
    expect(first.warning).toMatch(/not a valid lvsd state file/);
    // Nothing remembered: the next pass reads the file again (and warns again).
    expect((await store.current()).warning).toMatch(/not a valid lvsd state file/);
  });

  it('does not write a state the file already holds', async () => {
    const d = await dir();
    const store = new StateStore(d);
    const state = { ...emptyState(), owned: ['TCP 10.0.0.1:80'] };
    await store.write(state);
    const written = (await stat(stateFilePath(d))).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    await store.write({ ...state });
    expect((await stat(stateFilePath(d))).mtimeMs).toBe(written);
    expect((await store.current()).state).toEqual(state);
  });

  it('writes a state that differs from the last by one drain time, and not one that differs by key order', async () => {
    const d = await dir();
    const store = new StateStore(d);
    const drains = { 'TCP 10.0.0.1:80': { '192.168.10.2:80': 7, '192.168.10.3:80': 8 } };
    await store.write({ ...emptyState(), owned: ['TCP 10.0.0.1:80'], draining: drains });
    await store.write({
      ...emptyState(),
      owned: ['TCP 10.0.0.1:80'],
      draining: { 'TCP 10.0.0.1:80': { '192.168.10.2:80': 7, '192.168.10.3:80': 9 } },
    });
    const read = async () => JSON.parse(await readFile(stateFilePath(d), 'utf8'));
    expect((await read()).draining['TCP 10.0.0.1:80']['192.168.10.3:80']).toBe(9);
    const written = (await stat(stateFilePath(d))).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    await store.write({
      ...emptyState(),
      owned: ['TCP 10.0.0.1:80'],
      draining: { 'TCP 10.0.0.1:80': { '192.168.10.3:80': 9, '192.168.10.2:80': 7 } },
    });
    expect((await stat(stateFilePath(d))).mtimeMs).toBe(written);
  });

  it('a failed write forgets what it remembered, so the next pass reads the file', async () => {
    const d = await dir();
    const store = new StateStore(d);
    await store.write({ ...emptyState(), owned: ['a'] });
    // A directory where the file should be: the rename fails, even for root.
    await rm(stateFilePath(d));
    await mkdir(stateFilePath(d));
    await expect(store.write({ ...emptyState(), owned: ['b'] })).rejects.toThrow();
    const after = await store.current();
    expect(after.state).toEqual(emptyState());
    expect(after.warning).toMatch(/cannot read/);
  });

  it('without a directory there is no state: nothing read, nothing written', async () => {
    const store = new StateStore(null);
    await store.write({ ...emptyState(), owned: ['x'] });
    expect((await store.read()).state).toEqual(emptyState());
  });

  it('writes version 2', async () => {
    const d = await dir();
    await new StateStore(d).write({
      ...emptyState(),
      draining: { 'TCP 10.0.0.1:80': { '192.168.10.2:80': 7 } },
    });
    expect(JSON.parse(await readFile(stateFilePath(d), 'utf8'))).toMatchObject({
      version: 2,
      draining: { 'TCP 10.0.0.1:80': { '192.168.10.2:80': 7 } },
    });
  });
});

describe('mergeScoped', () => {
  it("replaces the scoped services' drains whole and keeps the others", () => {
    const state = {
      ...emptyState(),
      owned: ['TCP 10.0.0.2:80'],
      draining: {
        'TCP 10.0.0.1:80': { '192.168.10.2:80': 1, '192.168.10.3:80': 2 },
        'TCP 10.0.0.2:80': { '192.168.10.2:80': 3 },
      },
    };
    const plan = {
      next: { draining: { 'TCP 10.0.0.1:80': { '192.168.10.3:80': 2 } } },
    } as unknown as Plan;
    expect(mergeScoped(state, plan, new Set(['TCP 10.0.0.1:80']))).toEqual({
      version: 2,
      owned: ['TCP 10.0.0.2:80', 'TCP 10.0.0.1:80'],
      draining: {
        'TCP 10.0.0.1:80': { '192.168.10.3:80': 2 },
        'TCP 10.0.0.2:80': { '192.168.10.2:80': 3 },
      },
    });
  });
});

describe('sameState', () => {
  const base = (): ReconcileState => ({
    version: 2,
    owned: ['TCP 10.0.0.1:80', 'FWM 7'],
    draining: { 'TCP 10.0.0.1:80': { '192.168.10.2:80': 7 }, 'FWM 7': { '192.168.10.4:0': 3 } },
    vips: ['10.0.0.1/32 on lvsd0'],
  });
  const changes: Array<[string, (s: ReconcileState) => void]> = [
    ['an owned service more', (s) => s.owned.push('UDP 10.0.0.1:53')],
    ['the owned services in another order', (s) => s.owned.reverse()],
    ['a drain time', (s) => (s.draining['FWM 7']!['192.168.10.4:0'] = 4)],
    ['a drain more', (s) => (s.draining['FWM 7']!['192.168.10.5:0'] = 3)],
    ['a drain less', (s) => delete s.draining['TCP 10.0.0.1:80']!['192.168.10.2:80']],
    ['a service without drains', (s) => delete s.draining['FWM 7']],
    ['a VIP less', (s) => s.vips!.pop()],
  ];

  it.each(changes)('tells states apart by %s, both ways', (_, change) => {
    const changed = base();
    change(changed);
    expect(sameState(base(), changed)).toBe(false);
    expect(sameState(changed, base())).toBe(false);
  });

  it('holds equal states with drains listed in another order, and no VIPs as an empty list', () => {
    const reordered = base();
    reordered.draining = {
      'FWM 7': { '192.168.10.4:0': 3 },
      'TCP 10.0.0.1:80': { '192.168.10.2:80': 7 },
    };
    expect(sameState(base(), reordered)).toBe(true);
    const { vips: _, ...noVips } = base();
    expect(sameState({ ...noVips }, { ...noVips, vips: [] })).toBe(true);
  });
});
