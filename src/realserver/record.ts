/**
 * What `lvsd realserver` changed, so `--remove` can undo exactly that: the VIPs it added and
 * each sysctl's value before it first changed it. Kept next to the director's state
 * (default /run/lvsd/realserver.json); lost, it only means --remove leaves sysctls as they are.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { emptyRecord, type RealServerRecord } from './plan.js';

const RecordFile = z.object({
  version: z.literal(1),
  vips: z.array(z.string()),
  sysctls: z.record(z.string(), z.number()),
});

export function recordPath(stateDir: string): string {
  return join(stateDir, 'realserver.json');
}

export async function loadRecord(stateDir: string): Promise<{ record: RealServerRecord; warning?: string }> {
  const path = recordPath(stateDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { record: emptyRecord() };
    return { record: emptyRecord(), warning: `cannot read ${path}: ${(err as Error).message}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = RecordFile.safeParse(json);
  return parsed.success ? { record: parsed.data } : { record: emptyRecord(), warning: `${path} is not a valid lvsd realserver record; ignoring it` };
}

export async function saveRecord(stateDir: string, record: RealServerRecord): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  const path = recordPath(stateDir);
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(record, null, 2)}\n`);
  await rename(temporary, path);
}
