/**
 * Network topologies for kernel tests and the demo (root, inside the kernel lab or on a host
 * with IPVS): a client, a director and real servers, each a network namespace, joined by
 * veth pairs (or a bridge where DR needs one shared segment), addresses and routes set, and
 * on each real a tiny HTTP and UDP server that answers with the real's name.
 *
 * The director is the namespace this process runs in (`self`), so an in-process IpvsClient,
 * `ipvsadm` and `node bin/lvsd.js` all act on the director's IPVS table; the kernel suite
 * gives every test file a fresh one. The other namespaces are named `<prefix>-<name>`.
 *
 * Everything goes through the tools an operator would use (`ip`, `sysctl`, `iptables`,
 * `curl`), so a failing test reads like the LVS HOWTO. Builders for the classic labs:
 * natLab (IPv4 and IPv6), drLab (one bridge, VIP on the reals' lo, arp_ignore/arp_announce),
 * tunLab (ipip, VIP on the reals' tunl0). See docs/lab.md.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { waitUntil } from './wait.js';

/** What a command printed and how it ended. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A command that exited non-zero (or could not start): the message names it and quotes stderr. */
export class ExecError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: ExecResult,
    where: string,
  ) {
    super(
      `${where}: \`${argv.join(' ')}\` exited with ` +
        `${result.code}${result.stderr.trim() ? `: ${result.stderr.trim()}` : ''}`,
    );
  }
}

