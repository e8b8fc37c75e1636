/**
 * What one reload's config load leaves in V8's old generation (issue 15: RSS flat across
 * reloads). With 1 MiB semi-spaces (the unit's NODE_OPTIONS) whatever a load allocates and
 * still holds after two scavenges is promoted, and stays until the next full collection:
 * the climb of RSS between full collections is this figure times the reloads. 1000 x 10
 * from a file, one weight edited each time, loaded by the daemon's loader with its memo
 * (and without it, for comparison), each in a fresh process (V8 learns from one run to
 * allocate some objects straight in the old space); old and large-object spaces read
 * before and after each load. Then what stays: the live heap (after a full GC) over 20
 * loads that each edit another service; it must stay flat (a memo that kept slices of each
 * text would keep one whole file per reload).
 *
 *   npm run bench:build && node --max-semi-space-size=1 --expose-gc dist-bench/bench/reload-garbage.js
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { loadConfig } from '../src/config/index.js';
import { ServiceMemo } from '../src/config/memo.js';
import { yamlTable } from './reconcile-generate.js';

const promotedSpaces = () =>
  v8
    .getHeapSpaceStatistics()
    .filter((s) => s.space_name === 'old_space' || s.space_name === 'large_object_space')
    .reduce((sum, s) => sum + s.space_used_size, 0);

async function growth(withMemo: boolean, path: string): Promise<string> {
  const text = yamlTable({ services: 1000, destsPerService: 10 });
  const memo = withMemo ? new ServiceMemo() : undefined;
  const out: number[] = [];
  for (let k = 0; k < 12; k++) {
    await writeFile(path, text.replace('weight: 1 }', `weight: ${k + 2} }`));
    const before = promotedSpaces();
    const result = await loadConfig(path, memo ? { memo } : {});
    if (!result.ok) throw new Error('the generated config is invalid');
    // The first two warm up; a load during which a full collection ran shows a drop.
    const grew = promotedSpaces() - before;
    if (k >= 2 && grew >= 0) out.push(grew / 2 ** 20);
  }
  out.sort((a, b) => a - b);
  const median = out[Math.floor(out.length / 2)] ?? Number.NaN;
  return `${median.toFixed(2)} MiB (median of ${out.length})`;
}

/** Live heap after loads 1, 10 and 20, each load editing the weight of another service. */
async function kept(path: string): Promise<string> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return '(run with --expose-gc)';
  const lines = yamlTable({ services: 1000, destsPerService: 10 }).split('\n');
  const memo = new ServiceMemo();
  const live: string[] = [];
  let inForce: unknown = null;
  for (let k = 1; k <= 20; k++) {
    // Service k*37's first real (yamlTable: 6 lines before a service's reals, 10 reals each).
    const at = 2 + ((k * 37) % 1000) * 16 + 6;
    const edited = [...lines];
    edited[at] = (edited[at] as string).replace('weight: 1 }', `weight: ${k + 1} }`);
    await writeFile(path, edited.join('\n'));
    const result = await loadConfig(path, { memo });
    if (!result.ok) throw new Error('the generated config is invalid');
    inForce = result.config;
    gc();
    if (k === 1 || k === 10 || k === 20)
      live.push((process.memoryUsage().heapUsed / 2 ** 20).toFixed(1));
  }
  void inForce;
  return `${live.join(', ')} MiB after loads 1, 10, 20`;
}

const mode = process.argv[2];
if (mode === 'kept') {
  const dir = await mkdtemp(join(tmpdir(), 'lvsd-garbage-'));
  console.log(await kept(join(dir, 'lvsd.yaml')));
  await rm(dir, { recursive: true, force: true });
} else if (mode === 'full' || mode === 'memo') {
  const dir = await mkdtemp(join(tmpdir(), 'lvsd-garbage-'));
  console.log(await growth(mode === 'memo', join(dir, 'lvsd.yaml')));
  await rm(dir, { recursive: true, force: true });
} else {
  const run = (which: string) =>
    execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), which])
      .toString()
      .trim();
  console.log(`node ${process.version}, ${process.execArgv.join(' ') || 'no flags'}`);
  console.log(`promoted by one load of 1000 x 10, full:      ${run('full')}`);
  console.log(`promoted by one load of 1000 x 10, with memo: ${run('memo')}`);
  console.log(`live heap, memo, each load editing another service: ${run('kept')}`);
}
