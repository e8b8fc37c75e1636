/**
 * SIGKILL in the middle of a big apply (the fault suite's first part): `lvsd apply` or
 * `lvsd run` is started on 1000 services x 10 reals, killed at a chosen moment, and a
 * plain `lvsd apply` then has to finish the job. Used by faults-kill-apply and
 * faults-kill-run, one kind of process each.
 *
 * When to kill: a clean run is measured first (how long until its first kernel write, seen
 * in /proc/net/ip_vs, and how long its writes take). A kill in start-up lands at a fraction
 * of the time to the first write. A kill during the writes lands once a given share of the
 * 1000 services is in the kernel, counted by polling a services-only dump (the writes take
 * a second or two, and their speed varies too much from run to run under emulation for a
 * timer to aim within them). A kill "after" waits for lvsd run's pass to be logged: the
 * daemon at rest. What each kill actually left (how much of the table, the state file, the lock)
 * is read back and printed. A kill lands between two batches of 256 operations: the kernel
 * finishes the sendmsg it is in before the process dies.
 *
 * After each kill: the restart exits 0 (the killed process's lock, left behind, is stale
 * and taken over: a live holder would make it fail after 10 s), writes exactly what was
 * missing, the table is the config's to the rule (`ipvsadm -Sn` against the rules the
 * generator makes for ipvsadm-restore), a foreign service added with ipvsadm is untouched,
 * the state file is valid and lists the 1000 services, and a second apply writes nothing.
 */
import { mkdir, mkdtemp, open, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipvsadmRules, vipOf, VIP_PORT, yamlTable } from '../../../bench/reconcile-generate.js';
import { openIpvs } from '../../../src/ipvs/index.js';
import { ReconcileStateSchema } from '../../../src/reconcile/state.js';
import {
  Daemon,
  figure,
  ipvsadm,
  lvsd,
  ruleDiff,
  rules,
  sleep,
  startCli,
  waitFor,
} from './lvsd.js';

export type KillKind = 'apply' | 'run';

export const SHAPE = { services: 1000, destsPerService: 10 };
const OBJECTS = SHAPE.services * (1 + SHAPE.destsPerService);

/** A service lvsd did not make and must leave alone (ipvsadm's own, with a real of weight 3). */
const FOREIGN = { service: '10.250.0.1:53', real: '192.168.250.2:53' };
const FOREIGN_RULES = [
  `-A -t ${FOREIGN.service} -s sh`,
  `-a -t ${FOREIGN.service} -r ${FOREIGN.real} -m -w 3`,
];
/** How /proc/net/ip_vs writes it: address and port in hex. */
const FOREIGN_HEX = '0AFA0001:0035';

export interface KillSetup {
  config: string;
  stateDir: string;
  /** ipvsadm -Sn of the config plus the foreign service, sorted. */
  expected: string[];
  owned: string[];
}

/**
 * Where a kill is aimed: in start-up (a fraction of the time to the first write), at a share
 * of the services during the writes, or at rest after the pass (lvsd run).
 */
export type KillPoint = { phase: 'start-up' | 'writes' | 'after'; fraction: number };

/** The measured run. */
export interface Timing {
  /** From spawn to the first write seen in the kernel. */
  firstWriteMs: number;
  /** From the first write seen to the state file written. */
  windowMs: number;
}

export async function killSetup(): Promise<KillSetup> {
  const dir = await mkdtemp(join(tmpdir(), 'lvsd-faults-kill-'));
  const config = join(dir, 'config', 'lvsd.yaml');
  await mkdir(join(dir, 'config'));
  await writeFile(config, yamlTable(SHAPE));
  const generated = ipvsadmRules(SHAPE).split('\n').filter(Boolean);
  return {
    config,
    stateDir: join(dir, 'state'),
    expected: [...generated, ...FOREIGN_RULES].sort(),
    owned: Array.from({ length: SHAPE.services }, (_, i) => `TCP ${vipOf(i)}:${VIP_PORT}`).sort(),
  };
}

