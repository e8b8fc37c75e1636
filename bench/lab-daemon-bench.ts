/**
 * The daemons side by side in the kernel lab (issue 15): keepalived and `lvsd run` on the
 * same tables, in one VM, one after the other, each in a fresh network namespace (its own
 * IPVS table), each measured from outside by the same code: the kernel's table read from
 * /proc/net/ip_vs, CPU and RSS from /proc/PID of the daemon and its children, checks counted
 * by the listener that answers them.
 *
 * - checks (tcp, then http; lvsd with its check worker, then with every check in process):
 *   100 x 10 reals on their own addresses on lo, one listener on port 8080 for all of them
 *   (nginx, one worker; DBENCH_LISTENER=node: a Node listener, as in runs before 2026-12-07),
 *   checks every 1 s (keepalived `TCP_CHECK` / `HTTP_GET` with `retry 1`, lvsd `fall: 2`:
 *   two failed tries each, then out). Printed: start until every real is in the kernel; CPU
 *   per check, checks/s and RSS over a steady window; the listener stopped: until every real
 *   is out (weight 0 or gone); back: until every real is in again.
 * - reload: 1000 x 10 without checks: start until the 10,000 dests are in (initial
 *   programming), then three one-weight edits, each reloaded by SIGHUP (keepalived's way;
 *   lvsd with --no-watch) and timed until the kernel shows the weight; RSS after each.
 *
 * Each side starts on a quiet VM (waitQuiet: the kernel's teardown of the namespace before
 * runs in its own workers), and the steady window also prints the CPU of the listener and of
 * everything else in the VM, so a side starved by something else shows it.
 *
 * Run in the lab as root (it creates and deletes the namespaces dbench-*):
 *   npm run build && npm run bench:build
 *   bash test/lab/run.sh --name dbench --timeout 3600 node dist-bench/bench/lab-daemon-bench.js [STEADY_S] [quick|full]
 *     [tcp-cpu|check-cpu]
 * (`quick`: a tenth of each table, to try the bench itself; `tcp-cpu`: only the tcp checks'
 * steady window, keepalived beside lvsd's tcp check through epoll and through net.Socket;
 * `check-cpu`: the steady window only, keepalived beside lvsd, tcp checks then http).
 * lvsd runs with its systemd unit's NODE_OPTIONS (packaging/lvsd.service).
 * Environment: DBENCH_CASES=reload runs only the reload case (a comma list of tcp, http,
 * reload; default all); DBENCH_LVSD_NODE_ARGS adds flags to lvsd's node (e.g.
 * `--cpu-prof --cpu-prof-dir=lab-out/x` to see where a reload's time goes); DBENCH_LVSD_ARGS
 * adds arguments to `lvsd run` (e.g. `--log-level debug`: a line per pass); DBENCH_SIDES
 * picks the lvsd sides of the check cases (default lvsd,lvsd-inprocess; also lvsd-node and
 * lvsd-before, which runs the build in DBENCH_BEFORE, e.g. main's, beside this one, with
 * DBENCH_BEFORE_NODE_ARGS added to its node's flags and DBENCH_BEFORE_LVSD_ARGS to its
 * `lvsd run`: the same build twice, with and without a V8 flag or an option such as
 * `--check-workers 2`, is a same-run comparison of it);
 * DBENCH_KEEP=DIR keeps each lvsd side's log and the mass failure's marks there (see keep());
 * DBENCH_FAILURES=N repeats the mass failure and its recovery N times, each side alike
 * (see FAILURES); DBENCH_FALL=N makes it `fall: N` and `retry N-1` (default 2);
 * DBENCH_DRIFT_INTERVAL=2s sets lvsd's `reconcile.drift_interval` (default
 * 30s): a short one puts drift checks, whole-table reads, inside every failure and recovery.
 */
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const WORK = '/tmp/lvsd-dbench';
const PORT = 8080;
const HTTP_OK = 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n';
const POLL_MS = 100;
const WAIT_MS = Number(process.env.DBENCH_WAIT_MS ?? 300_000);
const TICKS = 100; // USER_HZ: /proc/PID/stat counts CPU in 1/100 s.
const QUIET_MAX_S = 120;

/**
 * lvsd with its default check worker (tcp checks through epoll), with the worker making tcp
 * checks through net.Socket (--tcp-checks node), and with every check in process
 * (--check-workers 0).
 */
