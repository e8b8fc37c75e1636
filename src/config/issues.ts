/**
 * zod issues turned into findings people can act on: one per problem, at the key or the
 * value it concerns, in lvsd's words ("unknown key 'shceduler' — did you mean
 * 'scheduler'?", "70000 is above the maximum 65535"), instead of zod's generic text.
 */
import { z } from 'zod';
import type { DataPath, DiagnosticCode } from './diagnostics.js';
import { excerpt, quoted } from './excerpt.js';
import { isPlainObject } from './merge.js';
import { ServiceConfig } from './schema.js';
import { closest, didYouMean } from './suggest.js';

/** A diagnostic before it has a file position: the path in the merged data. */
export interface Finding {
  severity: 'error' | 'warning';
  /** For the findings other code acts on (see DiagnosticCode). */
  code?: DiagnosticCode;
  path: DataPath;
  message: string;
  /** Report at the key (unknown or duplicate keys) or at the value (the default). */
  at?: 'key' | 'value';
}

type Issue = z.core.$ZodIssue;
type AnySchema = z.ZodType;

export function valueAt(data: unknown, path: DataPath): unknown {
  let node = data;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}

/** How a value reads in a message: "text \"abc\"", "the number 5", "a list". */
export function describeValue(value: unknown): string {
  if (value === null) return 'nothing (null)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `text ${quoted(value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'boolean') return String(value);
  return typeof value;
}

const EXPECTED_NAMES: Record<string, string> = {
  number: 'a number',
  int: 'a whole number',
  string: 'text',
  boolean: 'true or false',
  object: 'a mapping (key: value)',
  array: 'a list',
  record: 'a mapping (key: value)',
  literal: 'a fixed value',
};

/** Why some limits are what they are; keyed by the field's name. */
const LIMIT_REASONS: Record<string, string> = {
  weight: 'the kernel keeps weights in 16 bits',
  syncid: 'sync IDs are 8 bits',
  port: 'ports are 1..65535',
  mcast_port: 'ports are 1..65535',
  fwmark: 'marks are 32 bits and 0 means no mark',
  quorum: 'a quorum of 0 is always met; leave it out instead',
};

/** Keys that people bring from ipvsadm or keepalived habits, with where they belong in lvsd. */
const KEY_HINTS: Record<string, string> = {
  port: 'the port goes in address (10.0.0.1:80)',
  ip: "the address goes in 'address'",
  vip_port: 'write address: 10.0.0.1:80',
  lb_algo: "keepalived's lb_algo is 'scheduler' here",
  lb_kind: "keepalived's lb_kind is 'forwarding' here (nat, dr, tun)",
  persistence_timeout: 'write persistence: { timeout: 360 }',
  real_server: "real servers go in 'reals'",
  real_servers: "real servers go in 'reals'",
  servers: "real servers go in 'reals'",
  backends: "real servers go in 'reals'",
};

/** The object schema that `path` (inside `data`) points to, following unions by the data. */
function schemaAt(schema: AnySchema, data: unknown, path: DataPath): AnySchema | null {
  let node: AnySchema | null = schema;
  let value = data;
  for (let i = 0; i <= path.length && node; i++) {
    node = unwrap(node, value);
    if (i === path.length || !node) break;
    const segment = path[i] as string | number;
    node = childSchema(node, segment);
    value =
      isPlainObject(value) || Array.isArray(value)
        ? (value as Record<string | number, unknown>)[segment]
        : undefined;
  }
  return node;
}

/** The schema of one key of an object, any key of a record, any item of a list. */
function childSchema(node: AnySchema, segment: string | number): AnySchema | null {
  if (node instanceof z.ZodObject) return (node.shape[String(segment)] as AnySchema) ?? null;
  if (node instanceof z.ZodRecord) return node.valueType as AnySchema;
  if (node instanceof z.ZodArray) return node.element as AnySchema;
  return null;
}

/** Wrappers that only change presence or defaults; what is inside describes the value. */
const WRAPPERS = [
  z.ZodOptional,
  z.ZodNullable,
  z.ZodDefault,
  z.ZodPrefault,
  z.ZodReadonly,
  z.ZodCatch,
] as const;

function isWrapper(node: AnySchema): node is AnySchema & { unwrap(): AnySchema } {
  return WRAPPERS.some((wrapper) => node instanceof wrapper);
}

