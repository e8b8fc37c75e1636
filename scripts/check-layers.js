#!/usr/bin/env node
// The layers of src/ and which may import which (docs/architecture.md draws them). Fails
// on an import that runs against the flow: config -> desired state -> plan -> apply ->
// status, with the kernel interfaces below. `node scripts/check-layers.js --graph` prints
// the folders and their imports as they are, for anyone who wants the picture.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** Each folder of src/ and the folders it may import from. */
const MAY_IMPORT = {
  util: [],
  netlink: ['util'],
  ffi: ['netlink', 'util'],
  sysctl: ['util'],
  ipvs: ['netlink', 'ffi', 'util'],
  config: ['ipvs', 'netlink', 'util'],
  director: ['netlink', 'ipvs', 'config', 'util'],
  health: ['config', 'ipvs', 'ffi', 'util'],
  reconcile: ['config', 'ipvs', 'director', 'health', 'sysctl', 'util'],
  realserver: ['config', 'director', 'ipvs', 'netlink', 'sysctl', 'util'],
  migrate: ['config', 'ipvs', 'netlink', 'util'],
  vrrp: ['ffi', 'netlink', 'director', 'config', 'ipvs', 'reconcile', 'util'],
  announce: ['config', 'health', 'reconcile', 'director', 'util'],
  daemon: [
    'config',
    'health',
    'ipvs',
    'reconcile',
    'director',
    'sysctl',
    'vrrp',
    'announce',
    'netlink',
    'util',
  ],
  cli: ['*'],
};

const root = join(import.meta.dirname, '..', 'src');

function* sources(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sources(path);
    else if (name.endsWith('.ts')) yield path;
  }
}

const folderOf = (path) => relative(root, path).split(sep)[0];
const edges = new Map();
const wrong = [];
for (const file of sources(root)) {
  const from = folderOf(file);
  const text = readFileSync(file, 'utf8');
  // One rule for index.ts and every other file: no re-exports. An importer names the file
  // that defines what it uses, so a reader goes from a use to its definition in one step.
  if (/^export (?:type )?(?:\*|\{[^}]*\}) from '\./m.test(text))
    wrong.push(
      `${relative(root, file)}: re-exports from another file (import from the defining file)`,
    );
  for (const match of text.matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g)) {
    const target = join(file, '..', match[1]);
    const to = folderOf(target);
    if (to === from || to.startsWith('..')) continue;
    const key = `${from} -> ${to}`;
    edges.set(key, (edges.get(key) ?? 0) + 1);
    const allowed = MAY_IMPORT[from];
    if (!allowed) wrong.push(`${relative(root, file)}: src/${from} is not a known layer`);
    else if (!allowed.includes('*') && !allowed.includes(to))
      wrong.push(`${relative(root, file)}: src/${from} may not import src/${to} (${match[1]})`);
  }
}

if (process.argv.includes('--graph')) {
  for (const [edge, count] of [...edges].sort()) console.log(`${edge}  (${count} imports)`);
}
if (wrong.length) {
  for (const line of wrong) console.log(line);
  console.log(`${wrong.length} imports against the layers (scripts/check-layers.js)`);
  process.exit(1);
}
