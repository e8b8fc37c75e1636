/**
 * Summarizes V8 CPU profiles (`node --cpu-prof`): for each file, the total, then the
 * functions with the most self time, and the time by source file (node's own modules, the
 * dependencies and lvsd's dist/ separately), so a fresh process's start, module loading and
 * the work itself can be told apart. Used for issue 21's profiles from the lab.
 *
 * With --from F [--to G], only the samples from the first one with function F on its stack
 * up to the first one after it with G on its stack (a phase: --from applyPlan --to printResult
 * is `lvsd apply`'s write phase; callbacks of socket reads have no caller on their stack, so
 * a window of time, not the callers, tells what a phase costs).
 *
 * With --seconds A-B, only the samples from A to B seconds after the profile began (a burst
 * of work found with --timeline MS, which prints the busy, collector and idle time of each
 * MS of the profile). Each --group NAME=F1,F2 (repeatable) sums the window's samples with
 * F1 or F2 on their stack under NAME, the first group that matches taking a sample, the
 * collector and idle apart: `--group log=LOG --group pass=runPass,scopedPass` tells what
 * share of a mass failure went to log lines and to passes.
 *
 * Usage: node dist-bench/bench/cpuprofile-top.js FILE.cpuprofile... [--top N] [--from F]
 *   [--to G] [--seconds A-B] [--timeline MS] [--group NAME=F1,F2]...
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

interface Window {
  from?: string;
  to?: string;
  /** Microseconds after the profile's start. */
  fromUs?: number;
  toUs?: number;
}

interface Group {
  name: string;
  functions: string[];
}

/** Whether the function `name` is on the stack of node `id`. */
function onStack(
  id: number,
  name: string,
  parents: Map<number, number>,
  byId: Map<number, ProfileNode>,
): boolean {
  for (let at: number | undefined = id; at !== undefined; at = parents.get(at))
    if (byId.get(at)?.callFrame.functionName === name) return true;
  return false;
}

/** Each sample within the window: its node id, its time after the profile's start and its length (us). */
function* samplesIn(
  profile: Profile,
  parents: Map<number, number>,
  byId: Map<number, ProfileNode>,
  window: Window,
): Generator<{ id: number; at: number; us: number }> {
  let inside = !window.from;
  let at = 0;
  for (const [i, id] of profile.samples.entries()) {
    at += profile.timeDeltas[i] ?? 0;
    if (!inside && window.from && onStack(id, window.from, parents, byId)) inside = true;
    else if (inside && window.to && onStack(id, window.to, parents, byId)) return;
    if (!inside || at < (window.fromUs ?? 0) || at >= (window.toUs ?? Infinity)) continue;
    yield { id, at, us: profile.timeDeltas[i + 1] ?? 0 };
  }
}

function parentsOf(profile: Profile): Map<number, number> {
  const parents = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parents.set(child, node.id);
  return parents;
}

/** Self time (ms) of every sampled node id within the window, and the window's length. */
function selfTimes(
  profile: Profile,
  byId: Map<number, ProfileNode>,
  window: Window,
): [Map<number, number>, number] {
  const self = new Map<number, number>();
  let span = 0;
  for (const { id, us } of samplesIn(profile, parentsOf(profile), byId, window)) {
    span += us / 1000;
    self.set(id, (self.get(id) ?? 0) + us / 1000);
  }
  return [self, span];
}

/** What a sample is outside any group: the collector, idle, or other work. */
function kindOf(node: ProfileNode): string {
  const name = node.callFrame.functionName;
  if (name === '(garbage collector)') return 'collector';
  return name === '(idle)' ? 'idle' : 'other';
}

/** The window's time by group (see the header). */
function groupTimes(
  profile: Profile,
  byId: Map<number, ProfileNode>,
  window: Window,
  groups: readonly Group[],
): string[] {
  const parents = parentsOf(profile);
  const times = new Map<string, number>();
  for (const { id, us } of samplesIn(profile, parents, byId, window)) {
    let kind = kindOf(byId.get(id) as ProfileNode);
    if (kind === 'other')
      kind =
        groups.find((g) => g.functions.some((f) => onStack(id, f, parents, byId)))?.name ?? kind;
    times.set(kind, (times.get(kind) ?? 0) + us / 1000);
  }
  return top(times, times.size);
}