/** The schema that describes `value` under `schema`: wrappers removed, the union branch chosen. */
function unwrap(schema: AnySchema, value: unknown): AnySchema | null {
  let node = schema;
  for (;;) {
    if (isWrapper(node)) node = node.unwrap();
    // A transform (durations) is checked against its input schema.
    else if (node instanceof z.ZodPipe) node = node.in as AnySchema;
    else if (node instanceof z.ZodUnion) {
      const branch = unionBranch(node, value);
      if (!branch) return null;
      node = branch;
    } else return node;
  }
}

/**
 * The branch of a union that `value` was meant for: by the discriminator's literal for a
 * discriminated union (the check types), else the first branch of the value's kind (a
 * real is text or a mapping).
 */
function unionBranch(union: z.ZodUnion, value: unknown): AnySchema | null {
  const options = union.options as readonly AnySchema[];
  const discriminator =
    union instanceof z.ZodDiscriminatedUnion ? union.def.discriminator : undefined;
  if (discriminator && isPlainObject(value)) {
    const match = options.find((o) => {
      const literal = o instanceof z.ZodObject ? o.shape[discriminator] : undefined;
      return literal instanceof z.ZodLiteral && literal.values.has(value[discriminator] as never);
    });
    return match ?? null;
  }
  const kind = Array.isArray(value) ? z.ZodArray : isPlainObject(value) ? z.ZodObject : null;
  if (!kind) return null;
  return options.find((o) => unwrap(o, value) instanceof kind) ?? null;
}

function objectKeys(schema: AnySchema | null): string[] {
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

const SERVICE_KEYS = Object.keys(ServiceConfig.shape);

function unknownKey(key: string, known: string[], path: DataPath): Finding {
  let message = `unknown key '${excerpt(key)}'`;
  const near = closest(key, known);
  if (near) message += ` — did you mean '${near}'?`;
  else if (KEY_HINTS[key]) message += `: ${KEY_HINTS[key]}`;
  else if (SERVICE_KEYS.includes(key) && !known.includes(key))
    message += `: '${excerpt(key)}' is a service setting and cannot be set here`;
  else if (known.length > 0) message += ` (expected one of: ${known.join(', ')})`;
  return { severity: 'error', path: [...path, key], message, at: 'key' };
}

function expectedList(values: readonly unknown[]): string {
  return values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ');
}

function valueIssue(field: string, input: unknown, values: readonly unknown[]): string {
  if (field === 'forwarding' && typeof input === 'string') {
    const lower = input.toLowerCase();
    if (lower === 'fullnat' || lower === 'full-nat' || lower === 'fnat') {
      return (
        'fullnat is not supported by mainline Linux (it needs an out-of-tree IPVS patch); ' +
        'use nat, and SNAT on the director if the reals must see its address'
      );
    }
    const ipvsadm: Record<string, string> = {
      masq: 'nat',
      masquerade: 'nat',
      masquerading: 'nat',
      route: 'dr',
      gatewaying: 'dr',
      direct: 'dr',
      tunnel: 'tun',
      ipip: 'tun',
    };
    if (ipvsadm[lower])
      return `'${input}' is ipvsadm's word; lvsd writes forwarding: ${ipvsadm[lower]}`;
  }
  const shown = typeof input === 'string' ? `'${excerpt(input)}'` : describeValue(input);
  const suggestion =
    typeof input === 'string'
      ? didYouMean(
          input,
          values.filter((v): v is string => typeof v === 'string'),
        )
      : '';
  const what = field === 'scheduler' ? 'scheduler' : field;
  return `${shown} is not a valid ${what}${suggestion} (one of: ${expectedList(values)})`;
}

function limitIssue(
  issue: Extract<Issue, { code: 'too_big' | 'too_small' }>,
  field: string,
  input: unknown,
): string {
  const bound = issue.code === 'too_big' ? issue.maximum : issue.minimum;
  const reasonText =
    issue.code === 'too_big'
      ? LIMIT_REASONS[field]
      : field === 'quorum'
        ? LIMIT_REASONS.quorum
        : undefined;
  const reason = reasonText ? `: ${reasonText}` : '';
  if (issue.origin === 'array')
    return `needs at least ${String(bound)} item${bound === 1 ? '' : 's'}`;
  if (issue.origin === 'string')
    return issue.code === 'too_small' && bound === 1
      ? 'must not be empty'
      : `must be at most ${String(bound)} characters`;
  const verb = issue.code === 'too_big' ? 'above the maximum' : 'below the minimum';
  return `${typeof input === 'number' ? input : describeValue(input)} is ${verb} ${String(bound)}${reason}`;
}

/** zod issues of one parse of `data` against `schema` as findings. */
export function issuesToFindings(
  issues: readonly Issue[],
  schema: AnySchema,
  data: unknown,
  prefix: DataPath = [],
): Finding[] {
  const out: Finding[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...(issue.path as (string | number)[])];
    const input = valueAt(data, path);
    const field = String([...path].reverse().find((s) => typeof s === 'string') ?? '');
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = objectKeys(schemaAt(schema, data, path));
        for (const key of issue.keys) out.push(unknownKey(key, known, path));
        break;
      }
      case 'invalid_type': {
        if (input === undefined) {
          out.push({
            severity: 'error',
            path,
            message: `missing required key '${field}'`,
            at: 'key',
          });
          break;
        }
        const expected = EXPECTED_NAMES[issue.expected] ?? issue.expected;
        let message = `expected ${expected}, got ${describeValue(input)}`;
        if (
          Array.isArray(input) &&
          input.length === 1 &&
          typeof input[0] === 'string' &&
          input[0].includes(':')
        ) {
          message +=
            ' (an unquoted [2001:db8::1] is a YAML list: quote IPv6 addresses, "[2001:db8::1]:80")';
        }
        out.push({ severity: 'error', path, message });
        break;
      }
      case 'too_big':
      case 'too_small':
        out.push({ severity: 'error', path, message: limitIssue(issue, field, input) });
        break;
      case 'invalid_value':
        out.push({ severity: 'error', path, message: valueIssue(field, input, issue.values) });
        break;
      case 'invalid_union':
        out.push(...unionFindings(issue, path, input, schema, data));
        break;
      default:
        out.push({ severity: 'error', path, message: issue.message });
    }
  }
  return out;
}

