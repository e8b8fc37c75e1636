/**
 * Real packets for the fault suite: a small TCP server on each real, a bounded request
 * loop on the client, and a holder of long-lived connections. Each is a plain Node script
 * started in its network namespace (test/lab/topology.ts' Netns.spawn), controlled by
 * signals and read through the lines it prints.
 *
 * The protocol is one line each way: the client sends "GET\n", the real answers with its
 * name ("real3\n") and keeps the connection open; the client then closes it with a reset.
 * A reset, because IPVS keeps a connection closed with FIN in TIME_WAIT for two minutes
 * (a timeout ipvsadm --set cannot change), and lvsd deletes a draining real only when its
 * active and inactive connections are gone: after a reset IPVS keeps the entry 10 s
 * (CLOSE). Same drain logic, a test that does not wait two minutes per real.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Netns } from '../../lab/topology.js';

/**
 * argv: name dataPort healthPort. Data: every line in gets "<name>\n" back. Health: a
 * listener that accepts and closes (what a tcp check needs); SIGUSR1 closes it ("health
 * off"), SIGUSR2 opens it again ("health on"). Prints "ready" once both listen.
 */
const REAL = `
const net = require('node:net');
const [name, dataPort, healthPort] = process.argv.slice(1);
const data = net.createServer((s) => {
  s.on('error', () => {});
  let buf = '';
  s.on('data', (d) => {
    buf += d;
    for (let i; (i = buf.indexOf('\\n')) >= 0; buf = buf.slice(i + 1)) s.write(name + '\\n');
  });
});
let health = null;
const healthOn = (done) => {
  health = net.createServer((s) => { s.on('error', () => {}); s.destroy(); });
  health.listen(Number(healthPort), '0.0.0.0', done);
};
data.listen(Number(dataPort), '0.0.0.0', () => healthOn(() => console.log('ready')));
process.on('SIGUSR1', () => { health.close(() => console.log('health off')); health = null; });
process.on('SIGUSR2', () => healthOn(() => console.log('health on')));
`;

/**
 * argv: host port concurrency maxCount maxMs timeoutMs. Bounded: stops after maxCount
 * requests or maxMs, whichever comes first, or on SIGTERM; requests in flight finish.
 * One line per request: "r <id> <start> <end> <answer or -> <ok or error>", times in ms
 * since the epoch, start taken just before connect(). Last line: "end <count> <why>".
 */
const LOAD = `
const net = require('node:net');
const [host, port, concurrency, maxCount, maxMs, timeoutMs] = process.argv.slice(1);
const t0 = Date.now();
let started = 0;
let why = null;
process.on('SIGTERM', () => { why = why || 'signal'; });
function stop() {
  if (why) return true;
  if (started >= Number(maxCount)) why = 'count';
  else if (Date.now() - t0 >= Number(maxMs)) why = 'time';
  return why !== null;
}
function one() {
  const id = started++;
  const start = Date.now();
  return new Promise((resolve) => {
    const s = net.connect({ host, port: Number(port) });
    let answer = '';
    let done = false;
    const finish = (error) => {
      if (done) return;
      done = true;
      const real = answer.includes('\\n') ? answer.slice(0, answer.indexOf('\\n')) : '-';
      process.stdout.write('r ' + id + ' ' + start + ' ' + Date.now() + ' ' + real + ' ' + (error || 'ok') + '\\n');
      s.resetAndDestroy();
      resolve();
    };
    s.setTimeout(Number(timeoutMs), () => finish('timeout'));
    s.on('connect', () => s.write('GET\\n'));
    s.on('data', (d) => { answer += d; if (answer.includes('\\n')) finish(null); });
    s.on('error', (e) => finish(e.code || e.message));
    s.on('end', () => finish('closed-before-answer'));
  });
}
async function worker() { while (!stop()) await one(); }
Promise.all(Array.from({ length: Number(concurrency) }, worker)).then(() => {
  process.stdout.write('end ' + started + ' ' + why + '\\n', () => process.exit(0));
});
`;

/**
 * argv: host port wanted... Opens connections to host:port until one is held on each wanted
 * real ("held real3"), resetting the others; then "ready". SIGUSR1: each held connection
 * asks again ("ping real3 ok" or "ping real3 <error>"). SIGUSR2: all are reset ("released").
 */
const HOLDER = `
const net = require('node:net');
const [host, port, ...wanted] = process.argv.slice(1);
const held = new Map();
const ask = (s) => new Promise((resolve) => {
  let answer = '';
  const timer = setTimeout(() => resolve('timeout'), 10000);
  const onData = (d) => {
    answer += d;
    if (answer.includes('\\n')) { clearTimeout(timer); s.off('data', onData); resolve(answer.trim()); }
  };
  s.on('data', onData);
  s.once('error', (e) => { clearTimeout(timer); resolve(e.code || e.message); });
  s.write('GET\\n');
});
(async () => {
  for (let i = 0; i < 60 && held.size < wanted.length; i++) {
    const s = net.connect({ host, port: Number(port) });
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
    const real = await ask(s);
    if (wanted.includes(real) && !held.has(real)) { held.set(real, s); console.log('held ' + real); }
    else s.resetAndDestroy();
  }
  console.log(held.size === wanted.length ? 'ready' : 'missing ' + wanted.filter((w) => !held.has(w)).join(','));
})();
process.on('SIGUSR1', async () => {
  for (const [real, s] of held) {
    const got = await ask(s);
    console.log('ping ' + real + ' ' + (got === real ? 'ok' : got));
  }
});
process.on('SIGUSR2', () => {
  for (const s of held.values()) s.resetAndDestroy();
  console.log('released');
  setTimeout(() => process.exit(0), 100);
});
`;

