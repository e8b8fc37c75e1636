/** writeFileAtomically: its folder made once, and again when it was removed meanwhile. */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomically, writeJsonFile } from '../../src/util/json-file.js';

describe('writeFileAtomically', () => {
  it('makes the folder, replaces the file whole, and leaves no temporary file', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'lvsd-json-')), 'a', 'b');
    const file = join(dir, 'state.json');
    await writeJsonFile(file, { n: 1 });
    await writeJsonFile(file, { n: 2 });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ n: 2 });
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('writes again after its folder was removed', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'lvsd-json-')), 'state');
    const file = join(dir, 'state.json');
    await writeFileAtomically(file, 'one\n');
    await rm(dir, { recursive: true });
    await writeFileAtomically(file, 'two\n');
    expect(await readFile(file, 'utf8')).toBe('two\n');
  });
});
