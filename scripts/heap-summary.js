/**
 * Attributes a V8 heap snapshot (from `v8.writeHeapSnapshot`, e.g. bench/rss.ts with
 * LVSD_BENCH_SNAPSHOT=DIR): self size by constructor / node type, and, with a second
 * snapshot, what grew between them; then the objects with the largest retained size
 * (dominator tree) and the edge that holds each, so "who keeps it" is readable.
 *
 * Run: node scripts/heap-summary.js AFTER.heapsnapshot [BEFORE.heapsnapshot] [TOP]
 */
import { readFileSync } from 'node:fs';

function load(path) {
  const s = JSON.parse(readFileSync(path, 'utf8'));
  const nf = s.snapshot.meta.node_fields;
  const ef = s.snapshot.meta.edge_fields;
  const nodeTypes = s.snapshot.meta.node_types[0];
  const edgeTypes = s.snapshot.meta.edge_types[0];
  const [nT, nN, nS, nE, nI] = ['type', 'name', 'self_size', 'edge_count', 'id'].map((f) =>
    nf.indexOf(f),
  );
  const [eT, eN, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => ef.indexOf(f));
  const count = s.nodes.length / nf.length;
  const g = {
    count,
    type: new Array(count),
    name: new Array(count),
    self: new Float64Array(count),
    id: new Float64Array(count),
    firstEdge: new Uint32Array(count + 1),
    edgeTo: new Uint32Array(s.edges.length / ef.length),
    edgeName: new Array(s.edges.length / ef.length),
  };
  let edge = 0;
  for (let i = 0; i < count; i++) {
    const o = i * nf.length;
    g.type[i] = nodeTypes[s.nodes[o + nT]];
    g.name[i] = s.strings[s.nodes[o + nN]];
    g.self[i] = s.nodes[o + nS];
    g.id[i] = s.nodes[o + nI];
    g.firstEdge[i] = edge;
    edge += s.nodes[o + nE];
  }
  g.firstEdge[count] = edge;
  for (let e = 0; e < g.edgeTo.length; e++) {
    const o = e * ef.length;
    g.edgeTo[e] = s.edges[o + eTo] / nf.length;
    const t = edgeTypes[s.edges[o + eT]];
    const n = s.edges[o + eN];
    g.edgeName[e] = t === 'element' || t === 'hidden' ? `[${n}]` : `${t}:${s.strings[n]}`;
  }
  return g;
}

/** A node's category: objects by constructor, strings and code by type. */
function category(g, i) {
  const t = g.type[i];
  if (t === 'object' || t === 'closure' || t === 'native') return `${t} ${g.name[i]}`;
  if (t === 'hidden' || t === 'object shape' || t === 'array')
    return `${t} ${g.name[i]}`.slice(0, 60);
  return t;
}

function bySelf(g) {
  const m = new Map();
  for (let i = 0; i < g.count; i++) m.set(category(g, i), (m.get(category(g, i)) ?? 0) + g.self[i]);
  return m;
}

/** Immediate dominators (Cooper, Harvey, Kennedy), node 0 the root; weak edges ignored. */
function dominators(g) {
  const order = new Int32Array(g.count).fill(-1);
  const post = [];
  const preds = Array.from({ length: g.count }, () => []);
  const stack = [[0, g.firstEdge[0]]];
  order[0] = -2;
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [n, e] = top;
    if (e < g.firstEdge[n + 1]) {
      top[1]++;
      if (g.edgeName[e].startsWith('weak:')) continue;
      const to = g.edgeTo[e];
      preds[to].push(n);
      if (order[to] === -1) {
        order[to] = -2;
        stack.push([to, g.firstEdge[to]]);
      }
    } else {
      stack.pop();
      order[n] = post.length;
      post.push(n);
    }
  }
  const idom = new Int32Array(g.count).fill(-1);
  idom[0] = 0;
  const intersect = (a, b) => {
    while (a !== b) {
      while (order[a] < order[b]) a = idom[a];
      while (order[b] < order[a]) b = idom[b];
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (let k = post.length - 2; k >= 0; k--) {
      const n = post[k];
      let d = -1;
      for (const p of preds[n]) if (idom[p] !== -1) d = d === -1 ? p : intersect(p, d);
      if (d !== idom[n]) {
        idom[n] = d;
        changed = true;
      }
    }
  }
  return { idom, post };
}

const mb = (b) => (b / 2 ** 20).toFixed(2).padStart(7);

