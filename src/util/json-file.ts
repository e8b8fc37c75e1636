/**
 * lvsd's small files of its own (the reconcile state, the real-server record): read through
 * a zod schema, written whole or not at all.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
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

/** Written to a temporary file and renamed, so a crash never leaves half a file. */
export async function writeJsonFile(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`);
  await rename(temporary, path);
}
