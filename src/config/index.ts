/**
 * Loading a config: read the file (or every *.yaml / *.yml of a directory), merge, apply the
 * host's overrides, check the shape (zod), resolve and check the rules, and report every
 * problem at once with file:line:column and the path. Nothing here needs Linux or root:
 * `lvsd validate` runs on any laptop or CI machine.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  type DataPath,
  type Diagnostic,
  formatPath,
  sortDiagnostics,
  uniqueDiagnostics,
} from './diagnostics.js';
import { excerpt } from './excerpt.js';
import { type Finding, issuesToFindings, valueAt } from './issues.js';
import {
  applyHost,
  type Conflict,
  isExtensionKey,
  isPlainObject,
  matchHost,
  mergeFiles,
  type Provenance,
} from './merge.js';
import type { ResolvedConfig, SourceRef } from './resolved.js';
import { resolveConfig } from './resolve.js';
import { ConfigFile, ServiceConfig } from './schema.js';
import type { ServiceMemo } from './memo.js';
import { type ParserChoice, readSource, type SourceFile } from './source.js';
import { LazySourceRef, locateProv } from './source-ref.js';
import { didYouMean } from './suggest.js';

export const DEFAULT_CONFIG_PATH = '/etc/lvsd';

export type LoadResult =
  | { ok: true; config: ResolvedConfig; warnings: Diagnostic[] }
  | { ok: false; errors: Diagnostic[]; warnings: Diagnostic[] };

export interface LoadOptions {
  /**
   * The `hosts:` entry to apply. Default: this machine's hostname, applied when there is an
   * entry for it. A host given here that has no entry is an error (a typo must not silently
   * fall back to the base config). null: apply no entry (the base config).
   */
  host?: string | null;
  /** 'yaml' forces the slow parser (tests compare both paths). */
  parser?: ParserChoice;
  /** What the last good load resolved, reused for the services written the same (memo.ts). */
  memo?: ServiceMemo;
}

export interface SourceText {
  file: string;
  text: string;
}

/** A file, or a directory of *.yaml / *.yml files loaded as one config (names sorted). */
export async function loadConfig(path: string, options: LoadOptions = {}): Promise<LoadResult> {
  const read = await readConfigSources(path);
  return read.ok ? loadConfigTexts(read.texts, options) : read;
}

/** The files' texts (the I/O half of loadConfig), or why they cannot be read. */
export async function readConfigSources(
  path: string,
): Promise<
  { ok: true; texts: SourceText[] } | { ok: false; errors: Diagnostic[]; warnings: Diagnostic[] }
