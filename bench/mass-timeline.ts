/**
 * Where lvsd's time goes in a mass failure and recovery, from the logs the lab bench keeps
 * (`DBENCH_KEEP=DIR DBENCH_LVSD_ARGS='--log-level debug' ... lab-daemon-bench.js`): for each
 * SIDE-KIND.log with its .json marks, on the bench's clock (ms after the listener stopped,
 * or started again): when the checks decided (first, p10, p50, p90 and last
 * health.transition: with checks 1 s apart and `fall 2`, an even spread over 1-2 s after the
 * stop is the floor, and how far the quantiles lag it is the daemon's), how many passes ran
 * and what each cost (its read, plan and write phases), the kernel writes by operation and
 * trigger (a settle inside a recovery shows as deletes and adds), the last one, and when a
 * drift check's read gave way to the decisions.
 *
 * Run: node dist-bench/bench/mass-timeline.js DIR [SIDE-KIND ...]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { percentile } from './percentile.js';

interface Line {
  time: number;
  event?: string;
  op?: string;
  triggers?: string[];
  to?: string;
  at?: string;
  durationMs?: number;
  writes?: number;
  scope?: string[];
  phases?: Array<{ name: string; ms: number }>;
}

interface Marks {
  stopAt: number;
  outAt: number;
  startAt: number;
  inAt: number;
}

function lines(path: string): Line[] {
  const out: Line[] = [];
  for (const text of readFileSync(path, 'utf8').split('\n')) {
    if (!text.startsWith('{')) continue;
    try {
      const line = JSON.parse(text) as Omit<Line, 'time'> & { time: number | string };
      // lvsd logs ISO times; a pino default, epoch ms.
      out.push({
        ...line,
        time: typeof line.time === 'string' ? Date.parse(line.time) : line.time,
      });
    } catch {
      // A line cut by the daemon's exit.
    }
  }
  return out;
}

const round = (ms: number) => Math.round(ms);

/** One window (failure or recovery): decisions, passes and writes from `from` to `to`. */
function window(all: Line[], from: number, to: number, direction: 'down' | 'up'): string[] {
  // A pass is logged as it ends, and the bench sees the kernel only every 100 ms: what came
  // up to 2 s after the window's end belongs to it when it began (or was decided) inside.
  const inside = all.filter((l) => l.time >= from && l.time <= to + 2000);
  const decided = inside.filter(
    (l) => l.event === 'health.transition' && l.to === direction && l.time <= to,
  );
  const passes = inside.filter(
    (l) => l.event === 'reconcile' && l.at && Date.parse(l.at) >= from && Date.parse(l.at) <= to,
  );
  const writes = inside.filter((l) => l.event === 'kernel_write' && l.time <= to + 200);
  // A drift check whose read gave way to the decisions (the daemon logs it at info).
  const yielded = all.filter(
    (l) => l.event === 'drift_check_yielded' && l.time >= from - 2000 && l.time <= to,
  );
  const rel = (t: number | undefined) =>
    t === undefined || Number.isNaN(t) ? '-' : String(round(t - from));
  // Log lines come in time order: the decisions' times are sorted already.
  const at = (p: number) =>
    percentile(
      decided.map((l) => l.time),
      p,
    );
  const out = [
    `  all ${direction === 'down' ? 'out' : 'in'} (bench): ${round(to - from)} ms; ` +
      `${decided.length} transitions to ${direction}, first ${rel(decided[0]?.time)} ms, ` +
      `p10 ${rel(at(10))}, p50 ${rel(at(50))}, p90 ${rel(at(90))}, ` +
      `last ${rel(decided.at(-1)?.time)} ms; ${writes.length} kernel writes ` +
      `(${byOperation(writes)}), last ${rel(writes.at(-1)?.time)} ms; ${passes.length} passes` +
      (yielded.length
        ? `; a drift check gave way at ${yielded.map((l) => rel(l.time)).join(', ')} ms`
        : ''),
  ];
  for (const p of passes) {
    const start = Date.parse(p.at as string);
    const phases = (p.phases ?? []).map((ph) => `${ph.name} ${round(ph.ms)}`).join(', ');
    out.push(
      `    pass at ${rel(start)} ms for ${round(p.durationMs ?? 0)} ms: ` +
        `${p.scope?.length ?? 'all'} services, ${p.writes} writes (${phases})`,
    );
  }
  return out;
}

/** "edit-dest/health 470, delete-dest/settle 704, ...": kernel writes by operation and trigger. */
function byOperation(writes: Line[]): string {
  const counts = new Map<string, number>();
  for (const w of writes) {
    const key = `${w.op ?? '?'}/${(w.triggers ?? []).join('+')}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, n]) => `${key} ${n}`).join(', ');
}

const dir = process.argv[2];
if (!dir) throw new Error('usage: mass-timeline.js DIR [SIDE-KIND ...]');
const names =
  process.argv.length > 3
    ? process.argv.slice(3)
    : readdirSync(dir)
        .filter((f) => f.endsWith('.json') && !f.startsWith('keepalived'))
        .map((f) => f.slice(0, -'.json'.length));
for (const name of names) {
  const marks = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Marks;
  const all = lines(join(dir, `${name}.log`));
  console.log(`${name}: listener stopped`);
  for (const l of window(all, marks.stopAt, marks.outAt, 'down')) console.log(l);
  console.log(`${name}: listener started again`);
  for (const l of window(all, marks.startAt, marks.inAt, 'up')) console.log(l);
}
