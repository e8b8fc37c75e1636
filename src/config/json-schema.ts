/**
 * The JSON Schema of the config file (for editors: `# yaml-language-server: $schema=...`)
 * and the reference page docs/config-reference.md, both generated from the zod schemas in
 * schema.ts so that they cannot drift from what `lvsd validate` accepts. A test fails when
 * the checked-in copies are stale; `npm run schema` rewrites them.
 */
import { z } from 'zod';
import { ConfigFile } from './schema.js';

type Json = Record<string, unknown>;

/**
 * The `format` values JSON Schema 2020-12 defines. zod also writes formats of its own for
 * some checks (`starts_with` for .startsWith(), next to the `pattern` that says the same);
 * strict validators (ajv's strict mode) refuse a schema with a format they do not know, so
 * only these are kept.
 */
export const STANDARD_FORMATS: ReadonlySet<string> = new Set([
  'date-time',
  'date',
  'time',
  'duration',
  'email',
  'idn-email',
  'hostname',
  'idn-hostname',
  'ipv4',
  'ipv6',
  'uri',
  'uri-reference',
  'iri',
  'iri-reference',
  'uuid',
  'uri-template',
  'json-pointer',
  'relative-json-pointer',
  'regex',
]);

export function configJsonSchema(): Json {
  const schema = z.toJSONSchema(ConfigFile, {
    io: 'input',
    unrepresentable: 'any',
    reused: 'inline',
    override: ({ jsonSchema }) => {
      if (typeof jsonSchema.format === 'string' && !STANDARD_FORMATS.has(jsonSchema.format))
        delete jsonSchema.format;
    },
  }) as Json;
  return {
    $schema: schema.$schema,
    $id: 'https://lvsd.dev/schemas/lvsd.schema.json',
    title: 'lvsd configuration',
    ...schema,
    patternProperties: {
      '^x-': {
        description:
          'Ignored by lvsd: a place for YAML anchors (x-web: &web {...}) to merge from with <<: *web.',
      },
    },
  };
}