/** A child process whose stdout lines are kept and can be waited for. */
class Script {
  readonly lines: string[] = [];
  private readonly child: ChildProcess;
  private readonly exit: Promise<void>;
  private stderr = '';

  constructor(ns: Netns, source: string, args: readonly string[]) {
    this.child = ns.spawn([process.execPath, '-e', source, ...args]);
    createInterface({ input: this.child.stdout! }).on('line', (l) => this.lines.push(l));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d));
    this.exit = new Promise((r) => this.child.once('close', () => r()));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits for a line matching `pattern` after the first `from` lines. */
  async line(pattern: RegExp, from = 0, timeoutMs = 120_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.slice(from).find((l) => pattern.test(l));
      if (found) return found;
      if (!this.running && this.exitCode !== 0)
        throw new Error(
          `script exited (${this.exitCode}) before ${pattern}: ${this.stderr.trim()}`,
        );
      if (Date.now() > deadline)
        throw new Error(`no line ${pattern} after ${timeoutMs} ms: ${this.lines.slice(-3)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Polls (a timer between looks, so this process keeps reading its pipes) until `check` holds. */
  async until(what: string, check: () => boolean, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  get exitCode(): number | null {
    return this.child.exitCode;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.running) this.child.kill(signal);
    await this.exit;
  }
}

/** The server on one real: answers on dataPort; its health port can be closed and opened. */
export class RealServer {
  private script: Script | null = null;
  constructor(
    readonly ns: Netns,
    readonly name: string,
    readonly dataPort = 80,
    readonly healthPort = 81,
  ) {}

  async start(): Promise<void> {
    this.script = new Script(this.ns, REAL, [
      this.name,
      String(this.dataPort),
      String(this.healthPort),
    ]);
    await this.script.line(/^ready$/);
  }

  async healthOff(): Promise<void> {
    const from = this.script!.lines.length;
    this.script!.signal('SIGUSR1');
    await this.script!.line(/^health off$/, from);
  }

  async healthOn(): Promise<void> {
    const from = this.script!.lines.length;
    this.script!.signal('SIGUSR2');
    await this.script!.line(/^health on$/, from);
  }

  stop(): Promise<void> {
    return this.script?.stop() ?? Promise.resolve();
  }
}

export interface Request {
  id: number;
  start: number;
  end: number;
  /** The real that answered, or "-". */
  real: string;
  /** "ok", or what went wrong (ECONNREFUSED, timeout, ...). */
  result: string;
}

export interface LoadBounds {
  concurrency: number;
  maxCount: number;
  maxMs: number;
  timeoutMs: number;
}

/** The bounded request loop, from the client's namespace to host:port. */
export class Load {
  private readonly script: Script;
  readonly startedAt = Date.now();

  constructor(ns: Netns, host: string, port: number, bounds: LoadBounds) {
    const { concurrency, maxCount, maxMs, timeoutMs } = bounds;
    this.script = new Script(ns, LOAD, [
      host,
      String(port),
      ...[concurrency, maxCount, maxMs, timeoutMs].map(String),
    ]);
  }

  get running(): boolean {
    return this.script.running;
  }

  requests(): Request[] {
    return this.script.lines
      .filter((l) => l.startsWith('r '))
      .map((l) => {
        const [, id, start, end, real, result] = l.split(' ');
        return {
          id: Number(id),
          start: Number(start),
          end: Number(end),
          real: real!,
          result: result!,
        };
      });
  }

  /** Waits until `n` requests have finished. */
  async warm(n: number): Promise<void> {
    await this.script.line(new RegExp(`^r ${n - 1} `), 0);
  }

  /** Stops it (requests in flight finish); why it ended: "signal" unless a bound ran out first. */
  async stop(): Promise<{ requests: Request[]; endedBy: string }> {
    await this.script.stop('SIGTERM');
    const end = this.script.lines.find((l) => l.startsWith('end ')) ?? 'end ? unknown';
    return { requests: this.requests(), endedBy: end.split(' ')[2]! };
  }
}

/** Long-lived connections through the VIP, one on each wanted real. */
export class Holder {
  private readonly script: Script;

  constructor(ns: Netns, host: string, port: number, wanted: readonly string[]) {
    this.script = new Script(ns, HOLDER, [host, String(port), ...wanted]);
  }

  async ready(): Promise<void> {
    const line = await this.script.line(/^(ready|missing .*)$/);
    if (line !== 'ready') throw new Error(`holder: ${line}`);
  }

  /** Each held connection asks once more: real -> "ok" or the error. */
  async ping(): Promise<Record<string, string>> {
    const from = this.script.lines.length;
    const held = this.script.lines.filter((l) => l.startsWith('held ')).length;
    this.script.signal('SIGUSR1');
    const answers = () => this.script.lines.slice(from).filter((l) => l.startsWith('ping '));
    await this.script.until('an answer on every held connection', () => answers().length >= held);
    return Object.fromEntries(answers().map((l) => l.split(' ').slice(1, 3) as [string, string]));
  }

  /** Resets every held connection; resolves with the time it did. */
  async release(): Promise<number> {
    const from = this.script.lines.length;
    this.script.signal('SIGUSR2');
    await this.script.line(/^released$/, from);
    return Date.now();
  }

  stop(): Promise<void> {
    return this.script.stop('SIGKILL');
  }
}