/** An empty table but for the foreign service. */
export async function resetTable(): Promise<void> {
  await ipvsadm('-C');
  await ipvsadm('-A', '-t', FOREIGN.service, '-s', 'sh');
  await ipvsadm('-a', '-t', FOREIGN.service, '-r', FOREIGN.real, '-m', '-w', '3');
}

const SERVICE_LINE = /^(TCP|UDP|SCTP|FWM) /;

/** True once the table holds a service besides the foreign one (the first page of /proc/net/ip_vs is enough). */
async function managedSeen(): Promise<boolean> {
  const file = await open('/proc/net/ip_vs', 'r');
  try {
    const page = Buffer.alloc(4096);
    const { bytesRead } = await file.read(page, 0, page.length, 0);
    return page
      .toString('latin1', 0, bytesRead)
      .split('\n')
      .some((l) => SERVICE_LINE.test(l) && !l.includes(FOREIGN_HEX));
  } finally {
    await file.close();
  }
}

/** What lvsd put in the table: its services and their reals (the foreign service not counted). */
async function managedCounts(): Promise<{ services: number; reals: number }> {
  let services = 0;
  let reals = 0;
  let foreign = false;
  for (const line of (await readFile('/proc/net/ip_vs', 'latin1')).split('\n')) {
    if (SERVICE_LINE.test(line)) {
      foreign = line.includes(FOREIGN_HEX);
      if (!foreign) services++;
    } else if (line.startsWith('  -> ') && !line.includes('RemoteAddress') && !foreign) reals++;
  }
  return { services, reals };
}

interface Running {
  kind: KillKind;
  pid: number;
  startedAt: number;
  alive: () => boolean;
  kill: (signal: NodeJS.Signals) => void;
  exited: Promise<unknown>;
  /** Lines it has printed (lvsd run logs one per kernel write, after the pass has saved its state). */
  lines: () => number;
}

function start(kind: KillKind, setup: KillSetup): Running {
  const common = ['-c', setup.config, '--state-dir', setup.stateDir];
  if (kind === 'apply') {
    const cli = startCli(['apply', ...common, '--json']);
    return {
      kind,
      pid: cli.child.pid!,
      startedAt: cli.startedAt,
      alive: () => cli.child.exitCode === null && cli.child.signalCode === null,
      kill: (s) => cli.child.kill(s),
      exited: cli.done,
      lines: () => 0,
    };
  }
  // Info level, as in production: one line per kernel write (11,000), counted, not kept.
  const daemon = new Daemon([...common, '--no-http', '--reload-debounce', '200ms'], {
    keepLines: false,
  });
  return {
    kind,
    pid: daemon.child.pid!,
    startedAt: daemon.startedAt,
    alive: () => daemon.running,
    kill: (s) => daemon.child.kill(s),
    exited: daemon.exited,
    lines: () => daemon.lineCount,
  };
}

/** ms from start to the first kernel write seen, or null if the process ended first. */
async function firstWrite(run: Running): Promise<number | null> {
  while (run.alive()) {
    if (await managedSeen()) return Date.now() - run.startedAt;
    await sleep(10);
  }
  return (await managedSeen()) ? Date.now() - run.startedAt : null;
}

/** Waits until `target` services besides the foreign one are in the kernel (or the process has ended). */
async function servicesAtLeast(run: Running, target: number): Promise<void> {
  const client = await openIpvs();
  try {
    while (run.alive() && (await client.listServices({ stats: false })).length - 1 < target)
      await sleep(5);
  } finally {
    await client.close();
  }
}

const stateFile = (setup: KillSetup) => join(setup.stateDir, 'state.json');

async function stateWrittenSince(setup: KillSetup, since: number): Promise<boolean> {
  const info = await stat(stateFile(setup)).catch(() => null);
  return info !== null && info.mtimeMs >= since;
}

