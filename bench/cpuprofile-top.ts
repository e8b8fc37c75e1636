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
 * Usage: node dist-bench/bench/cpuprofile-top.js FILE.cpuprofile... [--top N] [--from F] [--to G]
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

/** Self time (ms) of every sampled node id within the window, and the window's length. */
function selfTimes(
  profile: Profile,
  byId: Map<number, ProfileNode>,
  window: Window,
): [Map<number, number>, number] {
  const parents = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parents.set(child, node.id);
  const self = new Map<number, number>();
  let inside = !window.from;
  let span = 0;
  for (const [i, id] of profile.samples.entries()) {
    if (!inside && window.from && onStack(id, window.from, parents, byId)) inside = true;
    else if (inside && window.to && onStack(id, window.to, parents, byId)) break;
    if (!inside) continue;
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    span += ms;
    self.set(id, (self.get(id) ?? 0) + ms);
  }
  return [self, span];
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

function summarize(file: string, n: number, window: Window): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
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
  const part = window.from
    ? `; from ${window.from} to ${window.to ?? 'the end'}: ${span.toFixed(0)} ms`
    : '';
  console.log(
    `# ${file}: ${total.toFixed(0)} ms profiled, ${profile.samples.length} samples${part}`,
  );
  console.log(`functions by self time:\n${top(byFunction, n).join('\n')}`);
  console.log(`by place:\n${top(byPlace, n).join('\n')}\n`);
}

const files: string[] = [];
const flags = new Map<string, string>();
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i] as string;
  if (arg.startsWith('--')) flags.set(arg, args[++i] ?? '');
  else files.push(arg);
}
const window: Window = {};
if (flags.has('--from')) window.from = flags.get('--from');
if (flags.has('--to')) window.to = flags.get('--to');
for (const file of files) summarize(file, Number(flags.get('--top') ?? 25), window);
