/**
 * Helpers for the forwarding proofs, on top of the lab's topology (test/lab/topology.ts):
 * a line server and a client that holds one TCP connection open (to show that established
 * connections survive a weight of 0), IPVS counters as ipvsadm prints them, and packet
 * counters from an iptables rule (to show what the director never sees).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';
import type { Lab, Netns } from '../lab/topology.js';

/**
 * On each port: an HTTP/1.0 answer "<name>\n" to a request starting with GET, and "<name>\n"
 * to every line otherwise, on a connection that stays open as long as the client wants.
 */
const LINE_SERVER = `
const net = require('node:net');
const [name, ...ports] = process.argv.slice(1);
let listening = 0;
for (const port of ports) {
  const server = net.createServer((socket) => {
    let buffer = '';
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      if (buffer.startsWith('GET ')) {
        if (!buffer.includes('\\r\\n\\r\\n')) return;
        const body = name + '\\n';
        const head = 'HTTP/1.0 200 OK\\r\\nContent-Length: ' + body.length;
        socket.end(head + '\\r\\nConnection: close\\r\\n\\r\\n' + body);
        return;
      }
      let i;
      while ((i = buffer.indexOf('\\n')) >= 0) { buffer = buffer.slice(i + 1); socket.write(name + '\\n'); }
    });
  });
  server.on('error', (e) => { console.log('error ' + e.message); process.exit(1); });
  server.listen({ port: Number(port), host: '::', ipv6Only: false }, () => {
    if (++listening === ports.length) console.log('ready');
  });
}
`;

/** Holds one TCP connection; each line on stdin is sent, each line received is printed as "answer <line>". */
const HOLDING_CLIENT = `
const net = require('node:net');
const readline = require('node:readline');
const [host, port, local] = process.argv.slice(1);
const target = { host, port: Number(port), ...(local ? { localAddress: local } : {}) };
const socket = net.connect(target, () => console.log('connected'));
socket.on('error', (e) => { console.log('error ' + e.message); process.exit(1); });
let buffer = '';
socket.on('data', (d) => {
  buffer += d;
  let i;
  while ((i = buffer.indexOf('\\n')) >= 0) {
    console.log('answer ' + buffer.slice(0, i));
    buffer = buffer.slice(i + 1);
  }
});
socket.on('close', () => { console.log('closed'); process.exit(0); });
readline.createInterface({ input: process.stdin }).on('line', () => socket.write('ping\\n'));
`;

function lines(child: ChildProcess): () => Promise<string> {
  const queue: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const next = waiting.shift();
    if (next) next(line);
    else queue.push(line);
  });
  return () => {
    const line = queue.shift();
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no line within 20 s')), 20_000);
      waiting.push((l) => {
        clearTimeout(timer);
        resolve(l);
      });
    });
  };
}

/** Like Netns.spawn, with stdin open (the holding client reads its commands there). */
function start(ns: Netns, argv: string[]): ChildProcess {
  const [command, ...args] = ns.wrap(argv) as [string, ...string[]];
  return spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
}

const started: ChildProcess[] = [];

/** Starts the line server in a namespace (stopped by stopAll). */
export async function lineServer(ns: Netns, name: string, ports: number[]): Promise<void> {
  const child = start(ns, [process.execPath, '-e', LINE_SERVER, name, ...ports.map(String)]);
  started.push(child);
  const first = await lines(child)();
  if (first !== 'ready') throw new Error(`line server ${name} in ${ns.name}: ${first}`);
}

export interface HeldConnection {
  /** Sends a line on the open connection; resolves with the name of the real that answered. */
  ask(): Promise<string>;
  close(): void;
}

/** Opens one TCP connection from a namespace and keeps it open. */
export async function holdConnection(
  ns: Netns,
  host: string,
  port: number,
  source?: string,
): Promise<HeldConnection> {
  const child = start(ns, [
    process.execPath,
    '-e',
    HOLDING_CLIENT,
    host,
    String(port),
    ...(source ? [source] : []),
  ]);
  started.push(child);
  const next = lines(child);
  const first = await next();
  if (first !== 'connected')
    throw new Error(`connection to ${host}:${port} from ${ns.name}: ${first}`);
  return {
    async ask() {
      child.stdin!.write('ping\n');
      const line = await next();
      if (!line.startsWith('answer ')) throw new Error(`held connection: ${line}`);
      return line.slice('answer '.length);
    },
    close: () => child.kill(),
  };
}

export function stopAll(): void {
  for (const child of started.splice(0)) child.kill();
}

export interface Counters {
  conns: number;
  inPackets: number;
  outPackets: number;
}

