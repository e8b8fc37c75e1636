/**
 * Merging: the files of a conf.d directory into one config, then the chosen host's
 * overrides over it. Every merged value remembers where it came from (provenance), so a
 * message about `services.web.weight` points at the host override that set it, in the
 * file that holds it.
 */
import type { DataPath } from './diagnostics.js';
import type { SourceFile } from './source.js';

/** Where a value came from: a file and the path inside it; children where values were merged. */
export interface Provenance {
  source: SourceFile;
  path: DataPath;
  children?: Map<string | number, Provenance>;
}

/** Top-level x-* keys are ignored: a place for YAML anchors to merge from (as docker-compose does). */
export function isExtensionKey(key: unknown): boolean {
  return typeof key === 'string' && key.startsWith('x-');
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The provenance of a child key: recorded if merged, else the parent's file one level deeper. */
export function childProvenance(prov: Provenance, key: string | number): Provenance {
  return prov.children?.get(key) ?? { source: prov.source, path: [...prov.path, key] };
}

/** The file and path inside it that a merged path came from. */
export function trace(prov: Provenance, path: DataPath): { source: SourceFile; path: DataPath } {
  let node = prov;
  let i = 0;
  while (i < path.length && node.children?.has(path[i] as string | number)) {
    node = node.children.get(path[i] as string | number) as Provenance;
    i++;
  }
  return { source: node.source, path: [...node.path, ...path.slice(i)] };
}

export interface Conflict {
  /** Path in the merged data. */
  path: DataPath;
  kind: 'duplicate-service' | 'duplicate-setting';
  /** Where it was set first and where again. */
  first: Provenance;
  again: Provenance;
}

type Policy = (path: DataPath) => 'merge' | 'concat' | 'unique';

interface Merged {
  value: unknown;
  prov: Provenance;
}

/**
 * Lays `top` over `base`: mappings merge key by key; anything else is replaced by top's
 * value, or reported as a conflict when `conflicts` is given (files of one directory must
 * not set the same thing twice).
 */
function overlay(
  base: Merged,
  top: Merged,
  path: DataPath,
  policy: Policy,
  conflicts: Conflict[] | null,
): Merged {
  const rule = policy(path);
  if (rule === 'concat' && Array.isArray(base.value) && Array.isArray(top.value)) {
    const children = new Map<string | number, Provenance>();
    const offset = base.value.length;
    for (let i = 0; i < offset; i++) children.set(i, childProvenance(base.prov, i));
    for (let i = 0; i < top.value.length; i++)
      children.set(offset + i, childProvenance(top.prov, i));
    return { value: [...base.value, ...top.value], prov: { ...base.prov, children } };
  }
  if (!isPlainObject(base.value) || !isPlainObject(top.value)) {
    if (conflicts && !isExtensionKey(path[0]))
      conflicts.push({ path, kind: 'duplicate-setting', first: base.prov, again: top.prov });
    return top;
  }
  const value: Record<string, unknown> = { ...base.value };
  const children = new Map<string | number, Provenance>();
  for (const key of Object.keys(base.value)) children.set(key, childProvenance(base.prov, key));
  for (const [key, topValue] of Object.entries(top.value)) {
    const topChild = { value: topValue, prov: childProvenance(top.prov, key) };
    if (!Object.hasOwn(value, key)) {
      value[key] = topValue;
      children.set(key, topChild.prov);
      continue;
    }
    const childPath = [...path, key];
    if (conflicts && policy(childPath) === 'unique') {
      conflicts.push({
        path: childPath,
        kind: 'duplicate-service',
        first: children.get(key) as Provenance,
        again: topChild.prov,
      });
      continue;
    }
    const merged = overlay(
      { value: value[key], prov: children.get(key) as Provenance },
      topChild,
      childPath,
      policy,
      conflicts,
    );
    value[key] = merged.value;
    children.set(key, merged.prov);
  }
  return { value, prov: { ...base.prov, children } };
}

/** Directory policy: service names unique across files, lists of vips joined, the rest merged. */
const filePolicy: Policy = (path) => {
  if (path.length === 2 && path[0] === 'services') return 'unique';
  if (path.length === 4 && path[0] === 'hosts' && path[2] === 'services') return 'unique';
  if (path.length === 1 && path[0] === 'vips') return 'concat';
  return 'merge';
};

/** Merges the files of a directory, in load order. */
export function mergeFiles(sources: SourceFile[]): {
  value: unknown;
  prov: Provenance;
  conflicts: Conflict[];
} {
  const [first, ...rest] = sources as [SourceFile, ...SourceFile[]];
  let merged: Merged = { value: first.data, prov: { source: first, path: [] } };
  const conflicts: Conflict[] = [];
  for (const source of rest) {
    const top: Merged = { value: source.data, prov: { source, path: [] } };
    if (merged.value === null || merged.value === undefined) merged = top;
    else if (top.value !== null && top.value !== undefined)
      merged = overlay(merged, top, [], filePolicy, conflicts);
  }
  return { value: merged.value, prov: merged.prov, conflicts };
}

/** The host entry to apply: exact name, else case-insensitive, else by first label (lb1 vs lb1.example.com). */
export function matchHost(names: string[], host: string): string | null {
  const lower = host.toLowerCase();
  const short = (name: string) => name.toLowerCase().split('.')[0];
  return (
    names.find((n) => n === host) ??
    names.find((n) => n.toLowerCase() === lower) ??
    names.find((n) => short(n) === short(host)) ??
    null
  );
}

const HOST_SECTIONS = ['defaults', 'kernel', 'services', 'vips', 'vrrp'];

/** The base config with one host's overrides laid over it (mappings merge, lists replace). */
export function applyHost(
  base: Record<string, unknown>,
  prov: Provenance,
  host: string,
): { value: Record<string, unknown>; prov: Provenance } {
  const hosts = base.hosts as Record<string, unknown>;
  const entry = hosts[host];
  if (!isPlainObject(entry)) return { value: base, prov };
  const entryNode = childProvenance(childProvenance(prov, 'hosts'), host);
  let merged: Merged = { value: base, prov };
  for (const section of HOST_SECTIONS) {
    if (!(section in entry)) continue;
    const top: Merged = {
      value: { [section]: entry[section] },
      prov: {
        source: entryNode.source,
        path: [],
        children: new Map([[section, childProvenance(entryNode, section)]]),
      },
    };
    merged = overlay(merged, top, [], () => 'merge', null);
  }
  return { value: merged.value as Record<string, unknown>, prov: merged.prov };
}