/** Busy, collector and idle ms of each `stepMs` of the window. */
function timeline(
  profile: Profile,
  byId: Map<number, ProfileNode>,
  window: Window,
  stepMs: number,
): string[] {
  const rows = new Map<number, Record<string, number>>();
  for (const { id, at, us } of samplesIn(profile, parentsOf(profile), byId, window)) {
    const slot = Math.floor(at / 1000 / stepMs);
    const row = rows.get(slot) ?? { other: 0, collector: 0, idle: 0 };
    row[kindOf(byId.get(id) as ProfileNode)]! += us / 1000;
    rows.set(slot, row);
  }
  return [...rows].map(
    ([slot, row]) =>
      `  ${((slot * stepMs) / 1000).toFixed(2).padStart(8)} s  busy ${row.other!.toFixed(0).padStart(5)}` +
      `  collector ${row.collector!.toFixed(0).padStart(5)}  idle ${row.idle!.toFixed(0).padStart(5)}`,
  );
}

/** Where a script lives, shortened: "node:internal/...", "dep:yaml", "lvsd:ipvs/codec.js". */
function place(url: string): string {
  if (!url) return '(native/vm)';
  if (url.startsWith('node:')) return 'node:*';
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dep) return `dep:${dep[1]}`;
  const own = /\/(dist|dist-bench)\/(.*)$/.exec(url);
  return own ? `lvsd:${own[2]}` : url;
}

function top(map: Map<string, number>, n: number): string[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `  ${v.toFixed(0).padStart(7)} ms  ${k}`);
}

interface Options {
  top: number;
  window: Window;
  groups: Group[];
  timelineMs: number;
}

function summarize(file: string, options: Options): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const { window } = options;
  const [self, span] = selfTimes(profile, byId, window);
  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  for (const [id, ms] of self) {
    const frame = (byId.get(id) as ProfileNode).callFrame;
    const where = place(frame.url);
    const name = `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
    byPlace.set(where, (byPlace.get(where) ?? 0) + ms);
  }
  const total = (profile.endTime - profile.startTime) / 1000;
  const part =
    window.from || window.fromUs !== undefined ? `; the window: ${span.toFixed(0)} ms` : '';
  console.log(
    `# ${file}: ${total.toFixed(0)} ms profiled, ${profile.samples.length} samples${part}`,
  );
  if (options.timelineMs > 0)
    console.log(`timeline:\n${timeline(profile, byId, window, options.timelineMs).join('\n')}`);
  if (options.groups.length)
    console.log(`by group:\n${groupTimes(profile, byId, window, options.groups).join('\n')}`);
  console.log(`functions by self time:\n${top(byFunction, options.top).join('\n')}`);
  console.log(`by place:\n${top(byPlace, options.top).join('\n')}\n`);
}

function parseArgs(args: readonly string[]): { files: string[]; options: Options } {
  const files: string[] = [];
  const options: Options = { top: 25, window: {}, groups: [], timelineMs: 0 };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (!arg.startsWith('--')) {
      files.push(arg);
      continue;
    }
    const value = args[++i] ?? '';
    if (arg === '--top') options.top = Number(value);
    else if (arg === '--from') options.window.from = value;
    else if (arg === '--to') options.window.to = value;
    else if (arg === '--timeline') options.timelineMs = Number(value);
    else if (arg === '--seconds') {
      const [from, to] = value.split('-').map(Number);
      options.window.fromUs = (from ?? 0) * 1e6;
      options.window.toUs = (to ?? Infinity) * 1e6;
    } else if (arg === '--group') {
      const [name = '', functions = ''] = value.split('=');
      options.groups.push({ name, functions: functions.split(',') });
    } else throw new Error(`cpuprofile-top: unknown option ${arg}`);
  }
  return { files, options };
}

const { files, options } = parseArgs(process.argv.slice(2));
for (const file of files) summarize(file, options);
