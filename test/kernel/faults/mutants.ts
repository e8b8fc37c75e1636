/**
 * Damaged configs for the fault suite, made from the files in examples/: what an editor
 * crash, a half-finished copy, a typo or a wrong file leaves where lvsd reads its config.
 * Pure and seeded: the same seed gives the same mutants, so a failure can be replayed.
 *
 * Kinds, and what lvsd must make of each (`expect`):
 * - invalid: the validator refuses it (wrong types, duplicated keys, binary garbage, tabs
 *   for indentation, an unclosed bracket or quote);
 * - refused: valid YAML with no services (empty, blank, only comments, `services:` with
 *   nothing), which the guard against mass removal refuses;
 * - either: one or the other, depending on where the cut or the garbage fell (a file
 *   truncated at a random byte, random bytes inserted).
 *
 * The daemon the mutants are fed to runs a config of its own whose services are in no
 * example, so a mutant that is still a valid config removes every service lvsd manages
 * and is refused by the guard: whatever a mutant is, the kernel must not change.
 */

export type MutantKind =
  | 'truncated'
  | 'wrong-type'
  | 'duplicate-key'
  | 'garbage'
  | 'garbage-inserted'
  | 'empty'
  | 'comments-only'
  | 'services-empty'
  | 'tabs'
  | 'unclosed';

export type Expected = 'invalid' | 'refused' | 'either';

export interface Mutant {
  /** "truncated examples/dr.yaml @412": kind, source and where. */
  id: string;
  kind: MutantKind;
  expect: Expected;
  bytes: Buffer;
}

export interface SourceFile {
  /** Shown in ids: "examples/dr.yaml". */
  name: string;
  text: string;
}

/** mulberry32: small, fast, good enough to spread cut points. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const int = (rng: Rng, min: number, max: number) => min + Math.floor(rng() * (max - min + 1));

/** n distinct items (or all of them when there are fewer), in their original order. */
function sample<T>(rng: Rng, items: readonly T[], n: number): T[] {
  const chosen = new Set<number>();
  while (chosen.size < Math.min(n, items.length)) chosen.add(Math.floor(rng() * items.length));
  return [...chosen].sort((a, b) => a - b).map((i) => items[i] as T);
}

/** A value of the wrong type (or shape) for each key the examples use. */
const WRONG: Record<string, string> = {
  address: '[10, 0, 0, 1]',
  weight: 'heavy',
  scheduler: '{ name: wlc }',
  protocol: '[tcp]',
  forwarding: '7',
  interval: 'soon',
  timeout: 'forever',
  rise: 'twice',
  fall: '{ times: 3 }',
  port: 'eighty',
  reals: '42',
  services: '[web, mail]',
  sysctl: 'on',
  ops: '"sometimes"',
  fwmark: 'ten',
  path: '[/health]',
  ip_forward: '"maybe"',
  drain_timeout: 'later',
  upper: 'lots',
  persistence: '[360]',
  status: 'fine',
  syncid: 'ten',
};