export interface ExecOptions {
  input?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

function execArgv(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    const [command, ...args] = argv as [string, ...string[]];
    const child = execFile(
      command,
      args,
      {
        maxBuffer: 64 * 1024 * 1024,
        timeout: options.timeoutMs ?? 60_000,
        env: options.env ?? process.env,
      },
      (err, stdout, stderr) => {
        const e = err as
          | (NodeJS.ErrnoException & { code?: number | string; killed?: boolean })
          | null;
        const code = e ? (typeof e.code === 'number' ? e.code : 127) : 0;
        const why =
          e && typeof e.code !== 'number' ? `${e.killed ? 'timed out' : e.message}\n` : '';
        resolve({ code, stdout: String(stdout), stderr: why + String(stderr) });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** One network namespace: the current one (netns null) or a named one. */
export class Netns {
  constructor(
    /** The role in the topology: "client", "director", "real1", ... */
    readonly name: string,
    /** The `ip netns` name, or null for this process's own namespace. */
    readonly netns: string | null,
  ) {}

  /** argv prefixed so that it runs in this namespace. */
  wrap(argv: readonly string[]): string[] {
    return this.netns === null ? [...argv] : ['ip', 'netns', 'exec', this.netns, ...argv];
  }

  /** Runs a command here; never rejects: look at `code`. */
  tryRun(argv: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    return execArgv(this.wrap(argv), options);
  }

  /** Runs a command here; resolves with stdout, rejects with an ExecError naming it. */
  async run(argv: readonly string[], options?: ExecOptions): Promise<string> {
    const result = await this.tryRun(argv, options);
    if (result.code !== 0) throw new ExecError(argv, result, this.name);
    return result.stdout;
  }

  /** A bash script here (set -e); resolves with stdout. */
  sh(script: string, options?: ExecOptions): Promise<string> {
    return this.run(['bash', '-ec', script], options);
  }

  /** Starts a long-running command here (the caller kills it). */
  spawn(argv: readonly string[], stdio: 'pipe' | 'ignore' = 'pipe'): ChildProcess {
    const [command, ...args] = this.wrap(argv) as [string, ...string[]];
    return spawn(command, args, { stdio: ['ignore', stdio, 'pipe'] });
  }

  /**
   * `lvsd run -c CONFIG --state-dir STATE --no-watch` here (bin/lvsd.js, as systemd starts
   * it), its stdout's lines and stderr's chunks collected in `lines` as they come.
   */
  runLvsd(config: string, stateDir: string): { child: ChildProcess; lines: string[] } {
    const argv = ['bin/lvsd.js', 'run', '-c', config, '--state-dir', stateDir, '--no-watch'];
    const child = this.spawn([process.execPath, ...argv]);
    const lines: string[] = [];
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) =>
      lines.push(l),
    );
    child.stderr?.on('data', (d) => lines.push(String(d)));
    return { child, lines };
  }

  /** `ip ARGS...` here (`ip -n`: one process, no `ip netns exec` around it). */
  async ip(...args: string[]): Promise<string> {
    const argv = ['ip', ...(this.netns === null ? [] : ['-n', this.netns]), ...args];
    const result = await execArgv(argv);
    if (result.code !== 0) throw new ExecError(argv, result, this.name);
    return result.stdout;
  }

  /** Sets one sysctl here ("net.ipv4.ip_forward", 1). Network sysctls are per namespace. */
  async sysctl(key: string, value: string | number): Promise<void> {
    await this.run(['sysctl', '-qw', `${key}=${value}`]);
  }

  /** Reads one sysctl here. */
  async readSysctl(key: string): Promise<string> {
    return (await this.run(['sysctl', '-n', key])).trim();
  }

  /** Adds an address ("10.0.0.1/24", "2001:db8::1/64": IPv6 without duplicate detection). */
  async addAddress(dev: string, cidr: string): Promise<void> {
    await this.ip('addr', 'add', cidr, 'dev', dev, ...(cidr.includes(':') ? ['nodad'] : []));
  }

  /** Adds a route ("default" or a prefix) through a gateway. */
  async addRoute(destination: string, via: string, dev?: string): Promise<void> {
    const family = via.includes(':') ? ['-6'] : [];
    await this.ip(...family, 'route', 'add', destination, 'via', via, ...(dev ? ['dev', dev] : []));
  }

  /** Routes packets between interfaces (IPv4 and IPv6), as a director must for NAT. */
  async enableForwarding(): Promise<void> {
    await this.sysctl('net.ipv4.ip_forward', 1);
    await this.sysctl('net.ipv6.conf.all.forwarding', 1);
  }

  /** `ipvsadm ARGS...` here. */
  ipvsadm(...args: string[]): Promise<string> {
    return this.run(['ipvsadm', ...args]);
  }
  /**
   * What ipvsadm shows of the table here, headers dropped: rules (`-Sn`, which has no
   * thresholds), thresholds and tunnel settings; for before / after comparisons.
   */
  async ipvsadmViews(): Promise<Record<string, string[]>> {
    const listing = async (...args: string[]) =>
      sortedLines(await this.ipvsadm(...args)).filter(
        (l) => !/^(IP Virtual Server|Prot |->\s+RemoteAddress)/.test(l),
      );
    return {
      '-Sn': sortedLines(await this.ipvsadm('-Sn')),
      '-Ln --thresholds': await listing('-Ln', '--thresholds'),
      '-Ln --tun-info': await listing('-Ln', '--tun-info'),
    };
  }

  /** `iptables ARGS...` here (iptables-nft: nf_tables through nft_compat). */
  iptables(...args: string[]): Promise<string> {
    return this.run(['iptables', '-w', ...args]);
  }

  /** The built CLI (`node bin/lvsd.js ARGS...`, run `npm run build` first) here. */
  lvsd(args: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    return this.tryRun([process.execPath, 'bin/lvsd.js', ...args], options);
  }

  /** One HTTP GET from here with curl; resolves with the body, trimmed (a real's name). */
  async httpGet(
    url: string,
    options: { timeoutMs?: number; source?: string } = {},
  ): Promise<string> {
    const seconds = String((options.timeoutMs ?? 5000) / 1000);
    const argv = [
      'curl',
      '-sS',
      '-g',
      '--noproxy',
      '*',
      '--max-time',
      seconds,
      ...(options.source ? ['--interface', options.source] : []),
      url,
    ];
    return (await this.run(argv)).trim();
  }

  /** One UDP datagram from here; resolves with the first line of the answer (a real's name). */
  async udpAsk(host: string, port: number, message = 'ping', timeoutMs = 5000): Promise<string> {
    // bash's /dev/udp: no extra tool, and it starts fast on an emulated CPU. head reads the
    // whole datagram at once (bash's read would take one byte and drop the rest).
    const script = 'exec 3<>"/dev/udp/$1/$2"; printf "%s\\n" "$3" >&3; timeout "$4" head -n 1 <&3';
    const seconds = String(Math.max(1, Math.round(timeoutMs / 1000)));
    return (
      await this.run(['bash', '-c', script, 'udp', host, String(port), message, seconds])
    ).trim();
  }
}

/**
 * The server on each real (plain Node, no files): answers every HTTP request with
 * "<name>\n" (header X-Real-Server: <name>) and every UDP datagram with "<name>\n", on the
 * listeners given as "http:<host>:<port>" / "udp:<host>:<port>" (host "::" takes both
 * families). Prints "ready" once all listen.
 */
const SERVER = `
const http = require('node:http');
const dgram = require('node:dgram');
const [name, ...listeners] = process.argv.slice(1);
let pending = listeners.length;
const ready = () => { if (--pending === 0) console.log('ready'); };
const fail = (what) => (err) => { console.log('error ' + what + ': ' + err.message); process.exit(1); };
for (const listener of listeners) {
  const [kind, rest] = [listener.slice(0, listener.indexOf(':')), listener.slice(listener.indexOf(':') + 1)];
  const host = rest.slice(0, rest.lastIndexOf(':')).replace(/^\\[|\\]$/g, '');
  const port = Number(rest.slice(rest.lastIndexOf(':') + 1));
  if (kind === 'http') {
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'Content-Type': 'text/plain', 'X-Real-Server': name });
      res.end(name + '\\n');
    });
    server.on('error', fail(listener));
    server.listen({ host, port, ipv6Only: false }, ready);
  } else {
    const socket = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', ipv6Only: false });
    socket.on('error', fail(listener));
    socket.on('message', (msg, from) => socket.send(name + '\\n', from.port, from.address));
    socket.bind(port, host, ready);
  }
}
`;

/** A real's HTTP/UDP server; stop() and start() again for health tests. */
export class NameServer {
  private child: ChildProcess | null = null;

  constructor(
    readonly ns: Netns,
    /** What it answers. */
    readonly answer: string,
    /** "http:<host>:<port>" / "udp:<host>:<port>". */
    readonly listeners: readonly string[],
  ) {}

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts it; resolves once every listener is bound. */
  async start(): Promise<void> {
    if (this.running) return;
    const child = this.ns.spawn([process.execPath, '-e', SERVER, this.answer, ...this.listeners]);
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`server ${this.answer} in ${this.ns.name}: not ready after 60 s`)),
        60_000,
      );
      const lines = createInterface({ input: child.stdout! });
      lines.once('line', (line) => {
        clearTimeout(timer);
        if (line === 'ready') resolve();
        else reject(new Error(`server ${this.answer} in ${this.ns.name}: ${line}`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(
          new Error(
            `server ${this.answer} in ${this.ns.name} exited with ${code}: ${stderr.trim()}`,
          ),
        );
      });
    });
  }

  /** Stops it and waits until it is gone (connections refused from then on). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
}

export interface LinkEnd {
  ns: Netns;
  /** Interface name in that namespace (15 characters at most). */
  dev: string;
  /** Addresses with their prefix: "192.168.10.1/24", "2001:db8:10::1/64". */
  addresses?: string[];
}

