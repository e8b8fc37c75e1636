/**
 * Writes an import as an lvsd config: YAML in the plain subset lvsd's fast reader takes
 * (block mappings, one-line flow maps and lists, plain or double-quoted scalars), one real
 * per line where it fits, and comments that name the source line of each part and say
 * where keepalived's or ipvsadm's meaning and lvsd's differ. The same input always gives
 * the same text: nothing here depends on time, host or the order of a map.
 */
import { parse } from 'yaml';
import {
  flowKey,
  forwardingOf,
  mostCommon,
  realAddress,
  serviceFields,
  tunnelOf,
} from './lvsd-fields.js';
import type {
  CheckOut,
  CheckParts,
  FieldValue,
  FlowMap,
  ImportedReal,
  ImportedService,
  ImportResult,
  Scalar,
  SourcePos,
} from './types.js';

/** Characters a plain scalar may hold here (no blanks, no flow indicators, no # or quotes). */
const PLAIN = /^[A-Za-z0-9_./@+][A-Za-z0-9_./@+:-]*$/;
/** Words other YAML readers (1.1) take for booleans: quoted, so no reader mistakes them. */
const RESERVED = /^(true|false|yes|no|on|off|null|y|n)$/i;

/** A scalar as YAML: plain when YAML reads it back as the same string, else double-quoted. */
export function yamlScalar(value: Scalar): string {
  if (typeof value !== 'string') return String(value);
  if (PLAIN.test(value) && !RESERVED.test(value) && !value.endsWith(':') && readsBack(value))
    return value;
  return JSON.stringify(value);
}

/** Whether YAML reads the plain scalar back as itself (it refuses some, such as "@x", outright). */
function readsBack(value: string): boolean {
  try {
    return parse(value) === value;
  } catch {
    return false;
  }
}

function flowList(values: readonly Scalar[]): string {
  return `[${values.map(yamlScalar).join(', ')}]`;
}

function isFlowMaps(value: FieldValue): value is FlowMap[] {
  return Array.isArray(value) && value.some((v) => typeof v === 'object');
}

export function yamlValue(value: FieldValue): string {
  if (isFlowMaps(value)) return `[${value.map(flowMap).join(', ')}]`;
  if (Array.isArray(value)) return flowList(value as Scalar[]);
  if (typeof value === 'object') return flowMap(value);
  return yamlScalar(value);
}

function flowMap(map: FlowMap): string {
  const parts = map.flow.map(([k, v]) => `${k}: ${Array.isArray(v) ? flowList(v) : yamlScalar(v)}`);
  return `{ ${parts.join(', ')} }`;
}

export function where(pos: SourcePos | null): string {
  return pos ? `${pos.file}:${pos.line}` : '';
}

class Lines {
  readonly out: string[] = [];
  add(indent: number, text: string): void {
    this.out.push(`${' '.repeat(indent)}${text}`);
  }
  comments(indent: number, notes: readonly string[]): void {
    for (const note of notes) for (const line of note.split('\n')) this.add(indent, `# ${line}`);
  }
}

function isParts(value: FieldValue | CheckParts): value is CheckParts {
  return typeof value === 'object' && !Array.isArray(value) && 'parts' in value;
}

/** A check's keys at `indent`: lists of maps (urls) one item a line, an all check's parts as blocks. */
function writeCheckFields(lines: Lines, indent: number, fields: CheckOut['fields']): void {
  for (const [key, value] of fields) {
    if (isParts(value)) {
      lines.add(indent, `${key}:`);
      for (const part of value.parts) {
        lines.comments(indent + 2, part.notes);
        const first = lines.out.length;
        writeCheckFields(lines, indent + 4, part.fields);
        lines.out[first] = `${' '.repeat(indent + 2)}- ${lines.out[first]?.trimStart()}`;
      }
    } else if (isFlowMaps(value as FieldValue)) {
      lines.add(indent, `${key}:`);
      for (const item of value as FlowMap[]) lines.add(indent + 2, `- ${flowMap(item)}`);
    } else lines.add(indent, `${key}: ${yamlValue(value as FieldValue)}`);
  }
}