const [afterPath, beforePath, topArg] = process.argv.slice(2);
const after = load(afterPath);
const before = beforePath ? load(beforePath) : null;
const a = bySelf(after);
const b = before ? bySelf(before) : new Map();
const total = (m) => [...m.values()].reduce((x, y) => x + y, 0);
console.log(`live heap: ${mb(total(a))} MiB${before ? ` (before: ${mb(total(b))} MiB)` : ''}`);
const rows = [...new Set([...a.keys(), ...b.keys()])]
  .map((k) => [k, (a.get(k) ?? 0) - (b.get(k) ?? 0)])
  .sort((x, y) => Math.abs(y[1]) - Math.abs(x[1]))
  .slice(0, Number(topArg ?? 30));
console.log(`self size by category${before ? ', grown since the first snapshot' : ''} (MiB):`);
for (const [k, v] of rows) console.log(`${mb(v)}  ${k}`);

const { idom, post } = dominators(after);
const retained = Float64Array.from(after.self);
// A dominator is an ancestor in the walk's tree, so it comes after its nodes in post-order.
for (const n of post) if (n !== 0) retained[idom[n]] += retained[n];
const nodes = post;
/** The name of the edge from n's dominator (or any referrer) to n, for reading. */
const holder = (n) => {
  const d = idom[n];
  for (let e = after.firstEdge[d]; e < after.firstEdge[d + 1]; e++)
    if (after.edgeTo[e] === n) return `${category(after, d)} .${after.edgeName[e]}`;
  return `${category(after, d)} (indirect)`;
};
const skip = new Set(['synthetic', 'hidden', 'code']);
const big = nodes
  .filter((n) => !skip.has(after.type[n]) && retained[n] > 2 ** 17)
  .sort((x, y) => retained[y] - retained[x])
  .slice(0, Number(topArg ?? 30) * 2);
console.log('largest retained sizes (MiB), each with what holds it:');
for (const n of big) console.log(`${mb(retained[n])}  ${category(after, n)}  <- ${holder(n)}`);

// LVSD_HEAP_OPEN=Name: the retained size behind each edge of the first object named so.
const open = process.env.LVSD_HEAP_OPEN;
// Name/edge/edge... follows edges from there (e.g. Daemon/property:config).
const child = (n, edge) => {
  for (let e = after.firstEdge[n]; e < after.firstEdge[n + 1]; e++)
    if (after.edgeName[e] === edge) return after.edgeTo[e];
  return undefined;
};
for (const name of open ? open.split(',') : []) {
  const [head, ...path] = name.split('/');
  let n = post.find((x) => after.name[x] === head && after.type[x] === 'object');
  for (const edge of path) n = n === undefined ? n : child(n, edge);
  if (n === undefined) continue;
  console.log(`${name} (${mb(retained[n])} MiB retained), by edge:`);
  const rows = [];
  for (let e = after.firstEdge[n]; e < after.firstEdge[n + 1]; e++) {
    const to = after.edgeTo[e];
    if (idom[to] === n) rows.push([after.edgeName[e], retained[to], category(after, to)]);
  }
  rows.sort((x, y) => y[1] - x[1]);
  for (const [edge, size, what] of rows.slice(0, 25))
    console.log(`${mb(size)}  ${edge}  (${what})`);
}

// With a first snapshot of the same process: the objects new since it (ids are stable within
// a process), by owner: the nearest dominator that is an object of a named class, a closure
// or a module's context, so "who keeps the growth" reads as lvsd's own classes.
if (before) {
  const old = new Set(before.id);
  const generic = new Set(['Object', 'Array', 'Map', 'Set', 'system / Context', '']);
  const ownerOf = (n) => {
    for (let x = idom[n]; x > 0; x = idom[x]) {
      const t = after.type[x];
      if ((t === 'object' && !generic.has(after.name[x])) || t === 'closure')
        return category(after, x);
    }
    return '(root)';
  };
  const owners = new Map();
  let grown = 0;
  for (const n of post) {
    if (old.has(after.id[n])) continue;
    grown += after.self[n];
    const o = ownerOf(n);
    owners.set(o, (owners.get(o) ?? 0) + after.self[n]);
  }
  console.log(`objects new since the first snapshot: ${mb(grown)} MiB, by owner:`);
  for (const [o, v] of [...owners].sort((x, y) => y[1] - x[1]).slice(0, Number(topArg ?? 30)))
    console.log(`${mb(v)}  ${o}`);
  // Objects shared by several holders have the root as owner: show what they are, and the
  // edge names they are held by (e.g. property:dest, property:service).
  const shared = new Map();
  for (const n of post) {
    if (old.has(after.id[n]) || ownerOf(n) !== '(root)') continue;
    const k = category(after, n);
    shared.set(k, (shared.get(k) ?? 0) + after.self[n]);
  }
  console.log('of which shared (owner: the root), by category:');
  for (const [k, v] of [...shared].sort((x, y) => y[1] - x[1]).slice(0, 12))
    console.log(`${mb(v)}  ${k}`);
}