/** A real server of a built lab. */
export interface Real {
  /** "real1", "real2", ...: also what its servers answer. */
  name: string;
  ns: Netns;
  /** Its own IPv4 address (what IPVS forwards to). */
  address: string;
  /** Its own IPv6 address, where the lab has IPv6. */
  address6?: string;
  /** HTTP on port httpPort and UDP on udpPort, both families; started by the builders. */
  server: NameServer;
}

export interface LabOptions {
  /** Prefix of the namespace names (default "lvsd<pid>"). */
  prefix?: string;
  /** Role of this process's own namespace (default "director"). */
  selfName?: string;
}

/** A set of namespaces and servers made for one test file; teardown() removes them all. */
export class Lab {
  /** This process's own namespace: the director in the builders. */
  readonly self: Netns;
  readonly prefix: string;
  private readonly namespaces: Netns[] = [];
  private readonly servers: NameServer[] = [];
  private linkCount = 0;

  private constructor(options: LabOptions) {
    this.prefix = options.prefix ?? `lvsd${process.pid}`;
    this.self = new Netns(options.selfName ?? 'director', null);
  }

  /** A lab rooted in this process's namespace (brings its lo up). */
  static async create(options: LabOptions = {}): Promise<Lab> {
    if (process.getuid?.() !== 0)
      throw new Error(
        'the topology helpers need root (run them in the kernel lab: test/lab/kernel-suite.sh)',
      );
    const lab = new Lab(options);
    await lab.self.ip('link', 'set', 'lo', 'up');
    return lab;
  }

  /** A new named namespace with lo up. */
  async netns(name: string): Promise<Netns> {
    const ns = new Netns(name, `${this.prefix}-${name}`);
    await execArgv(['ip', 'netns', 'del', ns.netns!]); // a leftover of an interrupted run
    const added = await execArgv(['ip', 'netns', 'add', ns.netns!]);
    if (added.code !== 0) throw new ExecError(['ip', 'netns', 'add', ns.netns!], added, 'lab');
    this.namespaces.push(ns);
    await ns.ip('link', 'set', 'lo', 'up');
    return ns;
  }

