/**
 * VRRP speakers for host tests on a namespace LAN (netns.ts): lvsd (the daemon as `lvsd
 * run` wires it, with an in-memory IPVS table: test/fixtures/fake-ipvs-director.mjs),
 * keepalived, and tcpdump on the bridge, whose timestamps time every takeover on the wire.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { waitUntil } from '../lab/wait.js';
import { type Lan, REPO, sh } from './netns.js';

export const WORK = '/tmp/lvsd-vrrp-test';

export function toolsMissing(): string | null {
  for (const tool of ['keepalived', 'tcpdump'])
    if (!['/usr/sbin/', '/usr/bin/', '/sbin/'].some((dir) => existsSync(dir + tool)))
      return `needs ${tool} (apt-get install ${tool}; test/host-packages.sh installs it)`;
  return null;
}

interface Collected {
  child: ChildProcess;
  out: string[];
  exited: Promise<number | null>;
}

function collect(child: ChildProcess): Collected {
  const out: string[] = [];
  let partial = '';
  const take = (chunk: Buffer) => {
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    out.push(...lines);
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out, exited };
}

export interface LogEvent {
  event?: string;
  time?: string;
  [key: string]: unknown;
}

/** One `lvsd run` in a node's namespace. */
export class Lvsd {
  private readonly run: Collected;

  constructor(
    readonly lan: Lan,
    readonly node: string,
    readonly name: string,
    yaml: string,
  ) {
    mkdirSync(`${WORK}/${name}`, { recursive: true });
    const config = `${WORK}/${name}/lvsd.yaml`;
    writeFileSync(config, yaml);
    this.run = collect(
      lan.spawn(node, process.execPath, [
        `${REPO}test/fixtures/fake-ipvs-director.mjs`,
        config,
        `${WORK}/${name}/state`,
        '127.0.0.1:9380',
      ]),
    );
  }

  get pid(): number {
    return this.run.child.pid as number;
  }

  events(): LogEvent[] {
    return this.run.out.flatMap((line) => {
      try {
        return [JSON.parse(line) as LogEvent];
      } catch {
        return [];
      }
    });
  }

  transitions(): LogEvent[] {
    return this.events().filter((e) => e.event === 'vrrp_transition');
  }

  /** When it last entered `role` (s since the epoch, from its log), or 0. */
  enteredAt(role: string): number {
    const last = this.transitions()
      .filter((e) => e.to === role)
      .at(-1);
    return last?.time ? Date.parse(last.time) / 1000 : 0;
  }

  role(): string | undefined {
    return this.transitions().at(-1)?.to as string | undefined;
  }

  async waitRole(role: string, timeoutMs = 15_000): Promise<void> {
    await waitUntil(`${this.name} in ${role} (log: ${this.tail()})`, () => this.role() === role, {
      timeoutMs,
      pollMs: 50,
    });
  }

  tail(): string {
    return this.run.out.slice(-6).join('\n');
  }

  signal(signal: NodeJS.Signals): void {
    this.run.child.kill(signal);
  }

  exited(): Promise<number | null> {
    return this.run.exited;
  }

  /** GET a path of its HTTP listener, from inside its namespace. */
  http(path: string): string {
    return this.lan.exec(this.node, process.execPath, [
      '-e',
      `fetch('http://127.0.0.1:9380${path}').then((r) => r.text()).then((t) => process.stdout.write(t))`,
    ]);
  }
}

/** keepalived (VRRP only) in a node's namespace. */
export class Keepalived {
  private readonly run: Collected;
  private readonly dir: string;

  constructor(
    readonly lan: Lan,
    readonly node: string,
    readonly name: string,
    conf: string,
  ) {
    this.dir = `${WORK}/${name}`;
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(`${this.dir}/keepalived.conf`, conf);
    this.run = collect(
      lan.spawn(node, 'keepalived', [
        '-n',
        '-l',
        '-D',
        '-P',
        '--no-syslog',
        '-f',
        `${this.dir}/keepalived.conf`,
        '-p',
        `${this.dir}/keepalived.pid`,
        '-r',
        `${this.dir}/vrrp.pid`,
      ]),
    );
  }

