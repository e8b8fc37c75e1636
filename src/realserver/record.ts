/**
 * What `lvsd realserver` changed, so `--remove` can undo exactly that: the VIPs it added and
 * each sysctl's value before it first changed it. Kept next to the director's state
 * (default /run/lvsd/realserver.json); lost, it only means --remove leaves sysctls as they are.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { readJsonFile, writeJsonFile } from '../util/json-file.js';
import { emptyRecord, type RealServerRecord } from './plan.js';

const RecordFile = z.object({
  version: z.literal(1),
  vips: z.array(z.string()),
  sysctls: z.record(z.string(), z.number()),
});

export function recordPath(stateDir: string): string {
  return join(stateDir, 'realserver.json');
}

export async function loadRecord(
  stateDir: string,
): Promise<{ record: RealServerRecord; warning?: string }> {
  const path = recordPath(stateDir);
  const read = await readJsonFile(path, RecordFile);
  if (read.status === 'ok') return { record: read.value };
  if (read.status === 'absent') return { record: emptyRecord() };
  if (read.status === 'unreadable')
    return { record: emptyRecord(), warning: `cannot read ${path}: ${read.reason}` };
  return {
    record: emptyRecord(),
    warning: `${path} is not a valid lvsd realserver record; ignoring it`,
  };
}

export async function saveRecord(stateDir: string, record: RealServerRecord): Promise<void> {
  await writeJsonFile(recordPath(stateDir), record);
}
