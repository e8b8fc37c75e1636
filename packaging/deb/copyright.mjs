#!/usr/bin/env node
// Writes the Debian copyright file (machine-readable format 1.0) for the package staged in
// APPDIR (/usr/lib/lvsd): lvsd itself, then every bundled npm package with the copyright
// lines of its own license file and its license. A license with no text here stops the
// build, so a new dependency's license is looked at before it ships.
// Usage: node packaging/deb/copyright.mjs APPDIR > copyright
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const appDir = process.argv[2];
if (!appDir) {
  console.error('usage: copyright.mjs APPDIR');
  process.exit(2);
}
const here = new URL('.', import.meta.url);

/** SPDX names in package.json -> the copyright format's names (MIT is "Expat" there). */
const LICENSES = {
  MIT: 'Expat',
  ISC: 'ISC',
  'BSD-3-Clause': 'BSD-3-Clause',
  'Apache-2.0': 'Apache-2.0',
};
/** Licenses whose text Debian keeps in /usr/share/common-licenses. */
const COMMON = new Set(['Apache-2.0']);

/** Every package directory under node_modules, scoped and nested ones included. */
function packages(dir) {
  const found = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.name.startsWith('@')) found.push(...packages(path));
    else found.push(path, ...packages(join(path, 'node_modules')));
  }
  return found;
}

function copyrightLines(dir, pkg) {
  const file = readdirSync(dir).find((n) => /^(licen[cs]e|copying)/i.test(n));
  const lines = file
    ? readFileSync(join(dir, file), 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => /^copyright\b/i.test(l) && !/notice|holders? and contributors/i.test(l))
        .map((l) => l.replace(/^copyright\s*(\(c\)|©)?\s*/i, '').trim())
        .filter(Boolean)
    : [];
  if (lines.length) return [...new Set(lines)];
  const author = typeof pkg.author === 'string' ? pkg.author : pkg.author?.name;
  return [author ? `${author} and contributors` : `the ${pkg.name} authors`];
}

const used = new Set(['Expat']);
const stanzas = [];
const modules = join(appDir, 'node_modules');
for (const dir of packages(modules).sort()) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const license = LICENSES[pkg.license];
  if (!license) {
    console.error(`copyright.mjs: ${pkg.name}: license ${JSON.stringify(pkg.license)} has no entry`);
    process.exit(1);
  }
  used.add(license);
  const files = `${dir.slice(appDir.length).replace(/^\/+/, '')}/*`;
  stanzas.push(
    `Files: ${files}\nCopyright: ${copyrightLines(dir, pkg).join('\n ')}\nLicense: ${license}`,
  );
}

const licenseText = (name) => {
  if (COMMON.has(name))
    return ` On Debian systems the full text of the license is in /usr/share/common-licenses/${name}.`;
  return readFileSync(new URL(`licenses/${name}`, here), 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => (l === '' ? ' .' : ` ${l}`))
    .join('\n');
};

process.stdout.write(
  [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: lvsd',
    'Files: *\nCopyright: the lvsd authors\nLicense: Expat',
    ...stanzas,
    ...[...used].sort().map((name) => `License: ${name}\n${licenseText(name)}`),
  ].join('\n\n') + '\n',
);
