import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mergeScoped } from '../../src/reconcile/reconciler.js';
import { emptyState, StateStore, stateFilePath } from '../../src/reconcile/state.js';
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
