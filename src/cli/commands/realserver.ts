/**
 * `lvsd realserver`: prepares this host as a real server for DR or TUN (VIP on lo or on
 * tunl0 / ip6tnl0, ARP and reverse-path sysctls), from the director's config (`-c FILE`:
 * the DR / TUN services that list one of this host's addresses as a real) or from
 * `--vip ADDR --mode dr|tun`.
 *
 * Exit codes: 0 done (or, with --check, ready); 1 something failed (or, with --check,
 * something is missing); 2 usage or config errors.
 */
import type { Command } from 'commander';
import { canonicalAddress } from '../../netlink/inet.js';
import type { AddressClient } from '../../director/vip-addresses.js';
import { openAddresses } from '../../director/index.js';
import { formatRealServer, realServerToJson } from '../../realserver/format.js';
import { realServerVips } from '../../realserver/from-config.js';
import type { RealServerMode, RealServerVip } from '../../realserver/plan.js';
import { runRealServer, type RealServerAction } from '../../realserver/run.js';
import { procSysctls } from '../../sysctl/procfs.js';
import type { SysctlAccess } from '../../sysctl/access.js';
import type { ResolvedConfig } from '../../config/resolved.js';
import { paletteFor } from '../../util/palette.js';
import type { CommandModule } from '../command.js';
import { reportError } from '../errors.js';
import { takeWriterLock, type WriterLock } from '../../util/writer-lock.js';

export interface RealServerCliOptions {
  config?: string;
  host?: string;
  all?: boolean;
  vip?: string[];
  mode?: string;
  dr?: boolean;
  tun?: boolean;
  check?: boolean;
  remove?: boolean;
  stateDir: string;
  json?: boolean;
}

export interface RealServerDeps {
  openAddresses: () => Promise<AddressClient>;
  sysctls: SysctlAccess;
  loadConfig: (path: string, host?: string) => Promise<ResolvedConfig>;
  write: (text: string) => void;
  writeError: (text: string) => void;
}

class UsageError extends Error {}

class ConfigError extends Error {}

export async function loadConfigFile(path: string, host?: string): Promise<ResolvedConfig> {
  // The loader is imported only when -c is used, like the kernel clients.
  const { loadConfig } = await import('../../config/index.js');
  const { formatDiagnostics } = await import('../../config/diagnostics.js');
  const result = await loadConfig(path, host ? { host } : {});
  if (!result.ok)
    throw new ConfigError(
      `${formatDiagnostics([...result.errors, ...result.warnings], { color: false })}\n${path}: invalid ` +
        `configuration; nothing was changed`,
    );
  return result.config;
}

const defaultDeps: RealServerDeps = {
  openAddresses,
  sysctls: procSysctls,
  loadConfig: loadConfigFile,
  write: (t) => process.stdout.write(t),
  writeError: (t) => process.stderr.write(t),
};

function vipsFromFlags(options: RealServerCliOptions): RealServerVip[] {
  if (options.dr && options.tun) throw new UsageError('--dr and --tun cannot be used together');
  const mode = (options.tun ? 'tun' : options.dr ? 'dr' : (options.mode ?? 'dr')) as RealServerMode;
  if (mode !== 'dr' && mode !== 'tun')
    throw new UsageError(
      `--mode must be dr or tun (got ${options.mode}); NAT needs nothing on the real server but a route ` +
        `back through the director`,
    );
  return (options.vip ?? []).map((text) => {
    const address = canonicalAddress(text.replace(/\/(32|128)$/, ''));
    if (!address) throw new UsageError(`--vip ${text}: not an IP address`);
    return { address, mode };
  });
}

export async function runRealServerCommand(
  options: RealServerCliOptions,
  deps: RealServerDeps = defaultDeps,
): Promise<number> {
  let addresses: AddressClient | undefined;
  let lock: WriterLock | undefined;
  try {
    if (options.check && options.remove)
      throw new UsageError('--check and --remove cannot be used together');
    if (!options.config && !options.vip?.length)
      throw new UsageError(
        "give the VIPs: -c FILE (the director's config) or --vip ADDRESS [--mode dr|tun]",
      );
    let vips = vipsFromFlags(options);
    addresses = await deps.openAddresses();
    if (options.config) {
      const config = await deps.loadConfig(options.config, options.host);
      const local = new Set((await addresses.read()).addresses.map((a) => a.address));
      const found = realServerVips(config, local, options.all);
      for (const note of found.notes) deps.writeError(`lvsd realserver: ${note}\n`);
      vips = [...vips, ...found.vips.filter((v) => !vips.some((w) => w.address === v.address))];
      if (vips.length === 0) {
        throw new UsageError(
          `no DR or TUN service in ${options.config} lists an address of this host as a real server (use --all ` +
            `for every DR / TUN service, or --vip)`,
        );
      }
    }
    const action: RealServerAction = options.check ? 'check' : options.remove ? 'remove' : 'apply';
    if (action !== 'check') lock = await takeWriterLock(options.stateDir);
    const result = await runRealServer(
      { vips, action, stateDir: action === 'check' ? null : options.stateDir },
      { addresses, sysctls: deps.sysctls },
    );
    deps.write(
      options.json
        ? `${JSON.stringify(realServerToJson(result), null, 2)}\n`
        : `${formatRealServer(result, paletteFor(process.stdout))}\n`,
    );
    if (action === 'check') return result.steps.length === 0 ? 0 : 1;
    return result.results?.some((r) => r.error) ? 1 : 0;
  } catch (err) {
    reportError({ json: options.json, ...deps }, 'realserver', (err as Error).message);
    return err instanceof UsageError || err instanceof ConfigError ? 2 : 1;
  } finally {
    await lock?.release();
    await addresses?.close();
  }
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').filter(Boolean)];
}

export const realserverCommand: CommandModule = {
  register(program: Command, setExitCode) {
    program
      .command('realserver')
      .description(
        'prepare this host as a DR / TUN real server: VIP on lo or tunl0, arp_ignore / arp_announce, ' +
          'rp_filter (needs root)',
      )
      .option(
        '-c, --config <file>',
        "the director's config: VIPs of the DR / TUN services listing this host as a real",
      )
      .option(
        '--host <name>',
        'apply the hosts: overrides for this host name when reading --config',
      )
      .option('--all', 'with --config: every DR / TUN service, whichever reals it lists')
      .option('--vip <address>', 'a VIP to serve (repeat, or comma-separated)', collect)
      .option('--mode <mode>', 'dr or tun, for --vip', 'dr')
      .option('--dr', 'same as --mode dr')
      .option('--tun', 'same as --mode tun')
      .option('--check', 'report what is missing, change nothing (exit 1 when something is)')
      .option('--remove', 'undo: remove the VIPs, and restore the sysctls once no VIP is left')
      .option(
        '--state-dir <dir>',
        'where the record of changes (for --remove) is kept',
        '/run/lvsd',
      )
      .option('--json', 'machine-readable output')
      .action(async (options: RealServerCliOptions) =>
        setExitCode(await runRealServerCommand(options)),
      );
  },
};
