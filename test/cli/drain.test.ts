/**
 * `lvsd drain` / `lvsd undrain`: the marker file written and removed, and SIGUSR1 sent to
 * the `lvsd run` that holds the state directory's lock (a stand-in process here), or a
 * clear word when none runs.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runDrain } from '../../src/cli/commands/drain.js';

describe('lvsd drain / undrain', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lvsd-drain-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('without a running daemon: the marker is written and removed, and it says so', async () => {
    const out: string[] = [];
    expect(
      await runDrain(true, { stateDir: dir, reason: 'kernel upgrade' }, (t) => out.push(t)),
    ).toBe(0);
    const marker = JSON.parse(await readFile(join(dir, 'announce-drain.json'), 'utf8'));
    expect(marker.reason).toBe('kernel upgrade');
    expect(out.join('')).toMatch(/no lvsd run holds .*from its next start/);
    expect(await runDrain(false, { stateDir: dir, json: true }, (t) => out.push(t))).toBe(0);
    expect(existsSync(join(dir, 'announce-drain.json'))).toBe(false);
    expect(JSON.parse(out.at(-1)!)).toEqual({
      drained: false,
      marker: join(dir, 'announce-drain.json'),
      signalled: null,
    });
  });

  it('signals the lvsd run holding the lock with SIGUSR1', async () => {
    // A stand-in for lvsd run (lock and run.pid name it) that reports SIGUSR1 and exits.
    const child = spawn(
      process.execPath,
      [
        '-e',
        "process.on('SIGUSR1', () => { console.log('usr1'); process.exit(0); }); setInterval(() => {}, 1000);",
        'run',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const said = new Promise<string>((resolve) =>
      child.stdout.on('data', (d) => resolve(String(d).trim())),
    );
    await new Promise((r) => setTimeout(r, 300));
    await writeFile(join(dir, 'lock'), `${child.pid}\n`);
    // An apply holding the lock (no run.pid of its own) is not signalled.
    const apply: string[] = [];
    expect(await runDrain(true, { stateDir: dir, json: true }, (t) => apply.push(t))).toBe(0);
    expect(JSON.parse(apply.join('')).signalled).toBeNull();
    await writeFile(join(dir, 'run.pid'), `${child.pid}\n`);
    const out: string[] = [];
    expect(await runDrain(true, { stateDir: dir }, (t) => out.push(t))).toBe(0);
    expect(await said).toBe('usr1');
    expect(out.join('')).toMatch(new RegExp(`lvsd run \\(pid ${child.pid}\\) drained`));
  });
});
