/**
 * `lvsd import ipvsadm [FILE|-]` and `lvsd import keepalived FILE`: print an lvsd config
 * equivalent to ipvsadm rules (ipvsadm-save, ipvsadm -Sn, or a script's ipvsadm lines) or
 * to a keepalived.conf with its includes. Warnings (what was not imported, and why) go to
 * stderr and into the output as comments; errors print nothing on stdout and exit 1. The
 * output is loaded with lvsd's own loader before it is printed: an import never hands
 * over a config that `lvsd validate` would refuse.
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { loadConfigText } from '../../config/index.js';
import { formatDiagnostics, type Diagnostic } from '../../config/diagnostics.js';
import type { Protocol } from '../../ipvs/model.js';
import { nodeFileSystem } from '../../migrate/glob.js';
import { importIpvsadm } from '../../migrate/ipvsadm.js';
import type { PortNames } from '../../migrate/ipvsadm-command.js';
import { importKeepalived } from '../../migrate/keepalived.js';
import type { ImportResult } from '../../migrate/types.js';
import { writeYaml } from '../../migrate/yaml-out.js';
import type { CommandModule } from '../command.js';
import { reportError } from '../errors.js';

export interface ImportIo {
  write(text: string): void;
  writeError(text: string): void;
  color: boolean;
  readStdin(): Promise<string>;
}

export interface ImportOptions {
  output?: string;
  configId?: string;
  /** One JSON object on stdout: the config (unless -o), counts, warnings, errors. */
  json?: boolean;
}

const processImportIo: ImportIo = {
  write: (text) => process.stdout.write(text),
  writeError: (text) => process.stderr.write(text),
  get color() {
    return Boolean(process.stderr.isTTY);
  },
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

/** Port names from /etc/services, read once when a rule names a port ("http"). */
function servicesFile(path = '/etc/services'): PortNames {
  let table: Map<string, number> | null = null;
  return (name: string, protocol: Protocol) => {
    if (!table) {
      table = new Map();
      let text = '';
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        // No services file: names stay unknown and the rule is reported.
      }
      for (const line of text.split('\n')) {
        const [entry = ''] = line.split('#');
        const [first, portProto, ...aliases] = entry.trim().split(/\s+/);
        const [port, proto] = (portProto ?? '').split('/');
        if (first && port && proto)
          for (const n of [first, ...aliases]) table.set(`${n}/${proto}`, Number(port));
      }
    }
    return table.get(`${name}/${protocol}`) ?? null;
  };
}

/**
 * The import as YAML, loaded by lvsd's own loader. What the loader warns about (a valid
 * but doubtful setting, such as the sip engine on a TCP service) is also written at the
 * top of the file, so the file says it too; the warnings then name the file's final lines.
 */
export function validated(
  result: ImportResult,
  name: string,
): { ok: true; yaml: string; warnings: Diagnostic[] } | { ok: false; errors: Diagnostic[] } {
  const plain = writeYaml(result);
  const first = loadConfigText(plain, name);
  if (!first.ok) return { ok: false, errors: first.errors };
  if (first.warnings.length === 0) return { ok: true, yaml: plain, warnings: [] };
  const notes = first.warnings.map(
    (w) => `WARNING (lvsd validate) ${w.path || 'the file'}: ${w.message}`,
  );
  const yaml = writeYaml({ ...result, notes: [...result.notes, ...notes] });
  const again = loadConfigText(yaml, name);
  return again.ok
    ? { ok: true, yaml, warnings: again.warnings }
    : { ok: false, errors: again.errors };
}

interface Outcome {
  yaml: string | null;
  services: number;
  reals: number;
  warnings: Diagnostic[];
  errors: Diagnostic[];
  /** Why nothing was written, when errors stopped it. */
  refusal: string | null;
}