function unionFindings(
  issue: Extract<Issue, { code: 'invalid_union' }>,
  path: DataPath,
  input: unknown,
  schema: AnySchema,
  data: unknown,
): Finding[] {
  if (issue.discriminator !== undefined) return [checkTypeFinding(issue, path, input, data)];
  // A branch that got past the type of the value explains the problem best.
  const deeper =
    issue.errors.find((branch) =>
      branch.some((i) => i.path.length > 0 || i.code !== 'invalid_type'),
    ) ?? null;
  const rootOnly = (branch: readonly Issue[]) => branch.every((i) => i.path.length === 0);
  if (
    deeper &&
    !(rootOnly(deeper) && deeper.every((i) => i.code === 'invalid_value' && !isPlainObject(input)))
  ) {
    return issuesToFindings(deeper, schema, data, path);
  }
  const expected = issue.errors.flatMap((branch) =>
    branch
      .filter((i) => i.path.length === 0)
      .map((i) =>
        i.code === 'invalid_type'
          ? (EXPECTED_NAMES[i.expected] ?? i.expected)
          : i.code === 'invalid_value'
            ? expectedList(i.values)
            : i.message,
      ),
  );
  const unique = [...new Set(expected)];
  return [
    {
      severity: 'error',
      path,
      message: `expected ${unique.join(' or ')}, got ${describeValue(input)}`,
    },
  ];
}

/** The check union (discriminated by `type`): name the type, suggest the closest. */
function checkTypeFinding(
  issue: Extract<Issue, { code: 'invalid_union' }>,
  path: DataPath,
  input: unknown,
  data: unknown,
): Finding {
  const options = ('options' in issue ? (issue.options ?? []) : []).filter(
    (o): o is string => typeof o === 'string',
  );
  const container = valueAt(data, path.slice(0, -1));
  const type = isPlainObject(container) ? container.type : input;
  const known = options.join(', ');
  if (type === undefined)
    return { severity: 'error', path, message: `a check needs a type: one of ${known}`, at: 'key' };
  const shown =
    typeof type === 'string' ? quoted(type) + didYouMean(type, options) : describeValue(type);
  return { severity: 'error', path, message: `unknown check type ${shown} (one of: ${known})` };
}
