/**
 * `lvsd export [--format ipvsadm] [-c FILE]`: the live table (or, with -c, the table a
 * config makes, every real in, as `lvsd apply` writes it) as `ipvsadm -Sn` lines plus
 * the thresholds -Sn leaves out, so that `ipvsadm-restore` rebuilds it exactly. Reading
 * the kernel needs CAP_NET_ADMIN; exporting a config needs nothing.
 */
import type { Command } from 'commander';
import { loadConfig } from '../../config/index.js';
import { formatDiagnostics } from '../../config/diagnostics.js';
import type { IpvsTable } from '../../ipvs/model.js';
import { exportIpvsadm } from '../../migrate/export.js';
import { desiredState } from '../../reconcile/desired.js';
import type { CommandModule } from '../command.js';
import { openKernel, processIo, type CommandIo } from '../reconcile-command.js';

export interface ExportOptions {
  format: string;
  config?: string;
  host?: string;
}

const NO_COUNTERS = { activeConns: 0, inactiveConns: 0, persistConns: 0 };

/** The table `lvsd apply` would write for a config (no health: every real in). */
async function configTable(options: ExportOptions, io: CommandIo): Promise<IpvsTable | null> {
  const loaded = await loadConfig(
    options.config as string,
    options.host ? { host: options.host } : {},
  );
  if (!loaded.ok) {
    io.writeError(`${formatDiagnostics([...loaded.errors, ...loaded.warnings])}\n`);
    io.writeError(`${options.config}: invalid configuration; nothing exported.\n`);
    return null;
  }
  const desired = desiredState(loaded.config);
  return {
    services: desired.services.map((s) => ({
      ...s.service,
      dests: s.dests.map((d) => ({ ...d, ...NO_COUNTERS })),
    })),
  };
}

async function kernelTable(io: CommandIo): Promise<IpvsTable | null> {
  const client = await openKernel('export', io, {});
  if (!client) return null;
  try {
    return await client.readTable({ stats: false });
  } finally {
    await client.close();
  }
}

export async function runExport(
  options: ExportOptions,
  io: CommandIo = processIo,
): Promise<number> {
  if (options.format !== 'ipvsadm') {
    io.writeError(`lvsd export: unknown format '${options.format}' (known: ipvsadm)\n`);
    return 2;
  }
  let table: IpvsTable | null;
  try {
    table = options.config ? await configTable(options, io) : await kernelTable(io);
  } catch (err) {
    io.writeError(`lvsd export: ${(err as Error).message}\n`);
    return 1;
  }
  if (!table) return 1;
  io.write(exportIpvsadm(table));
  return 0;
}

export const exportCommand: CommandModule = {
  register(program: Command, setExitCode) {
    program
      .command('export')
      .description(
        "print the live table (or a config's, with -c) as ipvsadm-restore input, thresholds included",
      )
      .option('--format <format>', 'output format: ipvsadm', 'ipvsadm')
      .option('-c, --config <path>', 'export what this config makes instead of the live table')
      .option('--host <name>', 'with -c: apply this entry of `hosts:`')
      .action(async (options: ExportOptions) => setExitCode(await runExport(options)));
  },
};