  log(): string {
    return this.run.out.join('\n');
  }

  async waitLog(pattern: RegExp, timeoutMs = 15_000): Promise<void> {
    await waitUntil(`keepalived ${this.name}: ${pattern}`, () => pattern.test(this.log()), {
      timeoutMs,
      pollMs: 50,
    });
  }

  private vrrpPid(): number {
    return Number(readFileSync(`${this.dir}/vrrp.pid`, 'utf8').trim());
  }

  /** SIGKILL with no goodbye: the parent is stopped first so that it cannot restart its VRRP child. */
  kill(): void {
    const parent = this.run.child.pid as number;
    process.kill(parent, 'SIGSTOP');
    process.kill(this.vrrpPid(), 'SIGKILL');
    process.kill(parent, 'SIGKILL');
  }

  async stop(): Promise<void> {
    if (this.run.child.exitCode !== null || this.run.child.signalCode !== null) return;
    this.run.child.kill('SIGTERM');
    await this.run.exited;
  }
}

export interface WireAdvert {
  /** Seconds since the epoch, as tcpdump stamps it. */
  t: number;
  from: string;
  to: string;
  vrid: number;
  priority: number;
}

/** tcpdump on the LAN's bridge: every VRRP advert with its time on the wire, and the announcements. */
export class Wire {
  private readonly run: Collected;

  constructor(readonly lan: Lan) {
    this.run = collect(
      lan.spawnBridge('tcpdump', [
        '-i',
        'br0',
        '-n',
        '-tt',
        '-l',
        'ip proto 112 or ip6 proto 112 or arp or (icmp6 and ip6[40] == 136)',
      ]),
    );
  }

  async ready(): Promise<void> {
    await waitUntil(
      'tcpdump listening',
      () => this.run.out.some((l) => l.includes('listening on')),
      {
        timeoutMs: 10_000,
        pollMs: 20,
      },
    );
  }

  adverts(): WireAdvert[] {
    const advert = /^(\d+\.\d+) IP6? (\S+) > (\S+): VRRPv\d, Advertisement, vrid (\d+), prio (\d+)/;
    return this.run.out.flatMap((line) => {
      const m = advert.exec(line);
      if (!m) return [];
      const [, t, from, to, vrid, priority] = m as unknown as string[];
      return [
        {
          t: Number(t),
          from: String(from),
          to: String(to),
          vrid: Number(vrid),
          priority: Number(priority),
        },
      ];
    });
  }

  /** Addresses announced (gratuitous ARP "who-has A tell A", unsolicited NA) at or after `since` (s). */
  announced(since = 0): string[] {
    return this.run.out.flatMap((line) => {
      const t = Number.parseFloat(line);
      if (!(t >= since)) return [];
      const arp = /ARP, Request who-has (\S+) \(ff:ff:ff:ff:ff:ff\) tell (\S+),/.exec(line);
      if (arp && arp[1] === arp[2]) return [arp[1] as string];
      const na = /ICMP6, neighbor advertisement, tgt is ([^,]+),/.exec(line);
      return na ? [na[1] as string] : [];
    });
  }

  stop(): void {
    this.run.child.kill('SIGTERM');
  }
}

/** What `ip addr` shows of an address on a node's eth0. */
export function holds(lan: Lan, node: string, address: string): boolean {
  return lan.addresses(node).includes(` ${address}/`);
}

/** Kills a leftover speaker of an earlier run by pid file, if any. */
export function killStale(pidFile: string): void {
  try {
    sh('kill', ['-9', readFileSync(pidFile, 'utf8').trim()]);
  } catch {
    // none
  }
}