/** A clean run of this kind from an empty table: when it writes first, and how fast. */
export async function measure(kind: KillKind, setup: KillSetup): Promise<Timing> {
  await resetTable();
  const run = start(kind, setup);
  const first = await firstWrite(run);
  if (first === null) throw new Error(`lvsd ${kind} ended before writing anything`);
  await waitFor(
    'the state file written',
    () => stateWrittenSince(setup, run.startedAt),
    600_000,
    20,
  );
  const windowMs = Date.now() - run.startedAt - first;
  if (kind === 'run') run.kill('SIGTERM');
  await run.exited;
  const got = await rules();
  expect(got, ruleDiff(setup.expected, got)).toEqual(setup.expected);
  figure(
    `measured lvsd ${kind} of ${SHAPE.services} x ${SHAPE.destsPerService}: first write ` +
      `${first} ms after start, writes until the state file ${windowMs} ms`,
  );
  return { firstWriteMs: first, windowMs };
}

/** The state file as the kill left it: absent, or valid (never half written). */
async function stateAfterKill(setup: KillSetup): Promise<string> {
  const text = await readFile(stateFile(setup), 'utf8').catch(() => null);
  if (text === null) return 'absent';
  const parsed = ReconcileStateSchema.safeParse(JSON.parse(text));
  expect(parsed.success, `state.json after the kill:\n${text.slice(0, 300)}`).toBe(true);
  return `valid (${parsed.data!.owned.length} owned)`;
}

async function lockPid(setup: KillSetup): Promise<number | null> {
  const text = await readFile(join(setup.stateDir, 'lock'), 'utf8').catch(() => null);
  return text === null ? null : Number.parseInt(text, 10);
}

export interface RoundResult {
  /** start-up (nothing written), writes (part of the table), after (all of it). */
  landed: 'start-up' | 'writes' | 'after';
  staleLock: boolean;
  restartWrites: number;
}

/** One kill at `point`, then the restart and every check; prints the round's figures. */
export async function killRound(
  kind: KillKind,
  label: string,
  point: KillPoint,
  timing: Timing,
  setup: KillSetup,
): Promise<RoundResult> {
  await resetTable();
  const run = start(kind, setup);
  let aim: string;
  if (point.phase === 'start-up') {
    await sleep(point.fraction * timing.firstWriteMs);
    aim = `${Math.round(point.fraction * 100)}% of the way to its first write`;
  } else if (point.phase === 'writes') {
    await servicesAtLeast(run, Math.ceil(point.fraction * SHAPE.services));
    aim = `once ${Math.round(point.fraction * 100)}% of the services were in`;
  } else {
    // The state file is not written again when it already says the same: the daemon's
    // 11,000 kernel_write lines, logged once the pass is done, say it is at rest.
    await waitFor('the pass logged', () => run.lines() >= OBJECTS, 600_000, 20);
    aim = 'at rest after its first pass';
  }
  const wasAlive = run.alive();
  const killedAt = Date.now() - run.startedAt;
  run.kill('SIGKILL');
  await run.exited;

  const left = await managedCounts();
  const holder = await lockPid(setup);
  const state = await stateAfterKill(setup);
  const landed =
    left.services === 0 ? 'start-up' : left.services + left.reals < OBJECTS ? 'writes' : 'after';
  const staleLock = holder === run.pid;

  const restart = await lvsd([
    'apply',
    '-c',
    setup.config,
    '--state-dir',
    setup.stateDir,
    '--json',
  ]);
  expect(restart.code, restart.stderr).toBe(0);
  expect(restart.stderr).not.toMatch(/another lvsd/);
  const restartWrites = (JSON.parse(restart.stdout) as { writes: number }).writes;
  // The smallest change: what the kill left is kept, only what is missing is written.
  expect(restartWrites).toBe(OBJECTS - left.services - left.reals);
  const got = await rules();
  expect(got, ruleDiff(setup.expected, got)).toEqual(setup.expected);
  const saved = ReconcileStateSchema.parse(JSON.parse(await readFile(stateFile(setup), 'utf8')));
  expect([...saved.owned].sort()).toEqual(setup.owned);
  expect(saved.draining).toEqual({});
  const second = await lvsd(['apply', '-c', setup.config, '--state-dir', setup.stateDir, '--json']);
  expect(second.code, second.stderr).toBe(0);
  expect((JSON.parse(second.stdout) as { writes: number }).writes).toBe(0);
  expect(await lockPid(setup)).toBeNull();

  figure(
    `kill ${kind} ${label}: aimed ${aim}, SIGKILL ${killedAt} ms after start` +
      `${wasAlive ? '' : ' (it had already exited)'}; it left ${left.services}/${SHAPE.services} services ` +
      `and ${left.reals}/${SHAPE.services * SHAPE.destsPerService} reals, state.json ${state}, ` +
      `${staleLock ? `its lock (pid ${run.pid})` : holder === null ? 'no lock' : `lock of pid ${holder}`}; ` +
      `restart (lvsd apply) exit 0 in ${restart.ms} ms, ${restartWrites} writes (what was missing); ` +
      `table = config + foreign service (${got.length} rules); state.json valid, ${saved.owned.length} owned; ` +
      `second apply 0 writes in ${second.ms} ms`,
  );
  return { landed, staleLock, restartWrites };
}

