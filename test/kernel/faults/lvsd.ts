/**
 * What the fault suite's kernel files share: lvsd as a child process (`node bin/lvsd.js`,
 * as systemd or an operator would start it), ipvsadm as the independent reader of the
 * table, /metrics as the daemon's own account, and the `fault-suite:` lines every test
 * prints its figures on (collected into bench/results/).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { rename, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { waitUntil } from '../../lab/wait.js';

const exec = promisify(execFile);

/** One figure of the fault suite, on its own line: `fault-suite: <text>`. */
export function figure(text: string): void {
  console.log(`fault-suite: ${text}`);
}

export async function ipvsadm(...args: string[]): Promise<string> {
  const { stdout } = await exec('ipvsadm', args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** `ipvsadm -Sn`, one rule a line, sorted: the whole table for before / after comparisons. */
export async function rules(): Promise<string[]> {
  return (await ipvsadm('-Sn')).split('\n').filter(Boolean).sort();
}

/** The first lines where two sorted rule lists differ, for a readable failure. */
export function ruleDiff(want: readonly string[], got: readonly string[], max = 8): string {
  const a = new Set(want);
  const b = new Set(got);
  const missing = want.filter((r) => !b.has(r));
  const extra = got.filter((r) => !a.has(r));
  const show = (sign: string, list: string[]) =>
    list
      .slice(0, max)
      .map((r) => `${sign} ${r}`)
      .concat(list.length > max ? [`${sign} ... ${list.length - max} more`] : []);
  return [...show('-', missing), ...show('+', extra)].join('\n');
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 60_000,
  pollMs = 50,
) {
  return waitUntil(what, check, { timeoutMs, pollMs });
}

/**
 * Replaces a file the way a deploy tool does: the new text written beside it under a name
 * the watcher ignores, then renamed over it (one atomic step; readers see old or new).
 */
export async function replaceFile(path: string, bytes: Buffer | string): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.new`);
  await writeFile(temporary, bytes);
  await rename(temporary, path);
}

/** A one-shot lvsd command (apply, plan, ...): exit code, output, wall time. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Starts `node bin/lvsd.js ARGS`; `done` resolves when it exits. */
export function startCli(args: readonly string[]): {
  child: ChildProcess;
  startedAt: number;
  done: Promise<CliResult>;
} {
  const startedAt = Date.now();
  const child = spawn(process.execPath, ['bin/lvsd.js', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const done = new Promise<CliResult>((resolve) =>
    child.once('close', (code, signal) =>
      resolve({ code, signal, stdout, stderr, ms: Date.now() - startedAt }),
    ),
  );
  return { child, startedAt, done };
}

export function lvsd(args: readonly string[]): Promise<CliResult> {
  return startCli(args).done;
}

/** `lvsd run` as a child process, its JSON log lines collected (or only counted, for big tables). */
export class Daemon {
  readonly lines: Array<Record<string, unknown>> = [];
  lineCount = 0;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly startedAt = Date.now();
  private buffer = '';

  constructor(
    args: readonly string[],
    private readonly options: { keepLines?: boolean } = {},
  ) {
    this.child = spawn(process.execPath, ['bin/lvsd.js', 'run', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (chunk: Buffer) => this.take(String(chunk)));
    this.child.stderr!.on('data', (chunk: Buffer) =>
      process.stderr.write(`[lvsd stderr] ${chunk}`),
    );
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  events(name: string, from = 0): Array<Record<string, unknown>> {
    return this.lines.slice(from).filter((l) => l.event === name);
  }

  /** Waits for /healthz 200 (the first pass done); fails at once if the daemon exits. */
  async ready(port: number, timeoutMs = 300_000): Promise<number> {
    await waitFor(
      '/healthz 200',
      async () => {
        if (!this.running) throw new Error(`lvsd exited: ${this.tail()}`);
        return (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200;
      },
      timeoutMs,
      100,
    );
    return Date.now() - this.startedAt;
  }

  async stop(
    signal: NodeJS.Signals = 'SIGTERM',
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }

  tail(n = 5): string {
    return this.lines
      .slice(-n)
      .map((l) => JSON.stringify(l))
      .join('\n');
  }

  private take(text: string): void {
    this.buffer += text;
    const parts = this.buffer.split('\n');
    this.buffer = parts.pop() ?? '';
    for (const line of parts) {
      if (!line.trim()) continue;
      this.lineCount++;
      if (this.options.keepLines === false) continue;
      try {
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        process.stderr.write(`[lvsd stdout] ${line}\n`);
      }
    }
  }
}

/** The Prometheus text of a daemon's /metrics, one series a key ("name{labels}" -> value). */
export async function scrape(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    series.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return series;
}

/** The sum of every series of one metric (all label sets; 0 when it has none yet). */
export function total(series: Map<string, number>, name: string): number {
  let sum = 0;
  for (const [key, value] of series) if (key === name || key.startsWith(`${name}{`)) sum += value;
  return sum;
}