function writeCheck(lines: Lines, indent: number, check: CheckOut): void {
  lines.add(indent, 'check:');
  lines.comments(indent + 2, check.notes);
  writeCheckFields(lines, indent + 2, check.fields);
}

interface ServiceDefaults {
  forwarding: 'nat' | 'dr' | 'tun' | null;
  /**
   * The tunnel written on the service: only when every real is tunnelled with the same
   * settings (lvsd refuses a tunnel setting that reaches a real of another forwarding).
   */
  tunnel: FlowMap | null;
  check: CheckOut | null;
}

function realFields(real: ImportedReal, svc: ImportedService, defaults: ServiceDefaults) {
  const d = real.dest;
  const fields: Array<[string, Scalar | FlowMap]> = [['address', realAddress(d, svc.service)]];
  if (forwardingOf(d) !== defaults.forwarding) fields.push(['forwarding', forwardingOf(d)]);
  if (d.weight !== 1) fields.push(['weight', d.weight]);
  if (d.upperThreshold !== 0) fields.push(['upper', d.upperThreshold]);
  if (d.lowerThreshold !== 0) fields.push(['lower', d.lowerThreshold]);
  const tunnel = tunnelOf(d);
  if (tunnel && defaults.tunnel === null) fields.push(['tunnel', tunnel]);
  return fields;
}

function writeReal(
  lines: Lines,
  real: ImportedReal,
  svc: ImportedService,
  defaults: ServiceDefaults,
) {
  const fields = realFields(real, svc, defaults);
  const from = real.source ? `  # ${where(real.source)}` : '';
  const shared = defaults.check ? JSON.stringify(defaults.check) : null;
  const ownCheck = real.check && JSON.stringify(real.check) !== shared ? real.check : null;
  lines.comments(6, real.notes);
  if (!ownCheck) {
    const text =
      fields.length === 1
        ? yamlScalar(fields[0]?.[1] as string)
        : flowMap({ flow: fields as Array<[string, Scalar]> });
    const flat = fields.every(([, v]) => typeof v !== 'object');
    if (flat || fields.length === 1) {
      lines.add(6, `- ${text}${from}`);
      return;
    }
  }
  fields.forEach(([key, value], i) => {
    const line = `${key}: ${yamlValue(value)}${i === 0 ? from : ''}`;
    lines.add(i === 0 ? 6 : 8, i === 0 ? `- ${line}` : line);
  });
  if (ownCheck) writeCheck(lines, 8, ownCheck);
}

/** The check shared by every real, written once on the service; null when they differ. */
function sharedCheck(reals: readonly ImportedReal[]): CheckOut | null {
  const first = reals[0]?.check;
  if (!first) return null;
  const key = JSON.stringify(first);
  return reals.every((r) => r.check && JSON.stringify(r.check) === key) ? first : null;
}

function serviceDefaults(svc: ImportedService): ServiceDefaults {
  const dests = svc.reals.map((r) => r.dest);
  const common = mostCommon(dests, forwardingOf);
  const tunnels = new Set(dests.map((d) => (d.forwarding === 'tun' ? flowKey(tunnelOf(d)) : '-')));
  const first = dests[0];
  const shared = tunnels.size === 1 && first && first.forwarding === 'tun' ? tunnelOf(first) : null;
  return {
    forwarding: svc.forwarding ?? (common ? forwardingOf(common) : null),
    tunnel: shared,
    check: sharedCheck(svc.reals),
  };
}

