#!/usr/bin/env node
// Writes schemas/lvsd.schema.json and docs/config-reference.md from the zod schemas
// (src/config/json-schema.ts, compiled to dist/ by `npm run build`).
// Usage: npm run build && npm run schema
import { existsSync, writeFileSync } from 'node:fs';

if (!existsSync(new URL('../dist/config/json-schema.js', import.meta.url))) {
  console.error('dist/ is missing or old: run `npm run build` first');
  process.exit(2);
}
const { renderJsonSchema, renderReference } = await import('../dist/config/json-schema.js');

const root = new URL('..', import.meta.url);
writeFileSync(new URL('schemas/lvsd.schema.json', root), renderJsonSchema());
writeFileSync(new URL('docs/config-reference.md', root), renderReference());
console.log('wrote schemas/lvsd.schema.json and docs/config-reference.md');