> {
  const failure = (message: string) => ({
    ok: false as const,
    errors: [{ severity: 'error' as const, file: path, line: 1, column: 1, path: '', message }],
    warnings: [],
  });
  let texts: SourceText[];
  try {
    texts = await readConfigTexts(path);
  } catch (err) {
    return failure(
      (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'no such file or directory'
        : (err as Error).message,
    );
  }
  return texts.length === 0
    ? failure('the directory holds no *.yaml or *.yml file')
    : { ok: true, texts };
}

export async function readConfigTexts(path: string): Promise<SourceText[]> {
  const info = await stat(path);
  if (!info.isDirectory()) return [{ file: path, text: await readFile(path, 'utf8') }];
  const names = (await readdir(path))
    .filter((n) => /\.ya?ml$/.test(n) && !n.startsWith('.'))
    .sort();
  return Promise.all(
    names.map(async (n) => ({ file: join(path, n), text: await readFile(join(path, n), 'utf8') })),
  );
}

export function loadConfigText(
  text: string,
  file = '<config>',
  options: LoadOptions = {},
): LoadResult {
  return loadConfigTexts([{ file, text }], options);
}

/** The names under `hosts:` across the given files, for validating a whole fleet. */
export function hostNames(texts: SourceText[]): string[] {
  const names = new Set<string>();
  for (const { file, text } of texts) {
    const read = readSource(file, text);
    const hosts = read.ok && isPlainObject(read.source.data) ? read.source.data.hosts : undefined;
    if (isPlainObject(hosts)) for (const name of Object.keys(hosts)) names.add(name);
  }
  return [...names];
}

/** A finding and the provenance of the data it was found in (for its file position). */
type Located = Finding & { prov: Provenance; shownPath?: DataPath };

export function loadConfigTexts(texts: SourceText[], options: LoadOptions = {}): LoadResult {
  const sources: SourceFile[] = [];
  const syntaxErrors: Diagnostic[] = [];
  const readers = options.memo?.readers(texts.map((t) => t.file));
  for (const { file, text } of texts) {
    const read = readSource(file, text, options.parser ?? 'auto', readers?.get(file));
    if (read.ok) sources.push(read.source);
    else syntaxErrors.push(...read.errors);
  }
  if (syntaxErrors.length > 0) return { ok: false, errors: syntaxErrors, warnings: [] };

  const merged = mergeFiles(sources);
  const findings: Located[] = merged.conflicts.map(conflictFinding);
  const { prov, host, ...chosen } = chooseHost(merged.value ?? {}, merged.prov, options, findings);
  let data = chosen.data;
  if (isPlainObject(data)) {
    data = Object.fromEntries(Object.entries(data).filter(([key]) => !isExtensionKey(key)));
  }
  dropEmptyValues(data);
  const noServices = noServicesFinding(data);
  if (noServices) findings.push({ ...noServices, prov });
  const memo = options.memo?.begin(data);
  const parsed = ConfigFile.safeParse(memo ? memo.toValidate(data) : data);
  let file: ConfigFile | null = parsed.success ? parsed.data : null;
  if (!parsed.success) {
    for (const f of issuesToFindings(parsed.error.issues, ConfigFile, data))
      findings.push({ ...f, prov });
    file = salvage(data);
  }
  const cell = memo?.cell ?? { prov };
  const origin = {
    ref: (path: DataPath): SourceRef => new LazySourceRef(cell, path),
    written: (path: DataPath) => valueAt(data, path) !== undefined,
  };
  // A shape error sends every service through salvage() and the rules, as without a memo.
  const { config, findings: ruleFindings } = resolveConfig(
    file ?? {},
    origin,
    parsed.success ? memo : undefined,
  );
  for (const f of ruleFindings) findings.push({ ...f, prov });

  const diagnostics = uniqueDiagnostics(findings.map((f) => toDiagnostic(f)));
  const errors = sortDiagnostics(diagnostics.filter((d) => d.severity === 'error'));
  const warnings = sortDiagnostics(diagnostics.filter((d) => d.severity === 'warning'));
  if (errors.length > 0 || !parsed.success) return { ok: false, errors, warnings };
  memo?.commit(prov);
  return {
    ok: true,
    warnings,
    config: {
      ...config,
      declaresNoServices: noServices !== null,
      files: texts.map((t) => t.file),
      hash: configHash(texts, host),
      host,
    },
  };
}

/** Two files of a directory that set the same thing: reported at the second, naming the first. */
function conflictFinding(c: Conflict): Located {
  const first = locateProv(c.first, [], 'key');
  const where = `${first.file}:${first.line}:${first.column}`;
  const message =
    c.kind === 'duplicate-service'
      ? `service '${excerpt(String(c.path[c.path.length - 1]))}' is also declared at ${where}: ` +
        'service names must be unique across the files of a directory'
      : `${formatPath(c.path)} is also set at ${where}: ` +
        'in a directory each setting belongs to one file';
  return { severity: 'error', path: [], shownPath: c.path, message, at: 'key', prov: c.again };
}

/** The data with the chosen `hosts:` entry laid over it; a host asked for by name must exist. */
function chooseHost(
  merged: unknown,
  mergedProv: Provenance,
  options: LoadOptions,
  findings: Located[],
): { data: unknown; prov: Provenance; host: string | null } {
  const hosts = isPlainObject(merged) && isPlainObject(merged.hosts) ? merged.hosts : null;
  if (!hosts) return { data: merged, prov: mergedProv, host: null };
  const names = Object.keys(hosts);
  const host = options.host === null ? null : matchHost(names, options.host ?? hostname());
  if (host === null && options.host !== undefined && options.host !== null) {
    findings.push({
      severity: 'error',
      path: ['hosts'],
      message:
        `host '${excerpt(options.host)}' has no entry under hosts${didYouMean(options.host, names)} ` +
        `(entries: ${names.map((n) => excerpt(n)).join(', ')})`,
      at: 'key',
      prov: mergedProv,
    });
  }
  if (host === null) return { data: merged, prov: mergedProv, host };
  const applied = applyHost(merged as Record<string, unknown>, mergedProv, host);
  return { data: applied.value, prov: applied.prov, host };
}

const REMOVES_EVERYTHING =
  'applying it removes every service lvsd manages (the removal guard refuses this unless forced)';

/**
 * A config that declares no service is valid (a director may have none), but it is also
 * what an emptied or truncated file looks like, and applying it removes every service.
 * Said as a warning with the code 'no-services'; the loaded config carries
 * declaresNoServices. Read from the data as written (after the host entry), not from the
 * resolved services, so that services dropped for their errors do not count as absent.
 */
function noServicesFinding(data: unknown): Omit<Located, 'prov'> | null {
  // Anything but a mapping, or a services value that is not one, is a shape error instead.
  if (!isPlainObject(data)) return null;
  const services = data.services;
  if (services !== undefined && !isPlainObject(services)) return null;
  const found = (path: DataPath, reason: string) => ({
    severity: 'warning' as const,
    code: 'no-services' as const,
    path,
    // A missing key is reported at the top of the (first) file, under its own name.
    shownPath: ['services'],
    message: `${reason}; ${REMOVES_EVERYTHING}`,
    at: 'key' as const,
  });
  if (Object.keys(data).length === 0)
    return found([], 'the config is empty: it declares no services');
  if (services === undefined) return found([], 'the config declares no services');
  const entries = Object.values(services);
  if (entries.length === 0) return found(['services'], 'the config declares no services');
  if (entries.every((svc) => isPlainObject(svc) && svc.enabled === false))
    return found(['services'], 'every service is disabled (enabled: false), so none is declared');
  return null;
}

/**
 * `key:` with nothing after it (YAML null) counts as leaving the key out: people comment
 * out every real of a service, or every service of a file, and expect an empty list.
 */
function dropEmptyValues(value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) if (item !== null && typeof item === 'object') dropEmptyValues(item);
  } else if (isPlainObject(value)) {
    // for...in, not Object.keys: no array of keys per object (11,000 per load at 1000 x 10).
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      const child = value[key];
      if (child === null) delete value[key];
      else if (typeof child === 'object') dropEmptyValues(child);
    }
  }
}

