/**
 * What a tcp check's socket costs (issue 15): the connector's connects against a loopback
 * listener, each reset as the check resets it, two ways in the same process, rounds
 * alternating: `kept` (the default: the reset is a connect() to AF_UNSPEC and the socket
 * serves the next connect) and `closed` (idleMax 0: SO_LINGER 0 and close(), a socket()
 * for every check, as before). CPU of this process per check; the listener, a child
 * process that accepts and drops each connection, is not counted.
 *
 * Run: npm run bench:build && node dist-bench/bench/tcp-reset.js [SECONDS] [CHECKS_PER_S] [ROUNDS]
 * (default 5 s a round, 1000 checks a second in ticks of 10 ms as the scheduler makes them,
 * 3 rounds each way). No root needed.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { TcpConnector } from '../src/ffi/tcp-connect.js';
import { sockaddrOf } from '../src/health/checkers/tcp-epoll.js';

const SECONDS = Number(process.argv[2] ?? 5);
const RATE = Number(process.argv[3] ?? 1000);
const ROUNDS = Number(process.argv[4] ?? 3);
const TICK_MS = 10;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function listener(): Promise<{ port: number; stop: () => void }> {
  const code = `const s = require('net').createServer((c) => { c.on('error', () => {}); c.destroy(); });
    s.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => console.log(s.address().port));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  return { port: Number(line.toString().trim()), stop: () => child.kill() };
}

interface Round {
  checks: number;
  failed: number;
  userUs: number;
  systemUs: number;
  socketsMade: number;
}

/** RATE checks a second for SECONDS, in ticks; resolves once every connect has answered. */
async function round(connector: TcpConnector, to: Buffer): Promise<Round> {
  const perTick = Math.max(1, Math.round((RATE * TICK_MS) / 1000));
  const made = connector.socketsMade;
  let checks = 0;
  let failed = 0;
  let answered = 0;
  const done = (errno: number) => {
    answered++;
    if (errno !== 0) failed++;
  };
  const cpu = process.cpuUsage();
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < perTick; i++, checks++) connector.connect(to, null, done);
    await sleep(TICK_MS);
  }
  while (answered < checks) await sleep(1);
  const used = process.cpuUsage(cpu);
  return {
    checks,
    failed,
    userUs: used.user / checks,
    systemUs: used.system / checks,
    socketsMade: connector.socketsMade - made,
  };
}

async function main(): Promise<void> {
  const { port, stop } = await listener();
  const to = sockaddrOf('127.0.0.1', port);
  const ways = { kept: new TcpConnector(), closed: new TcpConnector({ idleMax: 0 }) };
  console.log(
    `tcp-reset: ${RATE} checks a second for ${SECONDS} s a round, loopback, node ${process.version}`,
  );
  try {
    for (let r = 0; r < ROUNDS; r++)
      for (const [name, connector] of Object.entries(ways)) {
        const result = await round(connector, to);
        const cpu = result.userUs + result.systemUs;
        console.log(
          `${name.padEnd(6)} round ${r + 1}: ${cpu.toFixed(1)} us CPU a check ` +
            `(user ${result.userUs.toFixed(1)}, system ${result.systemUs.toFixed(1)}), ` +
            `${result.checks} checks, ${result.failed} failed, ${result.socketsMade} sockets made`,
        );
      }
  } finally {
    for (const connector of Object.values(ways)) connector.close();
    stop();
  }
}

await main();