/** `ipvsadm -Ln --stats --exact`, keyed "TCP  10.0.0.1:80" / "FWM  10" and "<service> -> 192.168.10.2:80". */
export async function ipvsStats(director: Netns): Promise<Map<string, Counters>> {
  const text = await director.ipvsadm('-Ln', '--stats', '--exact');
  const out = new Map<string, Counters>();
  let service = '';
  for (const line of text.split('\n')) {
    const s = /^(TCP|UDP|SCTP|FWM)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(line);
    if (s) {
      service = `${s[1]}  ${s[2]}`;
      out.set(service, { conns: Number(s[3]), inPackets: Number(s[4]), outPackets: Number(s[5]) });
      continue;
    }
    const d = /^\s+->\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(line);
    if (d && service)
      out.set(`${service} -> ${d[1]}`, {
        conns: Number(d[2]),
        inPackets: Number(d[3]),
        outPackets: Number(d[4]),
      });
  }
  return out;
}

/**
 * The counters of one service or real once `ready` holds: the kernel folds its per-CPU
 * counters into what it reports only every 2 s (the rate estimator's tick), so a read
 * right after the traffic can lag behind.
 */
export async function statsWhen(
  director: Netns,
  key: string,
  ready: (c: Counters) => boolean,
  timeoutMs = 20_000,
): Promise<Counters> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counters = (await ipvsStats(director)).get(key);
    if (counters && ready(counters)) return counters;
    if (Date.now() > deadline)
      throw new Error(
        `${key}: counters ${JSON.stringify(counters)} did not reach the expected values in ${timeoutMs} ms`,
      );
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Counts every packet from `source` that reaches the director (mangle PREROUTING sees
 * everything that arrives, before routing and before IPVS): returns a reader of the count.
 */
export async function countPacketsFrom(
  director: Netns,
  source: string,
): Promise<() => Promise<number>> {
  const tool = source.includes(':') ? 'ip6tables' : 'iptables';
  await director.run([
    tool,
    '-w',
    '-t',
    'mangle',
    '-I',
    'PREROUTING',
    '-s',
    source,
    '-m',
    'comment',
    '--comment',
    'lvsd-proof',
  ]);
  return async () => {
    const text = await director.run([
      tool,
      '-w',
      '-t',
      'mangle',
      '-L',
      'PREROUTING',
      '-v',
      '-n',
      '-x',
    ]);
    const line = text.split('\n').find((l) => l.includes('lvsd-proof'));
    if (!line) throw new Error('the counting rule is gone');
    return Number(line.trim().split(/\s+/)[0]);
  };
}

/**
 * Room for one lvsd run: on an emulated CPU shared with other labs, node's start-up alone
 * can take tens of seconds.
 */
export const CLI = { timeoutMs: 300_000 };

/** Runs `lvsd apply -c <example>` on the director and fails with its output if it does not exit 0. */
export async function applyExample(
  director: Netns,
  example: string,
  stateDir: string,
  extra: string[] = [],
): Promise<string> {
  const result = await director.lvsd(
    ['apply', '-c', example, '--state-dir', stateDir, ...extra],
    CLI,
  );
  if (result.code !== 0)
    throw new Error(
      `lvsd apply -c ${example} exited ${result.code}:\n${result.stdout}\n${result.stderr}`,
    );
  return result.stdout;
}

export type { Lab, Netns };

// ---------------------------------------------------------------------------------------
// Plain helpers without the lab's classes (test/kernel/health.kernel.test.ts uses these).

const execFileAsync = promisify(execFile);

/** Runs a command; resolves with stdout, rejects with a message quoting stderr. */
export async function sh(command: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string; code?: number };
    throw new Error(`${command} ${args.join(' ')} (exit ${e.code}): ${e.stderr || e.message}`);
  }
}

export interface End {
  ns: string;
  ifname: string;
  addresses?: string[];
}

/** Named namespaces "<prefix>-<name>" joined by veth pairs. */
export class Topology {
  private readonly namespaces: string[] = [];

  constructor(private readonly prefix: string) {}

  name(ns: string): string {
    return `${this.prefix}-${ns}`;
  }

  async ns(...names: string[]): Promise<void> {
    for (const name of names) {
      await sh('ip', ['netns', 'add', this.name(name)]);
      this.namespaces.push(this.name(name));
      await sh('ip', ['-n', this.name(name), 'link', 'set', 'lo', 'up']);
    }
  }

  /** A veth pair between two namespaces, both ends up with their addresses ("192.168.10.1/24"). */
  async veth(a: End, b: End): Promise<void> {
    await sh('ip', [
      'link',
      'add',
      'tmp-a',
      'netns',
      this.name(a.ns),
      'type',
      'veth',
      'peer',
      'name',
      'tmp-b',
      'netns',
      this.name(b.ns),
    ]);
    for (const [end, temporary] of [
      [a, 'tmp-a'],
      [b, 'tmp-b'],
    ] as const) {
      const ip = (...args: string[]) => sh('ip', ['-n', this.name(end.ns), ...args]);
      await ip('link', 'set', temporary, 'name', end.ifname);
      for (const address of end.addresses ?? [])
        await ip(
          'addr',
          'add',
          address,
          'dev',
          end.ifname,
          ...(address.includes(':') ? ['nodad'] : []),
        );
      await ip('link', 'set', end.ifname, 'up');
    }
  }

  async destroy(): Promise<void> {
    for (const ns of this.namespaces.reverse())
      await sh('ip', ['netns', 'del', ns]).catch(() => undefined);
  }
}