export function renderJsonSchema(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

function resolveRef(root: Json, node: Json): { node: Json; name: string | null } {
  const ref = node.$ref;
  if (typeof ref !== 'string') return { node, name: null };
  const name = ref.replace(/^#\/\$defs\//, '');
  return { node: ((root.$defs as Json)[name] as Json) ?? {}, name };
}

function typeText(root: Json, raw: Json): string {
  if (typeof raw.$ref === 'string')
    return `[${raw.$ref.replace(/^#\/\$defs\//, '')}](#${raw.$ref.replace(/^#\/\$defs\//, '').toLowerCase()})`;
  const node = raw;
  if (Array.isArray(node.enum)) return node.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  const union = (node.anyOf ?? node.oneOf) as Json[] | undefined;
  if (union) return union.map((n) => typeText(root, n)).join(' or ');
  switch (node.type) {
    case 'array':
      return `list of ${typeText(root, (node.items as Json) ?? {})}`;
    case 'object':
      if (node.properties) return 'mapping';
      return `map of name → ${typeText(root, (node.additionalProperties as Json) ?? {})}`;
    case 'integer':
    case 'number': {
      const bounded =
        node.maximum !== undefined && (node.maximum as number) < Number.MAX_SAFE_INTEGER;
      const range =
        node.minimum !== undefined && bounded
          ? ` ${String(node.minimum)}..${String(node.maximum)}`
          : node.minimum !== undefined
            ? ` ≥ ${String(node.minimum)}`
            : '';
      return `${String(node.type)}${range}`;
    }
    case 'string':
      return 'text';
    case 'boolean':
      return 'true \\| false';
    default:
      return 'any';
  }
}

/** Object schemas reachable from a property (through lists, maps and unions), to document in turn. */
interface Section {
  path: string;
  node: Json;
  def: string | null;
}

function childObjects(
  root: Json,
  raw: Json,
  path: string,
  inheritedDef: string | null = null,
): Section[] {
  const { node, name } = resolveRef(root, raw);
  const def = name ?? inheritedDef;
  if (node.properties) return [{ path, node, def }];
  if (node.type === 'array') return childObjects(root, (node.items as Json) ?? {}, `${path}[]`);
  if (node.type === 'object' && typeof node.additionalProperties === 'object')
    return childObjects(root, node.additionalProperties as Json, `${path}.<name>`);
  const union = (node.anyOf ?? node.oneOf) as Json[] | undefined;
  if (!union) return [];
  const variants = union
    .flatMap((n) => childObjects(root, n, path, def))
    .map((v) =>
      name && v.def === name && !(v.node.properties as Record<string, Json>).type?.const
        ? { ...v, def: `${name} (mapping)` }
        : v,
    );
  // A named union (Check): one section that lists the variants, then one per variant.
  return name
    ? [
        { path, node: { ...node, variants: variants.map((v) => variantTitle(v)) }, def: name },
        ...variants,
      ]
    : variants;
}

function variantTitle(section: Section): string {
  const variant = (section.node.properties as Record<string, Json> | undefined)?.type?.const as
    | string
    | undefined;
  return `${section.def ?? section.path}${variant ? ` (type: ${variant})` : ''}`;
}

function table(root: Json, node: Json): string[] {
  const required = new Set((node.required as string[] | undefined) ?? []);
  const rows = Object.entries((node.properties as Record<string, Json>) ?? {}).map(
    ([key, prop]) => {
      const description = String(
        prop.description ?? resolveRef(root, prop).node.description ?? '',
      ).replace(/\|/g, '\\|');
      const def = prop.default !== undefined ? ` Default \`${JSON.stringify(prop.default)}\`.` : '';
      const name = `\`${key}\`${required.has(key) ? ' (required)' : ''}`;
      const meaning = `${description}${description.includes('Default') ? '' : def}`;
      return `| ${name} | ${typeText(root, prop)} | ${meaning} |`;
    },
  );
  return ['| key | type | meaning |', '|---|---|---|', ...rows];
}

export function renderReference(): string {
  const root = configJsonSchema();
  const out: string[] = [
    '# lvsd configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run schema`; do not edit. A test fails when it is stale. -->',
    '',
    String(root.description ?? ''),
    '',
    'Durations are written `2s`, `500ms`, `1m`, `1h`, `1m30s` or as a number of seconds.',
    'Every mapping is strict: an unknown key is an error with a "did you mean" suggestion.',
    'Top-level keys starting with `x-` are ignored: a place for YAML anchors to merge from (`<<: *name`).',
    '',
  ];
  const seen = new Set<string>();
  const queue: Section[] = [{ path: '(top level)', node: root, def: null }];
  while (queue.length > 0) {
    const section = queue.shift() as Section;
    const { path, node, def } = section;
    const title = variantTitle(section);
    if (seen.has(title)) continue;
    seen.add(title);
    if (Array.isArray(node.variants)) {
      const links = (node.variants as string[]).map(
        (v) =>
          `[${v}](#${v
            .toLowerCase()
            .replace(/[^a-z0-9 -]/g, '')
            .replace(/ /g, '-')})`,
      );
      out.push(`## ${title}`, '', `Used at \`${path}\`. One of: ${links.join(', ')}.`, '');
      continue;
    }
    out.push(`## ${title}`, '');
    if (def) out.push(`Used at \`${path}\`.`, '');
    if (node.description && node !== root) out.push(String(node.description), '');
    out.push(...table(root, node), '');
    for (const [key, prop] of Object.entries(node.properties as Record<string, Json>)) {
      const childPath = path === '(top level)' ? key : `${path}.${key}`;
      queue.push(...childObjects(root, prop, childPath));
    }
  }
  return `${out.join('\n').trimEnd()}\n`;
}
