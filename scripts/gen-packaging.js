#!/usr/bin/env node
// Writes packaging/lvsd.service (the unit for the Debian package's /usr/bin/lvsd) and
// packaging/lvsd.8 (the man page) from the compiled CLI's unit writer and command tree.
// Usage: npm run build && npm run packaging. test/packaging fails when either is stale.
import { existsSync, writeFileSync } from 'node:fs';

if (!existsSync(new URL('../dist/cli/unit-file.js', import.meta.url))) {
  console.error('dist/ is missing or old: run `npm run build` first');
  process.exit(2);
}
const { packagedUnit, packagedManPage } = await import('../dist/cli/packaging.js');

const root = new URL('..', import.meta.url);
writeFileSync(new URL('packaging/lvsd.service', root), packagedUnit());
writeFileSync(new URL('packaging/lvsd.8', root), await packagedManPage());
console.log('wrote packaging/lvsd.service and packaging/lvsd.8');
