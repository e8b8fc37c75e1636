/** What the migrate tests share: an import written as YAML, loaded back, and its table as rules. */
import { posix } from 'node:path';
import { expect } from 'vitest';
import { loadConfigText } from '../../src/config/index.js';
import { formatDiagnostics } from '../../src/config/diagnostics.js';
import type { ResolvedConfig } from '../../src/config/resolved.js';
import type { IpvsTable } from '../../src/ipvs/model.js';
import { exportIpvsadm } from '../../src/migrate/export.js';
import type { FileSystem } from '../../src/migrate/glob.js';
import type { ImportResult } from '../../src/migrate/types.js';
import { writeYaml } from '../../src/migrate/yaml-out.js';
import { desiredState } from '../../src/reconcile/desired.js';

/** The table a config makes without health (every real in), as `lvsd apply` writes it. */
export function configTable(config: ResolvedConfig): IpvsTable {
  return {
    services: desiredState(config).services.map((s) => ({
      ...s.service,
      dests: s.dests.map((d) => ({ ...d, activeConns: 0, inactiveConns: 0, persistConns: 0 })),
    })),
  };
}

/** The import as YAML, loaded by lvsd's own loader: it must be valid, with no warnings. */
export function loaded(result: ImportResult): { yaml: string; config: ResolvedConfig } {
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  expect(errors, formatDiagnostics(errors)).toEqual([]);
  const yaml = writeYaml(result);
  const load = loadConfigText(yaml, 'imported.yaml');
  if (!load.ok) throw new Error(`${formatDiagnostics(load.errors)}\n${yaml}`);
  expect(load.warnings, formatDiagnostics(load.warnings)).toEqual([]);
  return { yaml, config: load.config };
}

/** The imported table as ipvsadm rules, sorted (the order of ipvsadm -Sn). */
export function rulesOf(result: ImportResult): string[] {
  return exportIpvsadm(configTable(loaded(result).config))
    .trimEnd()
    .split('\n')
    .sort();
}

export function sortedRules(text: string): string[] {
  return text
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .sort();
}

export function messages(result: ImportResult, severity: 'error' | 'warning'): string[] {
  return result.diagnostics
    .filter((d) => d.severity === severity)
    .map((d) => `${d.file.replace(/^.*\//, '')}:${d.line}: ${d.message}`);
}

/** A file system of a few files in memory: paths are as given (relative paths join with /). */
export function memFs(files: Record<string, string>): FileSystem {
  const norm = (p: string) => posix.normalize(p);
  const all = new Map(Object.entries(files).map(([p, t]) => [norm(p), t]));
  const dirs = new Set<string>();
  for (const p of all.keys())
    for (let d = posix.dirname(p); d !== '.' && d !== '/'; d = posix.dirname(d)) dirs.add(d);
  const fail = (code: string, path: string) =>
    Object.assign(new Error(`${code}: ${path}`), { code });
  return {
    readFile: (p) => {
      const text = all.get(norm(p));
      if (text === undefined) throw fail('ENOENT', p);
      return text;
    },
    readdir: (p) => {
      const dir = norm(p);
      if (dir !== '.' && !dirs.has(dir)) throw fail('ENOTDIR', p);
      const names = new Set<string>();
      for (const path of [...all.keys(), ...dirs]) {
        const parent = posix.dirname(path);
        if (parent === dir) names.add(posix.basename(path));
      }
      return [...names];
    },
    exists: (p) => all.has(norm(p)) || dirs.has(norm(p)),
    isDirectory: (p) => dirs.has(norm(p)),
  };
}