  /** A veth pair between two namespaces, both ends up with their addresses. */
  async link(a: LinkEnd, b: LinkEnd): Promise<void> {
    // Temporary names unique in this lab, renamed once each end is in its namespace.
    const n = this.linkCount++;
    const [ta, tb] = [`lvt${n}a${process.pid % 10000}`, `lvt${n}b${process.pid % 10000}`];
    await this.self.ip('link', 'add', ta, 'type', 'veth', 'peer', 'name', tb);
    for (const [end, temp] of [
      [a, ta],
      [b, tb],
    ] as const) {
      if (end.ns.netns !== null) await this.self.ip('link', 'set', temp, 'netns', end.ns.netns);
      await end.ns.ip('link', 'set', temp, 'name', end.dev);
      for (const address of end.addresses ?? []) await end.ns.addAddress(end.dev, address);
      await end.ns.ip('link', 'set', end.dev, 'up');
    }
  }

  /**
   * One shared Ethernet segment: a bridge in its own namespace (a switch), each end plugged
   * in by a veth pair. ARP and every frame pass between the members, as DR needs.
   */
  async segment(name: string, ends: LinkEnd[]): Promise<Netns> {
    const sw = await this.netns(name);
    await sw.ip('link', 'add', 'br0', 'type', 'bridge');
    await sw.ip('link', 'set', 'br0', 'up');
    for (const [i, end] of ends.entries()) {
      await this.link(end, { ns: sw, dev: `port${i}` });
      await sw.ip('link', 'set', `port${i}`, 'master', 'br0');
    }
    return sw;
  }

  /** Starts a name-answering server in a namespace (see NameServer). */
  async serve(ns: Netns, answer: string, listeners: readonly string[]): Promise<NameServer> {
    const server = new NameServer(ns, answer, listeners);
    this.servers.push(server);
    await server.start();
    return server;
  }

  /** Stops every server and deletes every namespace made here (their links go with them). */
  async teardown(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
    for (const ns of this.namespaces.reverse()) await execArgv(['ip', 'netns', 'del', ns.netns!]);
    this.namespaces.length = 0;
  }
}

export interface BuiltLab {
  lab: Lab;
  client: Netns;
  /** This process's namespace. */
  director: Netns;
  reals: Real[];
  /** The virtual IP clients use (IPv4). */
  vip: string;
  /** The IPv6 VIP, where the lab has IPv6. */
  vip6?: string;
  httpPort: number;
  udpPort: number;
  /** Sends n HTTP GETs from the client to the VIP (or `url`), one after the other; the answers. */
  ask(n: number, url?: string): Promise<string[]>;
  teardown(): Promise<void>;
}

export interface BuildOptions {
  /** Number of real servers (default 2, at most 20). */
  reals?: number;
  httpPort?: number;
  udpPort?: number;
  /** Start the HTTP/UDP servers on the reals (default true). */
  servers?: boolean;
  prefix?: string;
}

function built(
  lab: Lab,
  client: Netns,
  reals: Real[],
  vip: string,
  vip6: string | undefined,
  options: BuildOptions,
): BuiltLab {
  const httpPort = options.httpPort ?? 80;
  return {
    lab,
    client,
    director: lab.self,
    reals,
    vip,
    ...(vip6 ? { vip6 } : {}),
    httpPort,
    udpPort: options.udpPort ?? 53,
    async ask(n: number, url = `http://${vip}:${httpPort}/`): Promise<string[]> {
      const answers: string[] = [];
      for (let i = 0; i < n; i++) answers.push(await client.httpGet(url));
      return answers;
    },
    teardown: () => lab.teardown(),
  };
}

function realCount(options: BuildOptions): number {
  const n = options.reals ?? 2;
  if (!Number.isInteger(n) || n < 1 || n > 20) throw new Error(`reals must be 1..20, not ${n}`);
  return n;
}

/**
 * Starts each real's server: HTTP on "::" (it answers on any address the real has, a VIP
 * added later included) and UDP on each of `udpHosts` (a UDP answer leaves from the
 * address its socket is bound to, and DR / TUN answers must leave from the VIP).
 */
