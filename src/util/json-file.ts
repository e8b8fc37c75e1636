/**
 * lvsd's small files of its own (the reconcile state, the real-server record, BIRD's route
 * includes): read through a zod schema, written whole or not at all.
 */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { z } from 'zod';

export type JsonFileRead<T> =
  | { status: 'ok'; value: T }
  | { status: 'absent' }
  | { status: 'unreadable'; reason: string }
  | { status: 'invalid' };

/** The file's value; absent (ENOENT), unreadable (with why) or invalid (not JSON, or not of the schema). */
export async function readJsonFile<S extends z.ZodType>(
  path: string,
  schema: S,
): Promise<JsonFileRead<z.infer<S>>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'absent' };
    return { status: 'unreadable', reason: (err as Error).message };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { status: 'invalid' };
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? { status: 'ok', value: parsed.data } : { status: 'invalid' };
}

/**
 * Written to a temporary file, flushed to disk, renamed over the old one, and the directory
 * flushed too: after a crash or a power cut the file is the old one or the new one, never
 * half of either, and a rename the caller was told about is not forgotten. A reader (BIRD,
 * lvsd itself) sees the old file or the new one, never a half-written one. `mode`, when
 * given, is the file's mode whatever the umask.
 */
export async function writeFileAtomically(
  path: string,
  text: string,
  mode?: number,
): Promise<void> {
  const dir = dirname(path);
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    const file = await openInFolder(temporary, dir);
    try {
      // The process umask trims the mode open() asks for; a reader that runs as another
      // user (BIRD) needs the mode set outright.
      if (mode !== undefined) await file.chmod(mode);
      await file.writeFile(text);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
  const folder = await open(dir, 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}

/**
 * Folders this process has made or found: the daemon writes its state file after every
 * pass, and a recursive mkdir each time cost a mass failure's passes more than the write
 * (issue 15). A folder removed meanwhile is made again when the open finds it gone.
 */
const folders = new Set<string>();

async function openInFolder(path: string, dir: string) {
  if (!folders.has(dir)) {
    await mkdir(dir, { recursive: true });
    folders.add(dir);
  }
  try {
    return await open(path, 'w', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dir, { recursive: true });
    return open(path, 'w', 0o644);
  }
}

/** The value as indented JSON, written with writeFileAtomically. */
export function writeJsonFile(path: string, value: unknown): Promise<void> {
  return writeFileAtomically(path, `${JSON.stringify(value, null, 2)}\n`);
}
