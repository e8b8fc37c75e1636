/**
 * Fresh IPVS tables for the lab benchmarks (issue 21). IPVS state is per network namespace,
 * and a flushed table is not a clean one: `ipvsadm -C` moves every dest into the
 * namespace's dest trash for two to three minutes, and the kernel walks that list on every
 * dest added (ip_vs_trash_get_dest), so a write after a flush costs O(trash) per dest,
 * whoever sends it. So each side of a write figure gets a namespace of its own, created for
 * it; they are deleted at the end, so their teardown is not timed.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MAX_BUFFER = 256 * 1024 * 1024;

export async function sh(command: string): Promise<string> {
  const { stdout } = await run('bash', ['-c', command], { maxBuffer: MAX_BUFFER });
  return stdout;
}

/** Wall, user and system time (ms) of one side's run. */
export interface Times {
  wall: number;
  user: number;
  system: number;
}

/** Times of a shell command as bash's `time` sees them (its output discarded). */
export async function timeShell(command: string): Promise<Times> {
  const { stderr } = await run(
    'bash',
    ['-c', `TIMEFORMAT='%3R %3U %3S'; time { ${command} ; } >/dev/null`],
    { maxBuffer: MAX_BUFFER },
  );
  const [wall, user, system] = (stderr.trim().split('\n').pop() ?? '').split(' ').map(Number);
  if (![wall, user, system].every((n) => Number.isFinite(n)))
    throw new Error(`cannot read the time of "${command}": ${stderr}`);
  return { wall: wall! * 1000, user: user! * 1000, system: system! * 1000 };
}

/** Namespaces made by this process, each with an empty IPVS table and an empty dest trash. */
export class FreshTables {
  private readonly made: string[] = [];

  constructor(private readonly prefix: string) {}

  /** A new namespace with loopback up (without a local address the kernel refuses every real). */
  async create(label: string): Promise<string> {
    const name = `${this.prefix}-${label}`;
    await sh(`ip netns add ${name} && ip -n ${name} link set lo up`);
    this.made.push(name);
    return name;
  }

  /** A shell command run inside the namespace. */
  static inside(ns: string, command: string): string {
    return `ip netns exec ${ns} bash -c ${JSON.stringify(command)}`;
  }

  async deleteAll(): Promise<void> {
    for (const name of this.made.splice(0)) await sh(`ip netns del ${name}`).catch(() => {});
  }
}

/** `ipvsadm -Sn` in the namespace must list exactly `rules`, or the figure is not printed. */
export async function expectRules(ns: string, rules: string, what: string): Promise<void> {
  const sorted = (text: string) =>
    text
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .sort();
  const saved = sorted(await sh(FreshTables.inside(ns, 'ipvsadm -Sn')));
  const wanted = sorted(rules);
  if (saved.length !== wanted.length || saved.some((line, i) => line !== wanted[i])) {
    const missing = wanted.filter((l) => !saved.includes(l)).slice(0, 3);
    throw new Error(
      `${what}: ipvsadm -Sn shows ${saved.length} lines, expected ${wanted.length}; e.g. missing ` +
        `${JSON.stringify(missing)}`,
    );
  }
}

/** Runs bench/kernel-child.js inside the namespace and returns what it prints (one JSON). */
export async function inChild<T>(ns: string, args: string[]): Promise<T> {
  const child = new URL('./kernel-child.js', import.meta.url).pathname;
  const { stdout } = await run('ip', ['netns', 'exec', ns, process.execPath, child, ...args], {
    maxBuffer: MAX_BUFFER,
  });
  return JSON.parse(stdout) as T;
}