/**
 * When the shape is wrong somewhere, the rules still run on the services that are right,
 * so one bad field does not hide the other problems.
 */
function salvage(data: unknown): ConfigFile | null {
  if (!isPlainObject(data)) return null;
  const services: Record<string, ServiceConfig> = {};
  if (isPlainObject(data.services)) {
    for (const [name, svc] of Object.entries(data.services)) {
      const one = salvageService(svc);
      if (one) services[name] = one;
    }
  }
  const part = <K extends keyof ConfigFile>(key: K): ConfigFile[K] | undefined => {
    const one = ConfigFile.shape[key].safeParse(data[key]);
    return one.success ? (one.data as ConfigFile[K]) : undefined;
  };
  return {
    defaults: part('defaults'),
    kernel: part('kernel'),
    vips: part('vips'),
    reconcile: part('reconcile'),
    vrrp: part('vrrp'),
    announce: part('announce'),
    services,
  };
}

/**
 * A service with a bad field, without that field (it then inherits), so the rules can still
 * look at the rest. Bad identity fields make the service unusable: nothing else is said.
 */
function salvageService(svc: unknown): ServiceConfig | null {
  if (!isPlainObject(svc)) return null;
  let candidate: Record<string, unknown> = structuredClone(svc);
  for (let round = 0; round < 4; round++) {
    const one = ServiceConfig.safeParse(candidate);
    if (one.success) return one.data;
    for (const issue of one.error.issues) {
      const path = issue.path as (string | number)[];
      if (issue.code === 'unrecognized_keys') {
        const holder = valueAt(candidate, path);
        if (isPlainObject(holder)) for (const key of issue.keys) delete holder[key];
        continue;
      }
      const lastKey = path.findLastIndex((s) => typeof s === 'string');
      if (lastKey < 0 || ['address', 'fwmark'].includes(path[0] as string)) return null;
      const holder = valueAt(candidate, path.slice(0, lastKey));
      if (isPlainObject(holder)) delete holder[path[lastKey] as string];
      else return null;
    }
    candidate = { ...candidate };
  }
  return null;
}

function toDiagnostic(f: Located): Diagnostic {
  const where = locateProv(f.prov, f.path, f.at ?? 'value');
  return {
    severity: f.severity,
    ...where,
    path: formatPath(f.shownPath ?? f.path),
    message: f.message,
    ...(f.code ? { code: f.code } : {}),
  };
}

function configHash(texts: SourceText[], host: string | null): string {
  const hash = createHash('sha256');
  for (const t of texts) hash.update(t.file).update('\0').update(t.text).update('\0');
  hash.update(host ?? '');
  return hash.digest('hex');
}
