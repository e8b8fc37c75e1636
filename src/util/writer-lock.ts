/**
 * One writer at a time: `lvsd apply`, `lvsd run` and `lvsd realserver` change the kernel
 * and the state files, and two of them at once would each plan against a table the other
 * is changing. Each takes `<state dir>/lock` for as long as it writes; `plan`, `ls`,
 * `validate` and `status` only read and take none.
 *
 * The lock is a file holding the holder's pid, made with link(2), which fails when the
 * name exists: exactly one process makes it. A lock whose holder is gone (killed, the
 * machine rebooted without /run being tmpfs) is stale: it is moved aside under a name of
 * the taker's own, read again to be sure it is the stale one, and removed. A second writer
 * waits a little (an apply takes seconds), then fails naming the holder.
 */
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface WriterLock {
  /** Lets the next writer in; safe to call twice. */
  release(): Promise<void>;
}

export class LockHeldError extends Error {
  override readonly name = 'LockHeldError';
  constructor(
    readonly path: string,
    readonly holder: number,
    readonly holderCommand: string,
  ) {
    super(
      `another lvsd is changing this director (pid ${holder}${holderCommand ? `: ${holderCommand}` : ''}); ` +
        `it holds ${path}. Wait for it to finish, or stop it.`,
    );
  }
}

export function lockPath(stateDir: string): string {
  return join(stateDir, 'lock');
}

/** True while a process with this pid exists (EPERM: it exists, owned by someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function holderOf(path: string): Promise<number | null> {
  try {
    const pid = Number.parseInt(await readFile(path, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function commandOf(pid: number): Promise<string> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter(Boolean).join(' ').slice(0, 200);
  } catch {
    return '';
  }
}

/** One attempt: true when this process now holds the lock. */
async function tryTake(path: string, mine: string): Promise<boolean> {
  try {
    await link(mine, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const holder = await holderOf(path);
  if (holder === null) return false; // released between our link and our read: try again
  if (holder === process.pid) return false;
  if (holder !== 0 && alive(holder)) return false;
  // Stale (or unreadable garbage): move it aside under our own name, check it is still the
  // lock we judged stale (another taker may have replaced it meanwhile), then remove it.
  const aside = `${path}.stale.${process.pid}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  const moved = await holderOf(aside);
  if (moved !== holder) {
    // Someone else's fresh lock: put it back unless a newer one took its place.
    await link(aside, path).catch(() => undefined);
  }
  await rm(aside, { force: true });
  return false;
}

/**
 * Takes the state directory's writer lock, waiting up to `waitMs` (default 10 s) for a
 * live holder to finish; throws LockHeldError naming the holder after that.
 */
export async function takeWriterLock(
  stateDir: string,
  options: { waitMs?: number; pollMs?: number } = {},
): Promise<WriterLock> {
  await mkdir(stateDir, { recursive: true });
  const path = lockPath(stateDir);
  const mine = `${path}.${process.pid}`;
  await writeFile(mine, `${process.pid}\n`);
  const deadline = Date.now() + (options.waitMs ?? 10_000);
  try {
    while (!(await tryTake(path, mine))) {
      if (Date.now() >= deadline) {
        const holder = (await holderOf(path)) ?? 0;
        throw new LockHeldError(path, holder, holder ? await commandOf(holder) : '');
      }
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 100));
    }
  } finally {
    await rm(mine, { force: true });
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      if ((await holderOf(path)) === process.pid) await rm(path, { force: true });
    },
  };
}
