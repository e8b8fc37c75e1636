/**
 * What `lvsd plan` and `lvsd apply` share: the config options, loading and validating
 * the config (an invalid config stops here, before anything opens the kernel), turning
 * it into desired state, opening the kernel client, and `--timings`.
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import {
  DEFAULT_CONFIG_PATH,
  loadConfigTexts,
  readConfigSources,
  type LoadResult,
} from '../config/index.js';
import { formatDiagnostics, type Diagnostic } from '../config/diagnostics.js';
import type { ResolvedConfig } from '../config/resolved.js';
import type { IpvsClient } from '../ipvs/client.js';
import { openIpvs } from '../ipvs/index.js';
import { desiredState, reconcilePolicy } from '../reconcile/desired.js';
import { leaveSteeredDaemons } from '../reconcile/sync-role.js';
import { paletteFor, plain, type Palette } from '../util/palette.js';
import type { MassRemoval } from '../reconcile/guard.js';
import { Reconciler } from '../reconcile/reconciler.js';
import { DEFAULT_STATE_DIR, StateStore } from '../reconcile/state.js';
import { systemHostPorts, type HostPorts } from '../reconcile/system-ports.js';
import type { DesiredState, ReconcilePolicy } from '../reconcile/types.js';
import type { PhaseTimer } from '../util/timings.js';
import { reportError } from './errors.js';

export interface ConfigOptions {
  config: string;
  host?: string;
  stateDir: string;
  json?: boolean;
  timings?: boolean;
}

/** Where a command writes, and how it reaches the kernel: swapped for the fake in tests. */
export interface CommandIo {
  write(text: string): void;
  writeError(text: string): void;
  palette: Palette;
  errorPalette: Palette;
  openKernel(): Promise<IpvsClient>;
  /** The reconciler's sysctl, address and firewall ports (tests give fakes). */
  hostPorts: HostPorts;
  /** All of standard input, for `-c -` and `--state -`. */
  readStdin(): Promise<string>;
}

export const processIo: CommandIo = {
  write: (text) => process.stdout.write(text),
  writeError: (text) => process.stderr.write(text),
  get palette() {
    return paletteFor(process.stdout);
  },
  get errorPalette() {
    return paletteFor(process.stderr);
  },
  openKernel: () => openIpvs(),
  hostPorts: systemHostPorts,
  readStdin: () => text(process.stdin),
};

/** A file's text, or standard input's for "-". */
export function readInput(path: string, io: CommandIo): Promise<string> {
  return path === '-' ? io.readStdin() : readFile(path, 'utf8');
}

/** A reconciler over this kernel client, with the state in `stateDir` (null: no state). */
export function reconcilerFor(
  io: CommandIo,
  ipvs: IpvsClient,
  stateDir: string | null,
): Reconciler {
  return new Reconciler({ ipvs, state: new StateStore(stateDir), ...io.hostPorts });
}

export function addConfigOptions(command: Command): Command {
  return command
    .option(
      '-c, --config <path>',
      'config file, a directory of *.yaml / *.yml files, or - for standard input',
      DEFAULT_CONFIG_PATH,
    )
    .option('--host <name>', "apply this entry of `hosts:` (default: this machine's hostname)")
    .option(
      '--state-dir <dir>',
      'where lvsd remembers what it owns and what is draining',
      DEFAULT_STATE_DIR,
    )
    .option('--json', 'machine-readable output')
    .option(
      '--timings',
      'print the time of each phase (load, validate, read, plan, write) on stderr',
    );
}

export type LoadedDesired =
  | { ok: true; config: ResolvedConfig; desired: DesiredState; policy: ReconcilePolicy }
  | { ok: false };

function printDiagnostics(
  options: ConfigOptions,
  io: CommandIo,
  errors: Diagnostic[],
  warnings: Diagnostic[],
): void {
  if (options.json && errors.length) {
    io.write(`${JSON.stringify({ valid: false, errors, warnings }, null, 2)}\n`);
    return;
  }
  const all = [...errors, ...warnings];
  if (all.length)
    io.writeError(`${formatDiagnostics(all, { color: io.errorPalette !== plain })}\n`);
}

/** Loads and validates the config; on errors prints them and returns { ok: false }. */
export async function loadDesired(
  options: ConfigOptions,
  io: CommandIo,
  timer: PhaseTimer,
): Promise<LoadedDesired> {
  const read = await timer.time('load', () =>
    options.config === '-'
      ? io.readStdin().then((text) => ({ ok: true as const, texts: [{ file: '<stdin>', text }] }))
      : readConfigSources(options.config),
  );
  const result: LoadResult = read.ok
    ? await timer.time('validate', () =>
        loadConfigTexts(read.texts, options.host ? { host: options.host } : {}),
      )
    : read;
  if (!result.ok) {
    printDiagnostics(options, io, result.errors, result.warnings);
    io.writeError(`${options.config}: invalid configuration; nothing was changed.\n`);
    return { ok: false };
  }
  printDiagnostics(options, io, [], result.warnings);
  const config = result.config;
  return {
    ok: true,
    config,
    desired: leaveSteeredDaemons(desiredState(config), config),
    policy: reconcilePolicy(config),
  };
}

/** Opens the kernel client, or prints why it cannot be opened and returns null. */
export async function openKernel(
  command: string,
  io: CommandIo,
  options: { json?: boolean },
): Promise<IpvsClient | null> {
  try {
    return await io.openKernel();
  } catch (err) {
    reportError({ json: options.json, ...io }, command, (err as Error).message);
    return null;
  }
}

export function printTimings(options: ConfigOptions, io: CommandIo, timer: PhaseTimer): void {
  if (options.timings) io.writeError(`${timer.format()}\n`);
}

/** Why apply refused (or would refuse) a plan, and how to say it is meant. */
export function refusalText(refusal: MassRemoval, flag: string): string {
  const how = `pass ${flag} (the daemon: reconcile.allow_mass_removal: true), or raise reconcile.max_removal`;
  return `${refusal.message}; nothing was changed. If this is meant, ${how}.`;
}

export function refusedJson(refusal: MassRemoval): object {
  const { removing, managed, limit, message } = refusal;
  return { removing, managed, maxRemoval: limit, message };
}

export function printWarnings(io: CommandIo, warnings: string[]): void {
  for (const warning of warnings) io.writeError(`warning: ${warning}\n`);
}
