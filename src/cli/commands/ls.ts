/**
 * `lvsd ls`: the live IPVS table, laid out like `ipvsadm -Ln` (services, real servers,
 * forwarding, weight, active and inactive connections), with `--stats`, `--rate`,
 * `--thresholds` and `--json`. The JSON is a director snapshot (reconcile/snapshot.ts): the
 * table under `services`, plus what lvsd owns and everything else a pass plans against, so
 * `lvsd plan --state` in CI plans what `lvsd apply` would do on this director.
 *
 * The netlink client is loaded only when the command runs (openIpvs imports it dynamically),
 * so registering this command costs nothing where netlink cannot load.
 */
import type { Command } from 'commander';
import { hostname } from 'node:os';
import type { IpvsClient } from '../../ipvs/client.js';
import { openIpvs } from '../../ipvs/index.js';
import type { IpvsInfo, IpvsTable, LiveDest, LiveService, Stats } from '../../ipvs/model.js';
import { emptyStats, forwardingLabel, formatHostPort, isFwmarkKey } from '../../ipvs/model.js';
import { Reconciler } from '../../reconcile/reconciler.js';
import { DEFAULT_STATE_DIR, StateStore } from '../../reconcile/state.js';
import { systemHostPorts, type HostPorts } from '../../reconcile/system-ports.js';
import { lvsdVersion } from '../../util/version.js';
import type { CommandModule } from '../command.js';
import { reportError } from '../errors.js';

export interface LsOptions {
  stats?: boolean;
  rate?: boolean;
  thresholds?: boolean;
  json?: boolean;
  exact?: boolean;
  /** Where lvsd's state file is, for --json (default /run/lvsd). */
  stateDir?: string;
  /** An extra last column in the default layout (`lvsd status` shows health there). */
  extraColumn?: { header: string; value: (service: LiveService, dest: LiveDest) => string };
}

const protocolOrder = { tcp: 6, udp: 17, sctp: 132 } as const;

function addressKey(address: string): string {
  if (!address.includes(':'))
    return address
      .split('.')
      .map((p) => p.padStart(3, '0'))
      .join('.');
  // Expanded, zero-padded IPv6 sorts numerically as text.
  const [head = '', tail] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups =
    tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.padStart(4, '0')).join(':');
}