type Side = 'keepalived' | 'lvsd' | 'lvsd-node' | 'lvsd-inprocess' | 'lvsd-before';
const LVSD_SIDES: readonly Side[] = ['lvsd', 'lvsd-node', 'lvsd-inprocess', 'lvsd-before'];
/** lvsd-before: another build of lvsd (a checkout of main, built), run the same way as lvsd. */
const BEFORE = process.env.DBENCH_BEFORE ?? '';
/** lvsd's `fall` (keepalived's `retry` is one less: as many tries in all); DBENCH_FALL. */
const FALL = Math.max(1, Number(process.env.DBENCH_FALL ?? 2));
type CheckKind = 'tcp' | 'http';
interface Table {
  services: number;
  reals: number;
  /** Each real on its own local address (checks), or one pool behind every VIP (reload). */
  localReals: boolean;
  check: CheckKind | null;
}

const vip = (i: number) => `10.200.${Math.floor(i / 250)}.${(i % 250) + 1}`;
function real(t: Table, i: number, j: number): string {
  const k = t.localReals ? i * t.reals + j : j;
  return t.localReals
    ? `10.100.${Math.floor(k / 250)}.${(k % 250) + 1}`
    : `192.168.${Math.floor(k / 250)}.${(k % 250) + 1}`;
}

// ---------------------------------------------------------------------------------------
// The two configs of one table: the same services, reals, weights and check timing.

function lvsdYaml(t: Table, weight: (i: number, j: number) => number): string {
  const check =
    t.check === 'tcp'
      ? `    check: { type: tcp, interval: 1s, timeout: 900ms, rise: 1, fall: ${FALL} }`
      : t.check === 'http'
        ? `    check: { type: http, path: /, status: [200], interval: 1s, timeout: 900ms, rise: 1, fall: ${FALL} }`
        : null;
  const lines = process.env.DBENCH_DRIFT_INTERVAL
    ? ['reconcile:', `  drift_interval: ${process.env.DBENCH_DRIFT_INTERVAL}`, 'services:']
    : ['services:'];
  for (let i = 0; i < t.services; i++) {
    lines.push(
      `  s${i}:`,
      `    address: ${vip(i)}:80`,
      '    scheduler: wlc',
      '    forwarding: nat',
    );
    if (check) lines.push(check);
    lines.push('    reals:');
    for (let j = 0; j < t.reals; j++)
      lines.push(`      - { address: ${real(t, i, j)}:${PORT}, weight: ${weight(i, j)} }`);
  }
  return `${lines.join('\n')}\n`;
}

function keepalivedConf(t: Table, weight: (i: number, j: number) => number): string {
  const check =
    t.check === 'tcp'
      ? ['TCP_CHECK {', '  connect_timeout 1', `  retry ${FALL - 1}`, '  delay_before_retry 1', '}']
      : t.check === 'http'
        ? [
            'HTTP_GET {',
            '  url { path / status_code 200 }',
            '  connect_timeout 1',
            `  retry ${FALL - 1}`,
            '  delay_before_retry 1',
            '}',
          ]
        : [];
  const lines: string[] = [];
  for (let i = 0; i < t.services; i++) {
    lines.push(`virtual_server ${vip(i)} 80 {`, '  delay_loop 1', '  lb_algo wlc', '  lb_kind NAT');
    lines.push('  protocol TCP');
    for (let j = 0; j < t.reals; j++) {
      lines.push(`  real_server ${real(t, i, j)} ${PORT} {`, `    weight ${weight(i, j)}`);
      for (const l of check) lines.push(`    ${l}`);
      lines.push('  }');
    }
    lines.push('}');
  }
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------
// Reading the kernel and the processes.

/** Dests of this namespace's table: how many in all, and how many take new connections. */
function dests(): { all: number; serving: number } {
  const text = readFileSync('/proc/net/ip_vs', 'utf8');
  let all = 0;
  let serving = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('  ->') || line.startsWith('  -> RemoteAddress')) continue;
    all++;
    if (Number(line.split(/\s+/)[4]) > 0) serving++;
  }
  return { all, serving };
}

const hex = (address: string, port: number) =>
  `${address
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('')
    .toUpperCase()}:${port.toString(16).toUpperCase().padStart(4, '0')}`;

/** The weight the kernel has for one dest of one service (null: absent). */
function weightOf(service: string, dest: string): number | null {
  const text = readFileSync('/proc/net/ip_vs', 'utf8');
  const at = text.indexOf(`TCP  ${hex(service, 80)} `);
  if (at < 0) return null;
  const next = text.indexOf('\nTCP  ', at + 1);
  const block = text.slice(at, next < 0 ? undefined : next);
  const line = block.split('\n').find((l) => l.startsWith(`  -> ${hex(dest, PORT)} `));
  return line ? Number(line.trim().split(/\s+/)[3]) : null;
}

