/**
 * What waiting costs a tcp check (issue 15): reals that never answer (a filtered port: the
 * check times out) beside reals that answer, through the check worker with tcp through
 * epoll and through net.Socket, in the same run. A connect across a veth pair, as on
 * loopback, is done by the time connect() returns; one to a dropped address waits in the
 * worker's epoll set until its timeout, while the worker's timer harvests the set (1 ms
 * after a connect went pending, then up to every 8 ms): the cost of waiting is there.
 * The reals are in a namespace of this bench's own (its names start with tcpep-b).
 *
 * Run as root: npm run bench:build && node dist-bench/bench/tcp-wait.js [SECONDS] [CHECKS]
 * (default 10 s, 1000 checks each way, interval 1 s, timeout 900 ms).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { CheckConfig } from '../src/config/check.js';
import { InProcessRunner } from '../src/health/runner.js';
import { CheckWorkerPool, type TcpPath } from '../src/health/worker-pool.js';

const NS = 'tcpep-bench';
const HOST_IF = 'tcpep-bh';
const NS_IF = 'tcpep-bn';
const HOST_V4 = '198.51.100.73';
const NS_V4 = '198.51.100.74';
/** Routed into the namespace, which drops it: checks there time out. */
const DROPPED_V4 = '198.51.100.88';
const PORT = 8080;
const SECONDS = Number(process.argv[2] ?? 10);
const CHECKS = Number(process.argv[3] ?? 1000);

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function cleanup(): void {
  for (const args of [
    ['netns', 'del', NS],
    ['link', 'del', HOST_IF],
  ])
    try {
      ip(...args);
    } catch {
      // not there
    }
}

function setUp(): ChildProcess {
  cleanup();
  ip('netns', 'add', NS);
  ip('link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF, 'netns', NS);
  ip('addr', 'add', `${HOST_V4}/29`, 'dev', HOST_IF);
  ip('link', 'set', HOST_IF, 'up');
  ip('-n', NS, 'link', 'set', 'lo', 'up');
  ip('-n', NS, 'addr', 'add', `${NS_V4}/29`, 'dev', NS_IF);
  ip('-n', NS, 'link', 'set', NS_IF, 'up');
  execFileSync('ip', ['netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  ip('-n', NS, 'route', 'add', 'blackhole', `${DROPPED_V4}/32`);
  ip('route', 'add', `${DROPPED_V4}/32`, 'via', NS_V4, 'dev', HOST_IF);
  const code = `require('net').createServer((s) => { s.on('error', () => {}); s.destroy(); })
    .listen({ port: ${PORT}, backlog: 4096 }, () => console.log('ready'));`;
  return spawn('ip', ['netns', 'exec', NS, process.execPath, '-e', code], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

interface Row {
  what: string;
  path: TcpPath;
  checksPerS: number;
  failed: number;
  usPerCheck: number;
}

async function measure(what: string, address: string, path: TcpPath): Promise<Row> {
  const pool = new CheckWorkerPool({ workers: 1, local: new InProcessRunner(), tcpPath: path });
  let done = 0;
  let failed = 0;
  const config = CheckConfig.parse({ type: 'tcp' });
  for (let i = 0; i < CHECKS; i++)
    pool.add({
      config,
      target: {
        service: 's',
        realId: `${address}:${PORT}#${i}`,
        address,
        port: PORT,
        realAddress: address,
        realPort: PORT,
        vip: '10.0.0.1',
        vport: 80,
      },
      intervalMs: 1000,
      timeoutMs: 900,
      onResult: (r) => {
        done++;
        if (!r.ok) failed++;
      },
      onInvalid: (m) => console.error(m),
    });
  await sleep(3000);
  done = 0;
  failed = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(SECONDS * 1000);
  const cpu = process.cpuUsage(cpu0);
  const wall = (performance.now() - t0) / 1000;
  const row = {
    what,
    path,
    checksPerS: done / wall,
    failed,
    usPerCheck: (cpu.user + cpu.system) / Math.max(done, 1),
  };
  await pool.stop();
  return row;
}

let listener: ChildProcess | undefined;
try {
  listener = setUp();
  await sleep(1000);
  const rows: Row[] = [];
  for (const [what, address] of [
    ['answered (across a veth pair)', NS_V4],
    ['dropped (timeout 900 ms)', DROPPED_V4],
  ] as const)
    for (const path of ['node', 'epoll', 'node', 'epoll'] as const)
      rows.push(await measure(what, address, path));
  console.log(`\n${CHECKS} tcp checks every 1 s on one check worker, ${SECONDS} s windows:`);
  console.log('| reals | tcp path | checks/s | failed | CPU per check (whole process) |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of rows)
    console.log(
      `| ${r.what} | ${r.path === 'node' ? 'net.Socket' : 'epoll'} | ${r.checksPerS.toFixed(0)} | ` +
        `${r.failed} | ${r.usPerCheck.toFixed(0)} us |`,
    );
} finally {
  listener?.kill('SIGKILL');
  cleanup();
}
