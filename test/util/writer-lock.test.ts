import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LockHeldError, lockPath, takeWriterLock } from '../../src/util/writer-lock.js';

const dir = () => mkdtemp(join(tmpdir(), 'lvsd-lock-'));

/** A live process that is not us, for as long as the test needs one. */
function otherProcess(): { pid: number; stop: () => void } {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  return { pid: child.pid as number, stop: () => child.kill('SIGKILL') };
}

describe('the writer lock', () => {
  it('is held by one writer; the next one takes it once released', async () => {
    const d = await dir();
    const first = await takeWriterLock(d);
    expect((await readFile(lockPath(d), 'utf8')).trim()).toBe(String(process.pid));
    await first.release();
    const second = await takeWriterLock(d, { waitMs: 0 });
    await second.release();
    await second.release();
  });

  it('a second writer waits, then fails naming the holder', async () => {
    const d = await dir();
    const other = otherProcess();
    try {
      await writeFile(lockPath(d), `${other.pid}\n`);
      const started = Date.now();
      const err = await takeWriterLock(d, { waitMs: 300, pollMs: 20 }).catch((e: unknown) => e);
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
      expect(err).toBeInstanceOf(LockHeldError);
      expect((err as LockHeldError).holder).toBe(other.pid);
      expect((err as Error).message).toMatch(
        new RegExp(`another lvsd is changing this director \\(pid ${other.pid}: .*node`),
      );
    } finally {
      other.stop();
    }
  });

  it('a waiting writer gets the lock when the holder releases it', async () => {
    const d = await dir();
    const first = await takeWriterLock(d);
    setTimeout(() => void first.release(), 100);
    const second = await takeWriterLock(d, { waitMs: 5000, pollMs: 20 });
    expect((await readFile(lockPath(d), 'utf8')).trim()).toBe(String(process.pid));
    await second.release();
  });

  it('takes over a lock whose holder is gone (killed), and a garbage lock file', async () => {
    const d = await dir();
    const other = otherProcess();
    other.stop();
    await new Promise((r) => setTimeout(r, 100));
    await writeFile(lockPath(d), `${other.pid}\n`);
    const taken = await takeWriterLock(d, { waitMs: 2000, pollMs: 20 });
    await taken.release();
    await writeFile(lockPath(d), 'not a pid');
    const again = await takeWriterLock(d, { waitMs: 2000, pollMs: 20 });
    await again.release();
  });

  it('release leaves a lock that is no longer ours alone', async () => {
    const d = await dir();
    const lock = await takeWriterLock(d);
    await writeFile(lockPath(d), '1\n');
    await lock.release();
    expect(await readFile(lockPath(d), 'utf8')).toBe('1\n');
  });
});