async function startServers(
  lab: Lab,
  reals: Real[],
  options: BuildOptions,
  udpHosts: (real: Real) => string[],
): Promise<void> {
  const httpPort = options.httpPort ?? 80;
  const udpPort = options.udpPort ?? 53;
  await Promise.all(
    reals.map(async (r) => {
      const listeners = [
        `http:[::]:${httpPort}`,
        ...udpHosts(r).map((h) => `udp:${h.includes(':') ? `[${h}]` : h}:${udpPort}`),
      ];
      r.server = await lab.serve(r.ns, r.name, listeners);
    }),
  );
}

/**
 * The classic LVS-NAT lab (LVS HOWTO): client 10.0.0.2/24 -- director 10.0.0.1/24 (the VIP),
 * director 192.168.(9+i).1/24 -- real i 192.168.(9+i).2/24 with its default route back
 * through the director, forwarding on. With ipv6: client 2001:db8::2/64 -- director
 * 2001:db8::1/64 (VIP6), reals 2001:db8:(9+i)::2/64 via 2001:db8:(9+i)::1.
 * Each real answers HTTP and UDP with its name ("real1", "real2", ...).
 */
export async function natLab(options: BuildOptions & { ipv6?: boolean } = {}): Promise<BuiltLab> {
  const lab = await Lab.create(options.prefix ? { prefix: options.prefix } : {});
  try {
    const director = lab.self;
    const client = await lab.netns('client');
    const v6 = options.ipv6 ?? false;
    await lab.link(
      {
        ns: director,
        dev: 'to-client',
        addresses: ['10.0.0.1/24', ...(v6 ? ['2001:db8::1/64'] : [])],
      },
      { ns: client, dev: 'eth0', addresses: ['10.0.0.2/24', ...(v6 ? ['2001:db8::2/64'] : [])] },
    );
    await director.enableForwarding();
    const reals: Real[] = [];
    for (let i = 1; i <= realCount(options); i++) {
      const net = 9 + i;
      const ns = await lab.netns(`real${i}`);
      await lab.link(
        {
          ns: director,
          dev: `to-real${i}`,
          addresses: [`192.168.${net}.1/24`, ...(v6 ? [`2001:db8:${net}::1/64`] : [])],
        },
        {
          ns,
          dev: 'eth0',
          addresses: [`192.168.${net}.2/24`, ...(v6 ? [`2001:db8:${net}::2/64`] : [])],
        },
      );
      await ns.addRoute('default', `192.168.${net}.1`);
      if (v6) await ns.addRoute('default', `2001:db8:${net}::1`);
      reals.push({
        name: `real${i}`,
        ns,
        address: `192.168.${net}.2`,
        ...(v6 ? { address6: `2001:db8:${net}::2` } : {}),
        server: undefined as unknown as NameServer,
      });
    }
    if (options.servers !== false) await startServers(lab, reals, options, () => ['::']);
    return built(lab, client, reals, '10.0.0.1', v6 ? '2001:db8::1' : undefined, options);
  } catch (err) {
    await lab.teardown();
    throw err;
  }
}

/**
 * Puts a VIP on a real the way LVS-DR / LVS-TUN want it, as `lvsd realserver` would: on lo
 * (DR) or tunl0 (TUN, ipip), arp_ignore=1 / arp_announce=2 so the real never answers ARP
 * for it, and rp_filter off for TUN (decapsulated packets arrive on tunl0).
 */
export async function prepareReal(ns: Netns, vip: string, method: 'dr' | 'tun'): Promise<void> {
  if (method === 'dr') {
    await ns.ip('addr', 'add', `${vip}/32`, 'dev', 'lo');
  } else {
    await ns.ip('link', 'set', 'tunl0', 'up');
    await ns.ip('addr', 'add', `${vip}/32`, 'dev', 'tunl0');
    for (const dev of ['all', 'default', 'tunl0'])
      await ns.sysctl(`net.ipv4.conf.${dev}.rp_filter`, 0);
  }
  await ns.sysctl('net.ipv4.conf.all.arp_ignore', 1);
  await ns.sysctl('net.ipv4.conf.all.arp_announce', 2);
}

/**
 * The LVS-DR lab: client 10.0.0.2, director 10.0.0.1 with the VIP 10.0.0.100, real i
 * 10.0.0.(10+i), all on one bridge (namespace "switch"). With prepareReals (default true)
 * each real holds the VIP on lo with arp_ignore/arp_announce set; pass false to let
 * `lvsd realserver` do it. Reals answer straight to the client. HTTP listens on "::", so
 * it answers on the VIP too; UDP listens on the real's address and, when the builder put it
 * there, on the VIP (restart `real.server` with your own listeners otherwise).
 */
