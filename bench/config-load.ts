/**
 * Config loading speed: parse + validate + resolve of generated N x M configs, on both
 * parsing paths, against the `yaml` package's own parse for reference. Printed, not asserted.
 *
 *   npm run bench:build && node dist-bench/bench/config-load.js
 *
 * Goal: a 5000-service x 10-real config in under 1 s (yaml.parse alone takes about 2 s here).
 * - fast path: yaml-fast.ts reads the file; positions are never computed (valid config).
 * - yaml path: the Document is built up front (what the loader does for YAML outside the
 *   fast reader's subset).
 * - with an error: the fast read, then positions from the fast reader (a second pass that
 *   records them), or on the yaml path from the Document.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadConfigText, type LoadOptions } from '../src/config/index.js';
import { ConfigFile } from '../src/config/schema.js';
import { fastParseYaml } from '../src/config/yaml-fast.js';
import { yamlTable } from './reconcile-generate.js';

function best(runs: number, fn: () => unknown): number {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    fn();
    min = Math.min(min, performance.now() - start);
  }
  return min;
}

function load(text: string, options: LoadOptions = {}): void {
  const result = loadConfigText(text, 'bench.yaml', options);
  if (!result.ok && !text.includes('weight: 70000')) throw new Error(result.errors[0]?.message);
}

function row(cells: Array<string | number>): string {
  return cells
    .map((c, i) => (typeof c === 'number' ? `${c.toFixed(0)} ms` : c).padEnd(i === 0 ? 44 : 12))
    .join('');
}

/** One load in a fresh process: what `lvsd validate` sees (no warm JIT, a small heap). */
function coldLoad(services: number): number {
  const out = execFileSync(process.execPath, [
    fileURLToPath(import.meta.url),
    '--cold',
    String(services),
  ]).toString();
  return Number(out.trim());
}

function main(): void {
  if (process.argv[2] === '--cold') {
    const text = yamlTable({ services: Number(process.argv[3]), destsPerService: 10 });
    const start = performance.now();
    load(text);
    console.log(performance.now() - start);
    return;
  }
  console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
  console.log(row(['', '1000 x 10', '5000 x 10']));
  const shapes = [1000, 5000].map((services) => {
    const text = yamlTable({ services, destsPerService: 10 });
    // One bad weight in the last real: the error path has to place it.
    const broken = text.replace(/weight: 1 }\n$/, 'weight: 70000 }\n');
    return { text, broken, lines: text.split('\n').length };
  });
  const runs = (n: number) => (n > 20_000 ? 3 : 5);
  const measure = (label: string, fn: (s: (typeof shapes)[number]) => unknown) =>
    console.log(row([label, ...shapes.map((s) => best(runs(s.lines), () => fn(s)))]));

  console.log(row(['lines', ...shapes.map((s) => String(s.lines))]));
  measure('yaml.parse alone (reference)', (s) => parse(s.text));
  measure('fast reader alone', (s) => fastParseYaml(s.text));
  const data = shapes.map((s) => fastParseYaml(s.text)?.value);
  console.log(
    row([
      'zod shape check alone',
      ...shapes.map((_, i) => best(5, () => ConfigFile.safeParse(data[i]))),
    ]),
  );
  measure('load, fast path (parse+validate+resolve)', (s) => load(s.text));
  measure('load, yaml path (Document up front)', (s) => load(s.text, { parser: 'yaml' }));
  measure('one error, fast path (+ fast positions)', (s) => load(s.broken));
  measure('one error, yaml path (Document positions)', (s) => load(s.broken, { parser: 'yaml' }));
  measure('load, fast, then read every source line', (s) => {
    const result = loadConfigText(s.text, 'bench.yaml');
    if (result.ok) for (const svc of result.config.services) void svc.source.line;
  });
  console.log(row(['load, fast path, cold (fresh process)', ...[1000, 5000].map(coldLoad)]));
  const heap = process.memoryUsage().heapUsed;
  console.log(`heap after runs: ${(heap / 2 ** 20).toFixed(0)} MiB`);
}

main();