/** ipvsadm's order (ipvs_cmp_services): address services before fwmarks, then protocol, address, port. */
export function sortServices(services: LiveService[]): LiveService[] {
  const key = (s: LiveService): string => {
    if (isFwmarkKey(s)) return `1|${String(s.fwmark).padStart(10, '0')}|${s.family}`;
    const protocol = String(protocolOrder[s.protocol]).padStart(3, '0');
    return `0|${protocol}|${s.family}|${addressKey(s.address)}|${String(s.port).padStart(5, '0')}`;
  };
  return [...services].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

export function sortDests(dests: LiveDest[]): LiveDest[] {
  const key = (d: LiveDest) =>
    `${d.family}|${addressKey(d.address)}|${String(d.port).padStart(5, '0')}`;
  return [...dests].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

function serviceName(s: LiveService): string {
  if (isFwmarkKey(s)) return s.family === 'ipv6' ? `FWM  ${s.fwmark} IPv6` : `FWM  ${s.fwmark}`;
  return `${s.protocol.toUpperCase()}  ${formatHostPort(s.address, s.port)}`;
}

function ipv4Mask(prefix: number): string {
  const value = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
}

function schedulerFlags(s: LiveService): string {
  const names =
    s.scheduler === 'sh' || s.scheduler === 'mh'
      ? [`${s.scheduler}-fallback`, `${s.scheduler}-port`, 'flag-3']
      : ['flag-1', 'flag-2', 'flag-3'];
  const set = [s.flags.sched1, s.flags.sched2, s.flags.sched3].flatMap((on, i) =>
    on ? [names[i] as string] : [],
  );
  return set.length ? ` (${set.join(',')})` : '';
}

function serviceLine(s: LiveService): string {
  let line = `${serviceName(s)} ${s.scheduler}${schedulerFlags(s)}`;
  if (s.flags.persistent) {
    line += ` persistent ${s.timeout}`;
    if (s.family === 'ipv4' && s.netmask !== 32) line += ` mask ${ipv4Mask(s.netmask)}`;
    if (s.family === 'ipv6' && s.netmask !== 128) line += ` mask ${s.netmask}`;
  }
  if (s.pe) line += ` pe ${s.pe}`;
  if (s.flags.onePacket) line += ' ops';
  return line;
}

/** ipvsadm's print_largenum: 9 columns, then K / M / G / T. */
export function largeNumber(n: number, exact = false): string {
  if (exact) {
    const text = String(n);
    return text.padStart(text.length <= 8 ? 9 : text.length + 1);
  }
  if (n < 100_000_000) return String(n).padStart(9);
  if (n < 1_000_000_000) return `${String(Math.floor(n / 1_000)).padStart(8)}K`;
  if (n < 100_000_000_000) return `${String(Math.floor(n / 1_000_000)).padStart(8)}M`;
  if (n < 100_000_000_000_000) return `${String(Math.floor(n / 1_000_000_000)).padStart(8)}G`;
  return `${String(Math.floor(n / 1_000_000_000_000)).padStart(8)}T`;
}

const noStats: Stats = emptyStats();

const right = (values: ReadonlyArray<string | number>, width: number) =>
  values.map((v) => String(v).padStart(width)).join(' ');
const left = (values: ReadonlyArray<string | number>, width: number) =>
  values.map((v) => String(v).padEnd(width)).join(' ');
const LOCAL_HEADER = 'Prot LocalAddress:Port'.padEnd(33);

function headerLines(options: LsOptions): string[] {
  const remote = '  -> RemoteAddress:Port';
  if (options.stats)
    return [
      `${LOCAL_HEADER} ${right(['Conns', 'InPkts', 'OutPkts', 'InBytes', 'OutBytes'], 8)}`,
      remote,
    ];
  if (options.rate)
    return [`${LOCAL_HEADER} ${right(['CPS', 'InPPS', 'OutPPS', 'InBPS', 'OutBPS'], 8)}`, remote];
  if (options.thresholds)
    return [
      `${LOCAL_HEADER} ${left(['Uthreshold', 'Lthreshold', 'ActiveConn', 'InActConn'], 10)}`,
      remote,
    ];
  const extra = options.extraColumn ? ` ${options.extraColumn.header}` : '';
  return [
    'Prot LocalAddress:Port Scheduler Flags',
    `${remote}           Forward Weight ActiveConn InActConn${extra}`,
  ];
}

function serviceRow(s: LiveService, options: LsOptions, n: (x: number) => string): string {
  const st = s.stats ?? noStats;
  if (options.stats)
    return (
      serviceName(s).padEnd(33) +
      [st.conns, st.inPackets, st.outPackets, st.inBytes, st.outBytes].map(n).join('')
    );
  if (options.rate)
    return (
      serviceName(s).padEnd(33) + [st.cps, st.inPps, st.outPps, st.inBps, st.outBps].map(n).join('')
    );
  return options.thresholds ? serviceName(s) : serviceLine(s);
}

function destRow(
  s: LiveService,
  d: LiveDest,
  options: LsOptions,
  n: (x: number) => string,
): string {
  const name = `  -> ${formatHostPort(d.address, d.port).padEnd(28)}`;
  const ds = d.stats ?? noStats;
  if (options.stats)
    return name + [ds.conns, ds.inPackets, ds.outPackets, ds.inBytes, ds.outBytes].map(n).join('');
  if (options.rate)
    return `${name} ${right([ds.cps, ds.inPps, ds.outPps], 8)}${[ds.inBps, ds.outBps].map(n).join('')}`;
  if (options.thresholds)
    return `${name} ${left([d.upperThreshold, d.lowerThreshold, d.activeConns, d.inactiveConns], 10)}`;
  const counts = `${left([d.weight], 6)} ${left([d.activeConns], 10)} ${left([d.inactiveConns], 9)}`;
  const extra = options.extraColumn ? ` ${options.extraColumn.value(s, d)}` : '';
  return `${name} ${forwardingLabel[d.forwarding].padEnd(7)} ${counts}${extra}`;
}

/** The table as `ipvsadm -Ln` (and its --stats / --rate / --thresholds variants) prints it. */
export function renderTable(info: IpvsInfo, table: IpvsTable, options: LsOptions = {}): string {
  const out: string[] = [`IP Virtual Server version ${info.version} (size=${info.connTableSize})`];
  const n = (x: number) => largeNumber(x, options.exact);
  out.push(...headerLines(options));
  for (const s of sortServices(table.services)) {
    out.push(serviceRow(s, options, n));
    for (const d of sortDests(s.dests)) out.push(destRow(s, d, options, n));
  }
  return `${out.map((l) => l.replace(/\s+$/, '')).join('\n')}\n`;
}

/** Runs `lvsd ls`; `open` is injectable so tests run it on the fake. */
export async function runLs(
  options: LsOptions,
  open: () => Promise<IpvsClient> = openIpvs,
  write: (text: string) => void = (t) => process.stdout.write(t),
  writeError: (text: string) => void = (t) => process.stderr.write(t),
  hostPorts: HostPorts = systemHostPorts,
): Promise<number> {
  let client: IpvsClient;
  try {
    client = await open();
  } catch (err) {
    reportError({ json: options.json, write, writeError }, 'ls', (err as Error).message);
    return 1;
  }
  try {
    if (options.json) {
      const state = new StateStore(options.stateDir ?? DEFAULT_STATE_DIR);
      const reconciler = new Reconciler({ ipvs: client, state, ...hostPorts });
      const snapshot = await reconciler.snapshot({ version: lvsdVersion(), host: hostname() });
      write(`${JSON.stringify(snapshot, null, 2)}\n`);
    } else {
      write(renderTable(await client.getInfo(), await client.readTable(), options));
    }
    return 0;
  } catch (err) {
    reportError({ json: options.json, write, writeError }, 'ls', (err as Error).message);
    return 1;
  } finally {
    await client.close();
  }
}

export const lsCommand: CommandModule = {
  register(program: Command, setExitCode) {
    program
      .command('ls')
      .description('list the live IPVS table like `ipvsadm -Ln` (needs CAP_NET_ADMIN)')
      .option('--stats', 'counters: connections, packets and bytes')
      .option('--rate', 'rates: connections, packets and bytes per second')
      .option('--thresholds', 'upper and lower connection thresholds')
      .option('--exact', 'exact numbers instead of K / M / G units')
      .option(
        '--json',
        'a director snapshot: the table, what lvsd owns, kernel settings, VIPs (for `lvsd plan --state`)',
      )
      .option('--state-dir <dir>', "where lvsd's state file is (for --json)", DEFAULT_STATE_DIR)
      .action(async (options: LsOptions) => setExitCode(await runLs(options)));
  },
};
