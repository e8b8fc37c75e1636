#!/usr/bin/env node
// Writes schemas/lvsd.schema.json and docs/config-reference.md from the config's zod schemas
// (src/config/json-schema.ts), and schemas/lvsd-snapshot.schema.json from the director
// snapshot's (src/reconcile/snapshot.ts), all compiled to dist/ by `npm run build`.
// Usage: npm run build && npm run schema
import { existsSync, writeFileSync } from 'node:fs';

if (!existsSync(new URL('../dist/config/json-schema.js', import.meta.url))) {
  console.error('dist/ is missing or old: run `npm run build` first');
  process.exit(2);
}
const { renderJsonSchema, renderReference } = await import('../dist/config/json-schema.js');
const { renderSnapshotSchema } = await import('../dist/reconcile/snapshot.js');

const root = new URL('..', import.meta.url);
writeFileSync(new URL('schemas/lvsd.schema.json', root), renderJsonSchema());
writeFileSync(new URL('docs/config-reference.md', root), renderReference());
writeFileSync(new URL('schemas/lvsd-snapshot.schema.json', root), renderSnapshotSchema());
console.log(
  'wrote schemas/lvsd.schema.json, docs/config-reference.md and schemas/lvsd-snapshot.schema.json',
);
