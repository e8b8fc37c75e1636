#!/usr/bin/env node
// Fails when a source line is longer than the limit. The formatter wraps code at 100 columns
// but leaves long strings and comments alone; this catches those.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const LIMIT = 120;
const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '*.ts', '*.js'], {
  encoding: 'utf8',
})
  .split('\n')
  .filter((f) => f && !f.startsWith('node_modules/') && !f.startsWith('dist'));
let long = 0;
for (const file of files) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    continue; // deleted in the work tree
  }
  text.split('\n').forEach((line, i) => {
    if (line.length <= LIMIT) return;
    long++;
    console.log(`${file}:${i + 1}: ${line.length} columns (limit ${LIMIT})`);
  });
}
if (long > 0) {
  console.log(`${long} lines over ${LIMIT} columns`);
  process.exit(1);
}