/** lvsd's reload and pass lines, on stderr: where a reload's time went. */
function logEnd(side: Side, log: string): void {
  if (side === 'keepalived') return;
  const wanted = /"event":"(config_changed|config_reloaded|reconcile|signal)"/;
  const lines = readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => wanted.test(l));
  note(`lvsd's reloads and passes (last 12 of ${lines.length}):\n${lines.slice(-12).join('\n')}`);
  // Reals that went down while the listener was up: checks that failed (timeouts, resets).
  const downs = readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"event":"health.transition"') && l.includes('"to":"down"'));
  note(`lvsd's transitions to down: ${downs.length}${downs.length ? `, first: ${downs[0]}` : ''}`);
}

/**
 * DBENCH_KEEP=DIR: the daemon's log and the bench's marks (epoch ms: listener stopped, all
 * out, listener started, all in) kept as DIR/SIDE-KIND.log and .json, for
 * bench/mass-timeline.ts to put the passes and transitions on the same clock.
 */
function keep(side: Side, kind: string, log: string, marks: Record<string, number>): void {
  const dir = process.env.DBENCH_KEEP;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/${side}-${kind}.json`, JSON.stringify(marks));
  writeFileSync(`${dir}/${side}-${kind}.log`, readFileSync(log));
}

/**
 * The fields of a /proc stat line after the command name (which may hold spaces and
 * parentheses): [0] state, [1] parent, [11] user and [12] system CPU in ticks.
 */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The process and all its descendants. */
function tree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(statFields(stat)[1]));
    } catch {
      // gone
    }
  }
  const pids = [root];
  for (let k = 0; k < pids.length; k++)
    for (const [pid, ppid] of parent) if (ppid === pids[k]) pids.push(pid);
  return pids;
}

/** CPU seconds (user + system) of the tree, and its resident memory in MiB. */
function usage(root: number): { cpu: number; user: number; rssMiB: number } {
  let ticks = 0;
  let userTicks = 0;
  let rssKiB = 0;
  for (const pid of tree(root)) {
    try {
      const fields = statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      ticks += Number(fields[11]) + Number(fields[12]);
      userTicks += Number(fields[11]);
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      rssKiB += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return { cpu: ticks / TICKS, user: userTicks / TICKS, rssMiB: Math.round(rssKiB / 1024) };
}

/** The VM's CPU time in use, all CPUs, in seconds (/proc/stat: all but idle and iowait). */
function vmBusy(): number {
  const fields =
    readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1) ?? [];
  const ticks = fields.map(Number);
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - (ticks[3] ?? 0) - (ticks[4] ?? 0)) / TICKS;
}

/**
 * Waits until the VM is quiet (under a tenth of a core busy over a second, at most
 * QUIET_MAX_S): the kernel tears a deleted namespace down in its own workers, and the side
 * before's teardown (a thousand addresses, its IPVS table) must not take the CPU of the
 * side that follows. Returns the seconds waited.
 */
function waitQuiet(): number {
  const started = Date.now();
  for (;;) {
    const busy = vmBusy();
    execFileSync('sleep', ['1']);
    if (vmBusy() - busy < 0.1 || Date.now() - started > QUIET_MAX_S * 1000)
      return Math.round((Date.now() - started) / 1000);
  }
}

/** SYNs the listener dropped (its accept queue full): /proc/net/netstat of this namespace. */
function listenDrops(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
  const at = lines.findIndex((l) => l.startsWith('TcpExt:'));
  const names = lines[at]?.split(' ') ?? [];
  const values = lines[at + 1]?.split(' ') ?? [];
  return Number(values[names.indexOf('ListenDrops')] ?? 0);
}

async function until(
  what: string,
  check: () => boolean,
  log: string,
  timeoutMs = WAIT_MS,
): Promise<number | null> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) {
      const tail = readFileSync(log, 'utf8').split('\n').slice(-15).join('\n');
      note(
        `${what}: not within ${timeoutMs / 1000} s (${JSON.stringify(dests())}); log ends:\n${tail}`,
      );
      return null;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const ms = Date.now() - started;
  note(`${what}: ${ms} ms`);
  return ms;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Progress on stderr (the figures go to stdout). */
const note = (line: string) => process.stderr.write(`lab-daemon-bench: ${line}\n`);

/** lvsd runs with the NODE_OPTIONS of its systemd unit, as in production (a smaller young generation). */
const UNIT_NODE_OPTIONS =
  /^Environment=NODE_OPTIONS=(.*)$/m.exec(
    readFileSync(new URL('../../packaging/lvsd.service', import.meta.url), 'utf8'),
  )?.[1] ?? '';

const KEEPALIVED =
  ['/usr/sbin/keepalived', '/sbin/keepalived'].find((p) => existsSync(p)) ?? 'keepalived';

// ---------------------------------------------------------------------------------------
// One side, inside its namespace.

function startDaemon(
  side: Side,
  config: string,
  dir: string,
  t: Table,
  weight: Weight,
): ChildProcess {
  // Both log as in production (keepalived to its console, lvsd at info level), into a file
  // whose end is shown when a wait times out.
  const log = openSync(`${dir}/daemon.log`, 'w');
  if (side === 'keepalived') {
    writeFileSync(config, keepalivedConf(t, weight));
    return spawn(
      KEEPALIVED,
      [
        '-n',
        '-C',
        '-f',
        config,
        '-p',
        `${dir}/ka.pid`,
        '-c',
        `${dir}/ka-checkers.pid`,
        '-r',
        `${dir}/ka-vrrp.pid`,
        '-l',
      ],
      { stdio: ['ignore', log, log] },
    );
  }
  writeFileSync(config, lvsdYaml(t, weight));
  const bin = side === 'lvsd-before' ? `${BEFORE}/bin/lvsd.js` : 'bin/lvsd.js';
  const args = [bin, 'run', '-c', config, '--state-dir', `${dir}/state`, '--no-watch'];
  args.push(...(process.env.DBENCH_LVSD_ARGS ?? '').split(' ').filter(Boolean));
  if (side === 'lvsd-inprocess') args.push('--check-workers', '0');
  if (side === 'lvsd-node') args.push('--tcp-checks', 'node');
  if (side === 'lvsd-before')
    args.push(...(process.env.DBENCH_BEFORE_LVSD_ARGS ?? '').split(' ').filter(Boolean));
  const nodeArgs = (process.env.DBENCH_LVSD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  if (side === 'lvsd-before')
    nodeArgs.push(...(process.env.DBENCH_BEFORE_NODE_ARGS ?? '').split(' ').filter(Boolean));
  return spawn(process.execPath, [...nodeArgs, ...args, '--http', '127.0.0.1:9390'], {
    stdio: ['ignore', log, log],
    env: { ...process.env, NODE_OPTIONS: UNIT_NODE_OPTIONS },
  });
}

type Weight = (i: number, j: number) => number;
const ONE: Weight = () => 1;

async function stopDaemon(daemon: ChildProcess): Promise<void> {
  const exited = new Promise((r) => daemon.once('exit', r));
  daemon.kill('SIGTERM');
  await Promise.race([exited, sleep(30_000)]);
  daemon.kill('SIGKILL');
  execFileSync('ipvsadm', ['-C']);
}

type Figures = Record<string, number | null>;

/**
 * DBENCH_FAILURES=N: the listener stops and starts again N times, FAILURE_GAP_MS apart,
 * each reported. The first failure runs code the daemon has not run since it started; the
 * later ones show what the same failure costs once that code has run.
 */
const FAILURES = Math.max(1, Number(process.env.DBENCH_FAILURES ?? 1));
const FAILURE_GAP_MS = 10_000;
const failKey = (name: string, n: number) => (n === 1 ? name : `${name}${n}`);

async function checksCase(
  side: Side,
  kind: CheckKind,
  services: number,
  steadyS: number,
  cpuOnly: boolean,
): Promise<Figures> {
  const t: Table = { services, reals: 10, localReals: true, check: kind };
  const total = t.services * t.reals;
  const batch = [];
  for (let i = 0; i < t.services; i++)
    for (let j = 0; j < t.reals; j++) batch.push(`addr add ${real(t, i, j)}/32 dev lo`);
  execFileSync('ip', ['-batch', '-'], { input: `${batch.join('\n')}\n` });
  const listener = fork(SELF, ['--listener', kind], { stdio: 'ignore' });
  const ask = (message: string) =>
    new Promise<number>((resolve) => {
      listener.once('message', (m) => resolve(Number(m)));
      listener.send(message);
    });
  await ask('start');
  const dir = `${WORK}/${side}-${kind}`;
  mkdirSync(dir, { recursive: true });
  const daemon = startDaemon(side, `${dir}/config`, dir, t, ONE);
  const pid = daemon.pid as number;
  const log = `${dir}/daemon.log`;
  const startMs = await until(`${side} ${kind}: start`, () => dests().serving === total, log);
  await sleep(5000);
  const sample = async () => ({
    threads: threadTimes(pid),
    ...usage(pid),
    accepts: await ask('count'),
    at: Date.now(),
    drops: listenDrops(),
    listener: usage(listener.pid as number).cpu,
    vm: vmBusy(),
  });
  const before = await sample();
  await sleep(steadyS * 1000);
  const after = await sample();
  const seconds = (after.at - before.at) / 1000;
  const checks = after.accepts - before.accepts;
  note(
    `${side} ${kind}: CPU per check by thread, us (user): ${byThread(before.threads, after.threads, checks)}`,
  );
  await syscallsPerCheck(side, kind, pid, () => ask('count'));
  const failures: Figures = {};
  if (!cpuOnly) {
    for (let n = 1; n <= FAILURES; n++) {
      // Later failures find the daemon's failure path run once already (see FAILURES).
      if (n > 1) await sleep(FAILURE_GAP_MS);
      const which = n > 1 ? ` (failure ${n})` : '';
      const marks: Record<string, number> = { stopAt: Date.now() };
      await ask('stop');
      failures[failKey('failMs', n)] = await until(
        `${side} ${kind}: all out${which}`,
        () => dests().serving === 0,
        log,
      );
      marks.outAt = Date.now();
      marks.startAt = Date.now();
      await ask('start');
      failures[failKey('recoverMs', n)] = await until(
        `${side} ${kind}: all in${which}`,
        () => dests().serving === total,
        log,
      );
      marks.inAt = Date.now();
      if (n === 1) keep(side, kind, log, marks);
    }
  }
  const end = usage(pid);
  await stopDaemon(daemon);
  listener.kill();
  logEnd(side, log);
  return {
    startMs,
    checksPerS: Math.round(checks / seconds),
    cpuShare: Math.round((100 * (after.cpu - before.cpu)) / seconds) / 100,
    usPerCheck: checks ? Math.round(((after.cpu - before.cpu) * 1e6) / checks) : null,
    userUsPerCheck: checks ? Math.round(((after.user - before.user) * 1e6) / checks) : null,
    rssMiB: after.rssMiB,
    listenDrops: after.drops - before.drops,
    listenerShare: Math.round((100 * (after.listener - before.listener)) / seconds) / 100,
    otherShare:
      Math.round(
        (100 *
          (after.vm - before.vm - (after.cpu - before.cpu) - (after.listener - before.listener))) /
          seconds,
      ) / 100,
    failMs: null,
    recoverMs: null,
    ...failures,
    rssEndMiB: end.rssMiB,
  };
}

/**
 * CPU ticks (user, system) of every thread of the daemon's processes, by thread: its name,
 * "main" for a process's first thread, and its id (Node names none of its threads).
 */
function threadTimes(root: number): Map<string, { user: number; system: number }> {
  const times = new Map<string, { user: number; system: number }>();
  for (const pid of tree(root)) {
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const name = `${comm}${tid === String(pid) ? ' main' : ''} ${tid}`;
        const fields = statFields(stat);
        times.set(name, { user: Number(fields[11]), system: Number(fields[12]) });
      } catch {
        // gone
      }
    }
  }
  return times;
}

/** The window's CPU per check of each thread name, busiest first: "name total (user)". */
function byThread(
  before: Map<string, { user: number; system: number }>,
  after: Map<string, { user: number; system: number }>,
  checks: number,
): string {
  const us = (ticks: number) => Math.round(((ticks / TICKS) * 1e6) / Math.max(checks, 1));
  return [...after]
    .map(([name, t]) => {
      const b = before.get(name) ?? { user: 0, system: 0 };
      return { name, user: us(t.user - b.user), total: us(t.user - b.user + t.system - b.system) };
    })
    .filter((t) => t.total > 0)
    .sort((a, b) => b.total - a.total)
    .map((t) => `${t.name} ${t.total} (${t.user})`)
    .join(', ');
}

/**
 * DBENCH_STRACE_S=N: after the steady window, the daemon's system calls (all its threads
 * and children) counted by `strace -c -f` for N seconds, per check done meanwhile, on
 * stderr. strace slows the daemon down, so the counts per check are the figure, not time.
 */
async function syscallsPerCheck(
  side: Side,
  kind: CheckKind,
  pid: number,
  count: () => Promise<number>,
): Promise<void> {
  const seconds = Number(process.env.DBENCH_STRACE_S ?? 0);
  if (!seconds) return;
  const out = `${WORK}/${side}-${kind}.strace`;
  const first = await count();
  // Every process of the daemon (keepalived's checker is a child), each with its threads.
  const pids = tree(pid).flatMap((each) => ['-p', String(each)]);
  const strace = spawn('strace', ['-c', '-f', '-o', out, ...pids], { stdio: 'ignore' });
  await sleep(seconds * 1000);
  const checks = (await count()) - first;
  const exited = new Promise((r) => strace.once('exit', r));
  strace.kill('SIGINT');
  await exited;
  const rows = readFileSync(out, 'utf8')
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length >= 5 && /^\d/.test(f[0] as string) && f[f.length - 1] !== 'total');
  const perCheck = rows
    .map((f) => {
      const calls = Number(f[3]);
      return `${f[f.length - 1]} ${(calls / Math.max(checks, 1)).toFixed(2)}`;
    })
    .join(', ');
  note(`${side} ${kind}: system calls per check (${checks} checks under strace): ${perCheck}`);
}

async function reloadCase(side: Side, services: number): Promise<Figures> {
  const t: Table = { services, reals: 10, localReals: false, check: null };
  const dir = `${WORK}/${side}-reload`;
  mkdirSync(dir, { recursive: true });
  const config = `${dir}/config`;
  const daemon = startDaemon(side, config, dir, t, ONE);
  const pid = daemon.pid as number;
  const figures: Figures = {};
  const log = `${dir}/daemon.log`;
  figures.programMs = await until(
    `${side}: programmed`,
    () => dests().all === t.services * t.reals,
    log,
  );
  await sleep(3000);
  figures.rssMiB = usage(pid).rssMiB;
  for (const edit of [1, 2, 3]) {
    // The middle service's sixth real gets weight 1 + edit: one line of the file.
    const edited = Math.floor(services / 2);
    const weight: Weight = (i, j) => (i === edited && j === 5 ? 1 + edit : 1);
    const text = side === 'keepalived' ? keepalivedConf(t, weight) : lvsdYaml(t, weight);
    writeFileSync(`${config}.new`, text);
    execFileSync('mv', [`${config}.new`, config]);
    daemon.kill('SIGHUP');
    figures[`reload${edit}Ms`] = await until(
      `${side}: reload ${edit}`,
      () => weightOf(vip(edited), real(t, edited, 5)) === 1 + edit,
      log,
    );
    await sleep(2000);
    figures[`rssAfterReload${edit}MiB`] = usage(pid).rssMiB;
  }
  await stopDaemon(daemon);
  logEnd(side, log);
  return figures;
}

// ---------------------------------------------------------------------------------------
// The listener: accepts on every address of port 8080; counts connections. nginx when the
// VM has it (DBENCH_LISTENER=node for the Node listener of earlier runs): under emulation a
// Node listener takes 0.9 of the VM's 2 CPUs at 1000 connections a second, so it set the
// pace, and a checker that asked it more than it could take saw its own checks time out.
// Real servers are not one process for a thousand reals; nginx takes a fraction of that.

const NGINX = '/usr/sbin/nginx';
const STATUS_PORT = 8081;

function listen(kind: CheckKind): void {
  const useNginx = process.env.DBENCH_LISTENER !== 'node' && existsSync(NGINX);
  const server = useNginx ? nginxListener() : nodeListener(kind);
  process.on('message', async (message) => {
    if (message === 'start') await server.start();
    if (message === 'stop') await server.stop();
    process.send?.(await server.count());
  });
  // The bench ends a side with SIGTERM: nginx, started with `daemon off`, goes with it.
  process.on('SIGTERM', () => {
    server.kill();
    process.exit(0);
  });
}

interface Listener {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Connections accepted since the bench began (across restarts). */
  count(): Promise<number>;
  kill(): void;
}

function nodeListener(kind: CheckKind): Listener {
  let accepts = 0;
  let server: net.Server | null = null;
  return {
    start: () =>
      new Promise<void>((resolve) => {
        if (server) return resolve();
        // Both kinds answer from a plain TCP server: Node's http module costs the emulated
        // CPU enough that the listener, not the checkers, would set the pace.
        server = net.createServer((socket) => {
          socket.on('error', () => socket.destroy());
          socket.on('end', () => socket.destroy());
          if (kind === 'http') socket.once('data', () => socket.end(HTTP_OK));
        });
        server.on('connection', () => accepts++);
        server.listen({ port: PORT, host: '0.0.0.0', backlog: 4096 }, resolve);
      }),
    stop: async () => {
      server?.close();
      server = null;
    },
    count: async () => accepts,
    kill: () => server?.close(),
  };
}

/** One nginx worker: 200 "ok" to any request, connections closed after it; stub_status on 127.0.0.1:8081. */
function nginxConf(dir: string): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log error;
events { worker_connections 8192; multi_accept on; accept_mutex off; }
http {
  access_log off;
  keepalive_timeout 0;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen ${PORT} backlog=4096;
    location / { return 200 "ok\\n"; }
  }
  server {
    listen 127.0.0.1:${STATUS_PORT};
    location / { stub_status; }
  }
}
`;
}