/** The import judged: its own errors first, then lvsd's loader on the YAML it makes. */
function judge(result: ImportResult, name: string): Outcome {
  const own = result.diagnostics.filter((d) => d.severity === 'error');
  const warnings = result.diagnostics.filter((d) => d.severity !== 'error');
  const reals = result.services.reduce((n, s) => n + s.reals.length, 0);
  const base = { services: result.services.length, reals, warnings };
  if (own.length > 0)
    return { ...base, yaml: null, errors: own, refusal: `${own.length} error(s)` };
  const checked = validated(result, name);
  if (!checked.ok)
    return {
      ...base,
      yaml: null,
      errors: checked.errors,
      refusal: 'lvsd refuses the imported config (above)',
    };
  const all = [...warnings, ...checked.warnings];
  return { ...base, yaml: checked.yaml, warnings: all, errors: [], refusal: null };
}

/** Prints the result (or why there is none); the exit code. */
async function finish(result: ImportResult, options: ImportOptions, io: ImportIo): Promise<number> {
  const outcome = judge(result, options.output ?? '<import>');
  if (outcome.yaml !== null && options.output) await writeFile(options.output, outcome.yaml);
  if (options.json) {
    const { yaml, refusal, ...rest } = outcome;
    const config = options.output ? {} : { config: yaml };
    const written = options.output && yaml !== null ? { output: options.output } : {};
    io.write(`${JSON.stringify({ ok: yaml !== null, ...config, ...written, ...rest }, null, 2)}\n`);
    return yaml === null ? 1 : 0;
  }
  const diagnostics = [...outcome.errors, ...outcome.warnings];
  if (diagnostics.length > 0)
    io.writeError(`${formatDiagnostics(diagnostics, { color: io.color })}\n`);
  if (outcome.yaml === null) {
    io.writeError(`lvsd import: ${outcome.refusal}; nothing was written\n`);
    return 1;
  }
  if (!options.output) io.write(outcome.yaml);
  const count = outcome.warnings.length;
  const warned = count > 0 ? `, ${count} warning(s)` : '';
  const where = options.output ? `: ${options.output}` : '';
  io.writeError(
    `lvsd import: ${outcome.services} service(s), ${outcome.reals} real(s)${warned}${where}\n`,
  );
  return 0;
}

export async function runImportIpvsadm(
  file: string | undefined,
  options: ImportOptions,
  io: ImportIo = processImportIo,
): Promise<number> {
  const fromStdin = file === undefined || file === '-';
  let text: string;
  try {
    text = fromStdin ? await io.readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    const message = `cannot read ${file}: ${(err as Error).message}`;
    reportError({ json: options.json, ...io }, 'import ipvsadm', message);
    return 1;
  }
  const result = await importIpvsadm(text, {
    file: fromStdin ? '<stdin>' : file,
    portNames: servicesFile(),
  });
  return finish(result, options, io);
}

export async function runImportKeepalived(
  file: string,
  options: ImportOptions,
  io: ImportIo = processImportIo,
): Promise<number> {
  const configId = options.configId ?? hostname().split('.')[0];
  const result = importKeepalived(file, { fs: nodeFileSystem, ...(configId ? { configId } : {}) });
  return finish(result, options, io);
}

export const importCommand: CommandModule = {
  register(program: Command, setExitCode) {
    const command = program
      .command('import')
      .description('print an lvsd config from ipvsadm rules or a keepalived.conf');
    command
      .command('ipvsadm [file]')
      .description(
        'from ipvsadm-save / ipvsadm -Sn output or a script of ipvsadm lines (- or none: stdin)',
      )
      .option('-o, --output <file>', 'write the config to this file instead of stdout')
      .option('--json', 'the config, counts, warnings and errors as one JSON object')
      .action(async (file: string | undefined, options: ImportOptions) =>
        setExitCode(await runImportIpvsadm(file, options)),
      );
    command
      .command('keepalived <file>')
      .description('from a keepalived.conf and the files it includes')
      .option('-o, --output <file>', 'write the config to this file instead of stdout')
      .option(
        '-i, --config-id <id>',
        "keepalived's config id for @id lines (default: the host name)",
      )
      .option('--json', 'the config, counts, warnings and errors as one JSON object')
      .action(async (file: string, options: ImportOptions) =>
        setExitCode(await runImportKeepalived(file, options)),
      );
  },
};