function writeService(lines: Lines, svc: ImportedService, first: boolean): void {
  if (!first) lines.out.push('');
  if (svc.origin) lines.comments(2, [`${where(svc.source)}: ${svc.origin}`]);
  lines.comments(2, svc.notes);
  lines.add(2, `${yamlScalar(svc.name)}:`);
  if (svc.description) lines.add(4, `description: ${yamlScalar(svc.description)}`);
  const defaults = serviceDefaults(svc);
  for (const [key, value] of serviceFields(svc.service).fields)
    lines.add(4, `${key}: ${yamlValue(value)}`);
  if (defaults.forwarding) lines.add(4, `forwarding: ${defaults.forwarding}`);
  if (defaults.tunnel) lines.add(4, `tunnel: ${yamlValue(defaults.tunnel)}`);
  if (defaults.check) writeCheck(lines, 4, defaults.check);
  if (svc.sorryServer) lines.add(4, `sorry_server: ${yamlScalar(svc.sorryServer)}`);
  if (svc.quorum !== undefined) lines.add(4, `quorum: ${svc.quorum}`);
  if (svc.hysteresis) lines.add(4, `quorum_hysteresis: ${svc.hysteresis}`);
  if (svc.alpha) lines.add(4, 'alpha: true');
  if (svc.reals.length === 0) {
    lines.add(4, 'reals: []');
    return;
  }
  lines.add(4, 'reals:');
  for (const real of svc.reals) writeReal(lines, real, svc, defaults);
}

function writeKernel(lines: Lines, result: ImportResult): void {
  const { timeouts, sync } = result.kernel;
  if (!timeouts && !sync) return;
  lines.out.push('');
  lines.add(0, 'kernel:');
  if (timeouts) {
    const flow = Object.entries(timeouts).filter(([, v]) => v !== undefined) as FlowMap['flow'];
    lines.add(2, `timeouts: ${flowMap({ flow })}`);
  }
  if (sync) {
    lines.add(2, 'sync:');
    for (const daemon of sync) {
      const flow = Object.entries(daemon).filter(([, v]) => v !== undefined) as FlowMap['flow'];
      lines.add(4, `- ${flowMap({ flow })}`);
    }
  }
}

function writeVrrp(lines: Lines, result: ImportResult): void {
  const vrrp = result.vrrp;
  if (!vrrp || vrrp.instances.length === 0) return;
  lines.out.push('');
  lines.add(0, 'vrrp:');
  lines.add(2, 'instances:');
  for (const [n, instance] of vrrp.instances.entries()) {
    if (n > 0) lines.out.push('');
    lines.comments(4, [`${where(instance.source)}: ${instance.origin}`, ...instance.notes]);
    lines.add(4, `${yamlScalar(instance.name)}:`);
    for (const [key, value] of instance.fields) {
      if (typeof value === 'object' && 'block' in value) {
        lines.add(6, `${key}:`);
        for (const [k, v] of value.block) lines.add(8, `${k}: ${yamlValue(v)}`);
      } else lines.add(6, `${key}: ${yamlValue(value)}`);
    }
  }
  if (vrrp.syncGroups.length === 0) return;
  lines.add(2, 'sync_groups:');
  for (const group of vrrp.syncGroups) {
    lines.comments(4, [`${where(group.source)}: vrrp_sync_group ${group.name}`]);
    lines.add(4, `${yamlScalar(group.name)}: ${yamlValue(group.members)}`);
  }
}

function header(result: ImportResult): string[] {
  const [main, ...included] = result.files;
  const lines = [
    `Imported by \`lvsd import ${result.from}\` from ${main ?? 'standard input'}${
      included.length > 0 ? ` and ${included.length} included file(s)` : ''
    }.`,
    "Comments name the line each part came from; NOTE says where lvsd's meaning differs,",
    'WARNING what was not imported. Check it against the running director with',
    '`lvsd plan -c FILE`: it should show no changes.',
  ];
  for (const file of included) lines.push(`  included: ${file}`);
  return [...lines, ...result.notes];
}

/** The whole config text. */
export function writeYaml(result: ImportResult): string {
  const lines = new Lines();
  lines.comments(0, header(result));
  writeKernel(lines, result);
  writeVrrp(lines, result);
  lines.out.push('');
  if (result.services.length === 0) lines.add(0, 'services: {}');
  else {
    lines.add(0, 'services:');
    for (const [i, svc] of result.services.entries()) writeService(lines, svc, i === 0);
  }
  return `${lines.out.join('\n')}\n`;
}