/**
 * Ten kills in all. lvsd apply: five across its writes (a kill before it writes proves
 * little: it holds no lock yet). lvsd run: one in start-up, with its lock taken and nothing
 * written, three across its writes, and one at rest after its pass.
 */
export const KILL_POINTS: Record<KillKind, KillPoint[]> = {
  apply: [0.05, 0.3, 0.55, 0.8, 0.98].map((fraction) => ({ phase: 'writes', fraction })),
  run: [
    { phase: 'start-up', fraction: 0.7 },
    { phase: 'writes', fraction: 0.15 },
    { phase: 'writes', fraction: 0.5 },
    { phase: 'writes', fraction: 0.9 },
    { phase: 'after', fraction: 1 },
  ],
};

export function summarize(kind: KillKind, results: readonly RoundResult[]): void {
  const count = (landed: RoundResult['landed']) =>
    results.filter((r) => r.landed === landed).length;
  figure(
    `kill ${kind} summary: ${results.length} SIGKILLs survived (${count('start-up')} before any write, ` +
      `${count('writes')} with part of the table written, ${count('after')} after all of it), ` +
      `${results.filter((r) => r.staleLock).length} stale locks taken over, ` +
      `${results.reduce((n, r) => n + r.restartWrites, 0)} writes by the restarts`,
  );
}

/** Each round runs lvsd three times on 11,000 objects: minutes when the lab's host is busy. */
const ROUND_TIMEOUT_MS = 900_000;

/** The kill file of one kind: a measured clean run, then one test per kill point. */
export function describeKills(kind: KillKind): void {
  describe.skipIf(process.env.LVSD_LAB !== '1')(`fault suite: SIGKILL of lvsd ${kind}`, () => {
    let setup: KillSetup;
    let timing: Timing;
    const results: RoundResult[] = [];
    const points = KILL_POINTS[kind];

    beforeAll(async () => {
      setup = await killSetup();
      timing = await measure(kind, setup);
    }, ROUND_TIMEOUT_MS);

    afterAll(async () => {
      if (results.length) summarize(kind, results);
      await ipvsadm('-C');
    });

    for (const [i, point] of points.entries()) {
      it(
        `kill ${i + 1} of ${points.length} (${point.phase}, ${point.fraction}): a plain apply converges`,
        async () => {
          results.push(await killRound(kind, `${i + 1}/${points.length}`, point, timing, setup));
        },
        ROUND_TIMEOUT_MS,
      );
    }
  });
}