/** GET / on a local port, one connection of its own (a refused connect rejects). */
function getText(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = net.connect({ port, host: '127.0.0.1' }, () =>
      socket.write('GET / HTTP/1.0\r\n\r\n'),
    );
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

function nginxListener(): Listener {
  const dir = `${WORK}/nginx`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/nginx.conf`, nginxConf(dir));
  let nginx: ChildProcess | null = null;
  // Accepts of the nginx runs before this one, and the status requests themselves.
  let before = 0;
  let asked = 0;
  const status = async (): Promise<number> => {
    const text = await getText(STATUS_PORT);
    asked++;
    // "Active connections: 1 \nserver accepts handled requests\n 12 12 12 \n..."
    return Number(/\n\s*(\d+) \d+ \d+/.exec(text)?.[1] ?? 0);
  };
  const running = async () => (nginx ? status() : 0);
  return {
    async start() {
      if (nginx) return;
      nginx = spawn(
        NGINX,
        ['-e', `${dir}/error.log`, '-c', `${dir}/nginx.conf`, '-g', 'daemon off;'],
        {
          stdio: 'ignore',
        },
      );
      for (let i = 0; i < 100; i++) {
        try {
          await status();
          return;
        } catch {
          await sleep(50);
        }
      }
      throw new Error(`nginx did not start: ${readFileSync(`${dir}/error.log`, 'utf8')}`);
    },
    async stop() {
      if (!nginx) return;
      before += await running();
      const exited = new Promise((r) => nginx?.once('exit', r));
      nginx.kill('SIGTERM');
      await exited;
      nginx = null;
    },
    async count() {
      return before + (await running()) - asked;
    },
    kill: () => nginx?.kill('SIGTERM'),
  };
}

// ---------------------------------------------------------------------------------------
// The driver: each case in a fresh namespace, both sides, then the table of ratios.

function inNamespace(
  side: Side,
  run: string,
  services: number,
  steadyS: number,
  cpuOnly = false,
): Figures {
  const ns = `dbench-${side}`;
  const quietS = waitQuiet();
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const out = execFileSync(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        SELF,
        '--side',
        side,
        run,
        String(services),
        String(steadyS),
        cpuOnly ? 'cpu' : 'all',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 },
    );
    return { ...(JSON.parse(out.trim().split('\n').at(-1) as string) as Figures), quietS };
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
}

/** One table: each side's figure, and each lvsd's ratio to keepalived's. */
function print(
  title: string,
  rows: Array<[string, string]>,
  sides: Array<[string, Figures]>,
): void {
  const [, ka] = sides[0] as [string, Figures];
  const others = sides.slice(1);
  console.log(`\n${title}`);
  const head = [...sides.map(([name]) => name), ...others.map(([name]) => `${name} / keepalived`)];
  console.log(`| figure | ${head.join(' | ')} |\n|${' --- |'.repeat(head.length + 1)}`);
  const show = (v: number | null) => (v === null ? `> ${WAIT_MS / 1000} s` : String(v));
  for (const [key, label] of rows) {
    const a = ka[key] ?? null;
    const values = sides.map(([, f]) => show(f[key] ?? null));
    const ratios = others.map(([, f]) => {
      const b = f[key] ?? null;
      return a && b !== null ? (b / a).toFixed(2) : '-';
    });
    console.log(`| ${label} | ${[...values, ...ratios].join(' | ')} |`);
  }
}

/** The rows of a steady window: what CPU per check is read against. */
function steadyRows(services: number): Array<[string, string]> {
  return [
    ['startMs', `start until all ${services * 10} reals serve (ms)`],
    ['checksPerS', `checks done per second (${services * 10} asked)`],
    ['cpuShare', 'CPU (cores) over the steady window'],
    ['usPerCheck', 'CPU per check (us)'],
    ['userUsPerCheck', 'of which user (us; the rest is system)'],
    ['rssMiB', 'RSS in the steady window (MiB)'],
    ['listenDrops', 'SYNs the listener dropped in the window (its queue full)'],
    ['listenerShare', "the listener's CPU (cores) over the window"],
    ['otherShare', 'the rest of the VM (cores: the bench, kernel workers) over the window'],
    ['quietS', 'seconds waited for a quiet VM before this side'],
  ];
}

/**
 * Steady windows only, side by side in one run: `tcp-cpu` is keepalived and lvsd's tcp
 * check through epoll and through net.Socket; `check-cpu` is keepalived and lvsd (check
 * worker, tcp through epoll), tcp then http checks.
 */
function steadyCpu(mode: 'tcp-cpu' | 'check-cpu', steadyS: number, services: number): void {
  console.log(
    `lab-daemon-bench ${mode}: ${new Date().toISOString()}, load average ${readFileSync('/proc/loadavg', 'utf8')}`,
  );
  const kinds = mode === 'tcp-cpu' ? (['tcp'] as const) : (['tcp', 'http'] as const);
  const sideNames =
    mode === 'tcp-cpu'
      ? (['keepalived', 'lvsd', 'lvsd-node'] as const)
      : (['keepalived', 'lvsd'] as const);
  for (const kind of kinds) {
    const sides = sideNames.map((side): [string, Figures] => [
      side,
      inNamespace(side, kind, services, steadyS, true),
    ]);
    const paths =
      mode === 'tcp-cpu' ? ' (lvsd: tcp through epoll; lvsd-node: --tcp-checks node)' : '';
    print(
      `${kind} checks, ${services} x 10 reals, every 1 s, ${steadyS} s steady window${paths}:`,
      steadyRows(services),
      sides,
    );
  }
  console.log(`\nload average at the end ${readFileSync('/proc/loadavg', 'utf8')}`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--listener') return listen(args[1] as CheckKind);
  if (args[0] === '--side') {
    const [, side, run, services, steady, what] = args as [
      string,
      Side,
      string,
      string,
      string,
      string,
    ];
    rmSync(WORK, { recursive: true, force: true });
    const figures =
      run === 'reload'
        ? await reloadCase(side, Number(services))
        : await checksCase(
            side,
            run as CheckKind,
            Number(services),
            Number(steady),
            what === 'cpu',
          );
    console.log(JSON.stringify(figures));
    return;
  }
  const steadyS = Number(args[0] ?? 20);
  // `quick`: a tenth of the tables, to try the bench itself.
  const scale = args[1] === 'quick' ? 10 : 1;
  // `tcp-cpu`, `check-cpu`: steady windows only (steadyCpu).
  if (args[2] === 'tcp-cpu' || args[2] === 'check-cpu')
    return steadyCpu(args[2], steadyS, 100 / scale);
  const checked = 100 / scale;
  const reloaded = 1000 / scale;
  console.log(
    `lab-daemon-bench: ${new Date().toISOString()}, lvsd with NODE_OPTIONS=${UNIT_NODE_OPTIONS}, ` +
      `load average ${readFileSync('/proc/loadavg', 'utf8')}`,
  );
  const checkRows: Array<[string, string]> = [
    ...steadyRows(checked),
    ['failMs', `listener stopped until all ${checked * 10} out (ms)`],
    ['recoverMs', `listener back until all ${checked * 10} in (ms)`],
  ];
  for (let n = 2; n <= FAILURES; n++)
    checkRows.push(
      [failKey('failMs', n), `the same, failure ${n}: all out (ms)`],
      [failKey('recoverMs', n), `the same, failure ${n}: all in (ms)`],
    );
  const cases = (process.env.DBENCH_CASES ?? 'tcp,http,reload').split(',');
  for (const kind of (['tcp', 'http'] as const).filter((k) => cases.includes(k))) {
    const sides = checkSides().map((side): [string, Figures] => [
      side,
      inNamespace(side, kind, checked, steadyS),
    ]);
    print(
      `${kind} checks, ${checked} x 10 reals, every 1 s, ${steadyS} s steady window:`,
      checkRows,
      sides,
    );
  }
  if (cases.includes('reload')) reloadTable(reloaded, steadyS);
  console.log(`\nload average at the end ${readFileSync('/proc/loadavg', 'utf8')}`);
}

/** DBENCH_SIDES: keepalived first, then the lvsd sides asked (default lvsd, lvsd-inprocess). */
function checkSides(): Side[] {
  const asked = (process.env.DBENCH_SIDES ?? 'lvsd,lvsd-inprocess').split(',') as Side[];
  for (const side of asked)
    if (!LVSD_SIDES.includes(side)) throw new Error(`DBENCH_SIDES: no side ${side}`);
  if (asked.includes('lvsd-before') && !existsSync(`${BEFORE}/bin/lvsd.js`))
    throw new Error('lvsd-before needs DBENCH_BEFORE=DIR, a built checkout of lvsd');
  return ['keepalived', ...asked];
}

function reloadTable(reloaded: number, steadyS: number): void {
  const sides = (['keepalived', 'lvsd'] as const).map((side): [string, Figures] => [
    side,
    inNamespace(side, 'reload', reloaded, steadyS),
  ]);
  print(
    `reloads, ${reloaded} x 10 without checks, one weight edited and SIGHUP:`,
    [
      ['programMs', `start until the ${reloaded * 10} dests are in (ms)`],
      ['rssMiB', 'RSS after start (MiB)'],
      ['reload1Ms', 'reload 1 until the kernel shows it (ms)'],
      ['reload2Ms', 'reload 2 (ms)'],
      ['reload3Ms', 'reload 3 (ms)'],
      ['rssAfterReload3MiB', 'RSS after 3 reloads (MiB)'],
    ],
    sides,
  );
}

await main();