export async function drLab(
  options: BuildOptions & { prepareReals?: boolean } = {},
): Promise<BuiltLab> {
  const lab = await Lab.create(options.prefix ? { prefix: options.prefix } : {});
  const vip = '10.0.0.100';
  try {
    const director = lab.self;
    const client = await lab.netns('client');
    const reals: Real[] = [];
    const ends: LinkEnd[] = [
      { ns: director, dev: 'lan', addresses: ['10.0.0.1/24', `${vip}/32`] },
      { ns: client, dev: 'eth0', addresses: ['10.0.0.2/24'] },
    ];
    for (let i = 1; i <= realCount(options); i++) {
      const ns = await lab.netns(`real${i}`);
      ends.push({ ns, dev: 'eth0', addresses: [`10.0.0.${10 + i}/24`] });
      reals.push({
        name: `real${i}`,
        ns,
        address: `10.0.0.${10 + i}`,
        server: undefined as unknown as NameServer,
      });
    }
    await lab.segment('switch', ends);
    if (options.prepareReals !== false) for (const r of reals) await prepareReal(r.ns, vip, 'dr');
    if (options.servers !== false)
      await startServers(lab, reals, options, (r) =>
        options.prepareReals !== false ? [r.address, vip] : [r.address],
      );
    return built(lab, client, reals, vip, undefined, options);
  } catch (err) {
    await lab.teardown();
    throw err;
  }
}

/**
 * The LVS-TUN lab: client 10.0.0.2 -- director 10.0.0.1 with the VIP 10.0.0.100 on the
 * client side; director 192.168.(9+i).1 -- real i 192.168.(9+i).2 (routed, default route
 * through the director). With prepareReals (default true) each real holds the VIP on
 * tunl0 (ipip) with rp_filter off; replies go from the VIP back through the director.
 */
export async function tunLab(
  options: BuildOptions & { prepareReals?: boolean } = {},
): Promise<BuiltLab> {
  const lab = await Lab.create(options.prefix ? { prefix: options.prefix } : {});
  const vip = '10.0.0.100';
  try {
    const director = lab.self;
    const client = await lab.netns('client');
    await lab.link(
      { ns: director, dev: 'to-client', addresses: ['10.0.0.1/24', `${vip}/32`] },
      { ns: client, dev: 'eth0', addresses: ['10.0.0.2/24'] },
    );
    await director.enableForwarding();
    const reals: Real[] = [];
    for (let i = 1; i <= realCount(options); i++) {
      const net = 9 + i;
      const ns = await lab.netns(`real${i}`);
      await lab.link(
        { ns: director, dev: `to-real${i}`, addresses: [`192.168.${net}.1/24`] },
        { ns, dev: 'eth0', addresses: [`192.168.${net}.2/24`] },
      );
      await ns.addRoute('default', `192.168.${net}.1`);
      reals.push({
        name: `real${i}`,
        ns,
        address: `192.168.${net}.2`,
        server: undefined as unknown as NameServer,
      });
    }
    if (options.prepareReals !== false) for (const r of reals) await prepareReal(r.ns, vip, 'tun');
    if (options.servers !== false)
      await startServers(lab, reals, options, (r) =>
        options.prepareReals !== false ? [r.address, vip] : [r.address],
      );
    return built(lab, client, reals, vip, undefined, options);
  } catch (err) {
    await lab.teardown();
    throw err;
  }
}

/**
 * Marks packets to `vip` on `ports` with `mark` in the mangle table, one multiport rule, as
 * the LVS docs do for HTTP and HTTPS together: an IPVS fwmark service then takes them all.
 */
export async function markPorts(
  director: Netns,
  vip: string,
  ports: number[],
  mark: number,
  protocol: 'tcp' | 'udp' = 'tcp',
): Promise<void> {
  await director.iptables(
    '-t',
    'mangle',
    '-A',
    'PREROUTING',
    '-d',
    `${vip}/32`,
    '-p',
    protocol,
    '-m',
    'multiport',
    '--dports',
    ports.join(','),
    '-j',
    'MARK',
    '--set-mark',
    String(mark),
  );
}

/** Polls `check` every 100 ms until it returns something truthy; rejects after timeoutMs. */
/** Non-empty lines, trimmed and sorted: `ipvsadm -Sn` output compared as a set of rules. */
export function sortedLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .sort();
}

export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 30_000,
): Promise<NonNullable<T>> {
  return waitUntil(what, check, { timeoutMs, pollMs: 100 });
}
