#!/usr/bin/env node
// Writes schemas/lvsd.schema.json and docs/config-reference.md from the zod schemas
// (src/config/json-schema.ts, compiled to dist/ by `npm run build`).
// Usage: npm run build && npm run schema
import { writeFileSync } from 'node:fs';
import { renderJsonSchema, renderReference } from '../dist/config/json-schema.js';

const root = new URL('..', import.meta.url);
writeFileSync(new URL('schemas/lvsd.schema.json', root), renderJsonSchema());
writeFileSync(new URL('docs/config-reference.md', root), renderReference());
console.log('wrote schemas/lvsd.schema.json and docs/config-reference.md');