/** Every `key: value` of a key in WRONG outside comments, block or flow style: [index of the value, its length]. */
function typedValues(text: string): Array<{ key: string; at: number; length: number }> {
  const found: Array<{ key: string; at: number; length: number }> = [];
  const pattern = /(^|[\s{,])([a-z_]+): ([^,}\n#]*[^,}\n# ])/gm;
  for (const m of text.matchAll(pattern)) {
    const key = m[2] as string;
    if (!(key in WRONG)) continue;
    // A `key: value` in a comment is prose: changing it leaves the config valid.
    const lineStart = text.lastIndexOf('\n', m.index ?? 0) + 1;
    if (text.slice(lineStart, m.index).includes('#')) continue;
    const at = (m.index ?? 0) + (m[1] as string).length + key.length + 2;
    found.push({ key, at, length: (m[3] as string).length });
  }
  return found;
}

const lines = (text: string) => text.split('\n');
const isKeyLine = (line: string) => /^\s*[a-z_][a-z0-9_]*:(\s|$)/i.test(line);
const isComment = (line: string) => /^\s*#/.test(line);

function truncated(rng: Rng, file: SourceFile, n: number): Mutant[] {
  const bytes = Buffer.from(file.text);
  return Array.from({ length: n }, () => {
    const cut = int(rng, 1, bytes.length - 1);
    return {
      id: `truncated ${file.name} @${cut}`,
      kind: 'truncated',
      expect: 'either',
      bytes: bytes.subarray(0, cut),
    };
  });
}

function wrongTypes(rng: Rng, file: SourceFile, n: number): Mutant[] {
  return sample(rng, typedValues(file.text), n).map(({ key, at, length }) => ({
    id: `wrong-type ${file.name} ${key}: ${WRONG[key]}`,
    kind: 'wrong-type',
    expect: 'invalid',
    bytes: Buffer.from(file.text.slice(0, at) + WRONG[key] + file.text.slice(at + length)),
  }));
}

function duplicateKeys(rng: Rng, file: SourceFile, n: number): Mutant[] {
  const all = lines(file.text);
  const keyLines = all.flatMap((line, i) => (isKeyLine(line) ? [i] : []));
  return sample(rng, keyLines, n).map((i) => ({
    id: `duplicate-key ${file.name}:${i + 1} ${all[i]!.trim()}`,
    kind: 'duplicate-key',
    expect: 'invalid',
    bytes: Buffer.from([...all.slice(0, i + 1), all[i]!, ...all.slice(i + 1)].join('\n')),
  }));
}

/** Random bytes with a NUL early on: no text format takes that for a config. */
function garbage(rng: Rng, n: number): Mutant[] {
  return Array.from({ length: n }, (_, k) => {
    const bytes = Buffer.alloc(int(rng, 64, 2048));
    for (let i = 0; i < bytes.length; i++) bytes[i] = int(rng, 0, 255);
    bytes[int(rng, 0, 15)] = 0;
    return {
      id: `garbage #${k + 1} (${bytes.length} bytes)`,
      kind: 'garbage',
      expect: 'invalid',
      bytes,
    };
  });
}

function garbageInserted(rng: Rng, file: SourceFile): Mutant {
  const bytes = Buffer.from(file.text);
  const at = int(rng, 0, bytes.length);
  const junk = Buffer.alloc(int(rng, 8, 64));
  for (let i = 0; i < junk.length; i++) junk[i] = int(rng, 0, 255);
  return {
    id: `garbage-inserted ${file.name} @${at} (${junk.length} bytes)`,
    kind: 'garbage-inserted',
    expect: 'either',
    bytes: Buffer.concat([bytes.subarray(0, at), junk, bytes.subarray(at)]),
  };
}

function commentsOnly(file: SourceFile): Mutant {
  const kept = lines(file.text).filter(isComment);
  return {
    id: `comments-only ${file.name}`,
    kind: 'comments-only',
    expect: 'refused',
    bytes: Buffer.from(`${kept.join('\n')}\n`),
  };
}

/** The file's opening comments, then `services:` and nothing under it. */
function servicesEmpty(file: SourceFile): Mutant {
  const all = lines(file.text);
  const header = all.slice(
    0,
    Math.max(
      0,
      all.findIndex((l) => !isComment(l)),
    ),
  );
  return {
    id: `services-empty ${file.name}`,
    kind: 'services-empty',
    expect: 'refused',
    bytes: Buffer.from([...header, 'services:', ''].join('\n')),
  };
}

function tabs(file: SourceFile): Mutant {
  return {
    id: `tabs ${file.name}`,
    kind: 'tabs',
    expect: 'invalid',
    bytes: Buffer.from(file.text.replace(/^( {2})+(?=\S)/gm, (s) => '\t'.repeat(s.length / 2))),
  };
}

/** The first flow collection loses its closing bracket, or a value gains an opening quote. */
function unclosed(rng: Rng, file: SourceFile): Mutant {
  const all = lines(file.text);
  const flow = all.findIndex((l) => !isComment(l) && /[[{].*[\]}]\s*(#.*)?$/.test(l));
  const edited = [...all];
  let what: string;
  if (flow >= 0 && rng() < 0.5) {
    edited[flow] = all[flow]!.replace(/[\]}](?=[^\]}]*$)/, '');
    what = `bracket line ${flow + 1}`;
  } else {
    const key = all.findIndex((l) => isKeyLine(l) && /:\s+[^\s#]/.test(l));
    edited[key] = all[key]!.replace(/:\s+/, ': "');
    what = `quote line ${key + 1}`;
  }
  return {
    id: `unclosed ${file.name} ${what}`,
    kind: 'unclosed',
    expect: 'invalid',
    bytes: Buffer.from(edited.join('\n')),
  };
}

const LITERAL_EMPTY: Array<[MutantKind, string]> = [
  ['empty', ''],
  ['empty', '\n'],
  ['empty', '   \n\n  \n'],
  ['empty', '\r\n\r\n'],
  ['services-empty', 'services:\n'],
  ['services-empty', 'services: {}\n'],
  ['services-empty', 'services: ~\n'],
  ['services-empty', 'services:\n# everything moved to another file\n'],
];

/** About 210 mutants of the 13 files of examples/ and examples/conf.d/, in a seeded order. */
export function mutants(files: readonly SourceFile[], seed: number): Mutant[] {
  const rng = random(seed);
  const out: Mutant[] = [];
  for (const file of files) {
    out.push(...truncated(rng, file, 4));
    out.push(...wrongTypes(rng, file, 4));
    out.push(...duplicateKeys(rng, file, 2));
    out.push(garbageInserted(rng, file));
    out.push(commentsOnly(file), servicesEmpty(file), tabs(file), unclosed(rng, file));
  }
  out.push(...garbage(rng, 10));
  for (const [i, [kind, text]] of LITERAL_EMPTY.entries())
    out.push({
      id: `${kind} literal #${i + 1}`,
      kind,
      expect: 'refused',
      bytes: Buffer.from(text),
    });
  // Shuffled, so watcher and SIGHUP each get every kind.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j] as Mutant, out[i] as Mutant];
  }
  return out;
}

/**
 * The config the daemon runs while mutants are fed to it: services no example has, no
 * health checks (so nothing but a reload could make it write), drift repaired every 3 s.
 * `edit` changes one weight: the valid edit that must apply after the mutants.
 */
export function runningConfig(edit = false): string {
  return `# The fault suite's running config: services that are in no example.
reconcile:
  drift_interval: 3s
services:
  web:
    address: 10.40.0.1:80
    scheduler: wlc
    forwarding: nat
    reals:
      - { address: 192.168.40.2:8080, weight: 2 }
      - { address: 192.168.40.3:8080, weight: ${edit ? 5 : 1} }
  dns:
    address: 10.40.0.53:53
    protocol: udp
    scheduler: rr
    ops: true
    forwarding: nat
    reals: [192.168.40.10:53, 192.168.40.11:53]
  mail:
    address: 10.40.0.25:25
    scheduler: lc
    forwarding: nat
    reals: [192.168.40.20:25, 192.168.40.21:25]
`;
}

/** The running config emptied or cut short where an interrupted write would leave it. */
export function runningDamaged(): Mutant[] {
  const text = runningConfig();
  const cutAfter = (marker: string) => text.slice(0, text.indexOf(marker) + marker.length);
  const cases: Array<[string, string, Expected]> = [
    ['empty file', '', 'refused'],
    ['truncated inside the first address', cutAfter('address: 10.40.0.'), 'invalid'],
    ['truncated inside a key of the second service', cutAfter('  dns:\n    addr'), 'invalid'],
    ['truncated before services:', text.slice(0, text.indexOf('services:')), 'refused'],
  ];
  return cases.map(([id, body, expect]) => ({
    id,
    kind: body === '' ? 'empty' : 'truncated',
    expect,
    bytes: Buffer.from(body),
  }));
}
