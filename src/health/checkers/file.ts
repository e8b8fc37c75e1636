/**
 * file: a real's state or weight from a file another tool writes (keepalived's FILE_CHECK,
 * ldirectord's weight files), so an operator or a deploy script can drain a real by
 * writing one word. The file's first line:
 *
 * - `up`: up, at the configured weight;
 * - a whole number 0..65535: up, with that weight (0 quiesces: no new connections, the
 *   open ones go on, as ipvsadm -w 0 does);
 * - `down`: down (taken out, or kept at weight 0 with on_failure: inhibit);
 * - anything else, or an empty file: down, saying what it holds; no file: `missing`.
 *
 * The check is read at its interval and also as soon as the file changes: its folder is
 * watched (so a file replaced by rename, the safe way to write it, is seen too), and a
 * change is read once the writes have been quiet for SETTLE_MS, so a shell's truncate and
 * write (`echo 0 > file`) is read as one change and not as an empty file in between.
 */
import { watch as watchFolder } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Checker, CheckOutcome } from '../types.js';

const SETTLE_MS = 50;
const MAX_BYTES = 4096;

/** What the file's text means. */
export function readState(text: string): CheckOutcome {
  const line = text.split('\n', 1)[0]?.trim() ?? '';
  const word = line.toLowerCase();
  if (word === 'up') return { ok: true, message: 'file says up' };
  if (word === 'down') return { ok: false, message: 'file says down' };
  if (/^\d+$/.test(word) && Number(word) <= 65535)
    return { ok: true, message: `file says weight ${Number(word)}`, weight: Number(word) };
  if (line === '') return { ok: false, message: 'file is empty' };
  return {
    ok: false,
    message: `file says ${JSON.stringify(line.slice(0, 40))}: expected up, down or a weight 0..65535`,
  };
}

/** The first MAX_BYTES of the file: all a state needs, whatever else was written there. */
async function readHead(path: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(MAX_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, MAX_BYTES, 0);
    return buffer.toString('utf8', 0, bytesRead);
  } finally {
    await handle.close();
  }
}

export const fileChecker: Checker<'file'> = {
  type: 'file',
  prepare(config) {
    const { path } = config;
    const run = async (): Promise<CheckOutcome> => {
      let text: string;
      try {
        text = await readHead(path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT')
          return { ok: false, message: `cannot read ${path}: ${code ?? (err as Error).message}` };
        return config.missing === 'up'
          ? { ok: true, message: `${path} does not exist (missing: up)` }
          : { ok: false, message: `${path} does not exist` };
      }
      return readState(text);
    };
    const watch = (wake: () => void) => {
      let settle: NodeJS.Timeout | undefined;
      let watcher: ReturnType<typeof watchFolder> | undefined;
      try {
        watcher = watchFolder(dirname(path), { persistent: false }, (_event, name) => {
          if (name !== null && name !== basename(path)) return;
          clearTimeout(settle);
          settle = setTimeout(wake, SETTLE_MS);
        });
        // A folder that goes away ends the watch; the interval still reads the file.
        watcher.on('error', () => watcher?.close());
      } catch {
        // No folder (yet): the interval reads the file.
      }
      return () => {
        clearTimeout(settle);
        watcher?.close();
      };
    };
    return Object.assign(run, { watch });
  },
};
