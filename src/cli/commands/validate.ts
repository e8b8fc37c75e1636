/**
 * `lvsd validate -c FILE|DIR`: loads the config as every other command does and reports
 * every problem at once. Exit 0 valid (warnings allowed), 1 invalid, 2 usage error.
 * Needs neither root nor Linux: nothing here imports the netlink layer.
 */
import type { Command } from 'commander';
import { text } from 'node:stream/consumers';
import {
  DEFAULT_CONFIG_PATH,
  hostNames,
  type LoadResult,
  loadConfigTexts,
  readConfigTexts,
  type SourceText,
} from '../../config/index.js';
import { type Diagnostic, formatDiagnostics, summarize } from '../../config/diagnostics.js';
import { excerpt } from '../../config/excerpt.js';
import { readSysctls } from '../../sysctl/procfs.js';
import { desiredState } from '../../reconcile/desired.js';
import { sysctlAdvice } from '../../reconcile/sysctl-plan.js';
import type { CommandModule } from '../command.js';
import { reportError } from '../errors.js';

export interface ValidateOptions {
  config: string;
  host?: string;
  allHosts?: boolean;
  json?: boolean;
}

export interface ValidateIo {
  write: (text: string) => void;
  writeError: (text: string) => void;
  color: boolean;
  /** All of standard input, for `-c -`; process.stdin by default. */
  readStdin?: () => Promise<string>;
  /** This machine's sysctls (null where absent, as on macOS); /proc/sys by default. */
  readSysctls?: (names: readonly string[]) => Promise<Record<string, number | null>>;
}

const FORWARDING_SYSCTLS = ['net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding'];

/**
 * NAT needs forwarding on the director. When validate runs on one (no --all-hosts) and the
 * config neither sets it nor finds it on, say so; it is a note about this machine, not an
 * error in the file, so the exit status is unchanged.
 */
async function forwardingNotes(result: LoadResult, io: ValidateIo): Promise<string[]> {
  if (!result.ok) return [];
  const actual = await (io.readSysctls ?? readSysctls)(FORWARDING_SYSCTLS);
  return sysctlAdvice(desiredState(result.config), actual, 0).filter((advice) =>
    FORWARDING_SYSCTLS.some((name) => advice.startsWith(name)),
  );
}

interface HostReport {
  /** null: the base config (no host entry applied). */
  host: string | null;
  result: LoadResult;
}

function reportsFor(texts: SourceText[], options: ValidateOptions): HostReport[] {
  if (!options.allHosts) {
    const result = loadConfigTexts(texts, options.host !== undefined ? { host: options.host } : {});
    return [{ host: result.ok ? result.config.host : (options.host ?? null), result }];
  }
  const reports: HostReport[] = [{ host: null, result: loadConfigTexts(texts, { host: null }) }];
  for (const host of hostNames(texts))
    reports.push({ host, result: loadConfigTexts(texts, { host }) });
  return reports;
}

/** "1 service", "2 reals". */
function counted(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function diagnosticsOf(result: LoadResult): Diagnostic[] {
  return result.ok ? result.warnings : [...result.errors, ...result.warnings];
}

export async function runValidate(options: ValidateOptions, io: ValidateIo): Promise<number> {
  let texts: SourceText[];
  try {
    texts =
      options.config === '-'
        ? [{ file: '<stdin>', text: await (io.readStdin ?? (() => text(process.stdin)))() }]
        : await readConfigTexts(options.config);
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'no such file or directory'
        : (err as Error).message;
    reportError({ json: options.json, ...io }, 'validate', `${options.config}: ${reason}`);
    return 2;
  }
  if (texts.length === 0) {
    const message = `${options.config}: the directory holds no *.yaml or *.yml file`;
    reportError({ json: options.json, ...io }, 'validate', message);
    return 2;
  }
  const reports = reportsFor(texts, options);
  const valid = reports.every((r) => r.result.ok);
  const notes = options.allHosts
    ? []
    : await forwardingNotes((reports[0] as HostReport).result, io);
  if (options.json) {
    io.write(
      `${JSON.stringify(
        {
          valid,
          files: texts.map((t) => t.file),
          results: reports.map(({ host, result }) => ({
            host,
            valid: result.ok,
            errors: result.ok ? [] : result.errors,
            warnings: result.warnings,
            ...(result.ok
              ? {
                  services: result.config.services.length,
                  reals: result.config.services.reduce((n, s) => n + s.reals.length, 0),
                }
              : {}),
          })),
          notes,
        },
        null,
        2,
      )}\n`,
    );
    return valid ? 0 : 1;
  }
  for (const { host, result } of reports) {
    // Host names are keys of the config: shown cut and escaped, as values are.
    const label = options.allHosts ? `[${host === null ? 'base' : excerpt(host)}] ` : '';
    const diagnostics = diagnosticsOf(result);
    if (diagnostics.length > 0)
      io.writeError(
        `${formatDiagnostics(diagnostics, { color: io.color }).replace(/^/gm, label)}\n`,
      );
    if (result.ok) {
      const reals = result.config.services.reduce((n, s) => n + s.reals.length, 0);
      const hostNote = result.config.host ? ` for host ${excerpt(result.config.host)}` : '';
      const vrrp = result.config.vrrp?.instances.length;
      const vrrpNote = vrrp ? `, ${counted(vrrp, 'VRRP instance')}` : '';
      io.write(
        `${label}${options.config}: valid${hostNote}: ` +
          `${counted(result.config.services.length, 'service')}, ${counted(reals, 'real')}${vrrpNote} ` +
          `(${summarize(diagnostics)})\n`,
      );
    } else {
      io.writeError(`${label}${options.config}: invalid (${summarize(diagnostics)})\n`);
    }
  }
  for (const note of notes) io.writeError(`note (this machine): ${note}\n`);
  return valid ? 0 : 1;
}

export const validateCommand: CommandModule = {
  register(program: Command, setExitCode) {
    program
      .command('validate')
      .description(
        'check a config file or directory and report every problem at once (no root, any OS)',
      )
      .option(
        '-c, --config <path>',
        'config file, directory of *.yaml / *.yml files, or - for standard input',
        DEFAULT_CONFIG_PATH,
      )
      .option(
        '--host <name>',
        "apply the hosts: entry of this host (default: this machine's hostname)",
      )
      .option('--all-hosts', 'validate the base config and every hosts: entry (for fleets, in CI)')
      .option('--json', 'diagnostics as JSON for machines')
      .action(async (options: ValidateOptions) => {
        setExitCode(
          await runValidate(options, {
            write: (t) => process.stdout.write(t),
            writeError: (t) => process.stderr.write(t),
            color: Boolean(process.stderr.isTTY) && !process.env.NO_COLOR,
          }),
        );
      });
  },
};
