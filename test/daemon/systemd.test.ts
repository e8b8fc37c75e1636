/**
 * Readiness and the watchdog for a Type=notify unit: nothing without NOTIFY_SOCKET;
 * READY=1 once the daemon's first pass has converged (and not before, saying why in
 * STATUS=); WATCHDOG=1 at a third of WATCHDOG_USEC. Then the real systemd-notify against a
 * stand-in for systemd's socket, and runDaemon sending READY=1 after its first pass.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { runDaemon } from '../../src/daemon/index.js';
import {
  type NotifyDeps,
  notifySystemd,
  runSystemdNotify,
  watchdogPeriod,
} from '../../src/daemon/systemd.js';
import { FakeIpvs } from '../../src/ipvs/fake.js';
import { missing } from '../packaging/helpers.js';
import { memoryLogger, testLoader, waitFor } from './helpers.js';

function recorder(env: NodeJS.ProcessEnv, fail = false) {
  const sent: string[][] = [];
  const deps: NotifyDeps = {
    env,
    pid: 4242,
    pollMs: 5,
    send: async (args) => {
      sent.push([...args]);
      if (fail) throw new Error('systemd-notify: not found');
    },
  };
  return { sent, deps };
}

const healthy = { healthy: () => ({ ok: true, reason: 'ok' }) };
const stops: Array<() => void> = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

describe('notifySystemd', () => {
  it('does nothing when systemd did not ask (no NOTIFY_SOCKET)', () => {
    const { sent, deps } = recorder({ WATCHDOG_USEC: '30000' });
    expect(notifySystemd(healthy, memoryLogger().logger, deps)).toBeNull();
    expect(sent).toEqual([]);
  });

  it('sends READY=1 with a status once the daemon is healthy, and only once', async () => {
    const { sent, deps } = recorder({ NOTIFY_SOCKET: '/run/systemd/notify' });
    const { logger, lines } = memoryLogger();
    const notifier = notifySystemd(healthy, logger, deps)!;
    stops.push(notifier.stop);
    await notifier.ready;
    await new Promise((r) => setTimeout(r, 30));
    expect(sent).toEqual([['--ready', expect.stringMatching(/^--status=converged/)]]);
    expect(lines.map((l) => l.event)).toContain('systemd_ready');
  });

  it('waits for the first pass: says why it is not ready, then READY=1 when it is', async () => {
    let health = { ok: false, reason: 'starting: the first reconcile pass has not finished' };
    const { sent, deps } = recorder({ NOTIFY_SOCKET: '@notify' });
    const notifier = notifySystemd({ healthy: () => health }, memoryLogger().logger, deps)!;
    stops.push(notifier.stop);
    await waitFor('the status', () => sent.length === 1);
    await new Promise((r) => setTimeout(r, 30));
    // Said once, not at every look.
    expect(sent).toEqual([
      ['--status=not ready: starting: the first reconcile pass has not finished'],
    ]);
    health = { ok: true, reason: 'ok' };
    await notifier.ready;
    expect(sent.at(-1)?.[0]).toBe('--ready');
  });

  it('feeds the watchdog at a third of WATCHDOG_USEC until stopped', async () => {
    const { sent, deps } = recorder({ NOTIFY_SOCKET: '@notify', WATCHDOG_USEC: '30000' });
    const notifier = notifySystemd(healthy, memoryLogger().logger, deps)!;
    await waitFor('three pings', () => sent.filter((a) => a[0] === 'WATCHDOG=1').length >= 3);
    notifier.stop();
    const count = sent.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(sent.length).toBe(count);
  });

  it('watchdogPeriod: a third of WATCHDOG_USEC, for this process only', () => {
    expect(watchdogPeriod({ WATCHDOG_USEC: '30000000' }, 7)).toBe(10_000);
    expect(watchdogPeriod({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 7)).toBe(10_000);
    expect(watchdogPeriod({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '8' }, 7)).toBeNull();
    expect(watchdogPeriod({}, 7)).toBeNull();
    expect(watchdogPeriod({ WATCHDOG_USEC: 'soon' }, 7)).toBeNull();
  });

  it('warns once when systemd-notify fails, and keeps trying', async () => {
    const { sent, deps } = recorder({ NOTIFY_SOCKET: '@notify' }, true);
    const { logger, lines } = memoryLogger();
    const notifier = notifySystemd(healthy, logger, deps)!;
    stops.push(notifier.stop);
    await waitFor('three attempts', () => sent.length >= 3);
    const warnings = lines.filter((l) => l.event === 'systemd_notify_failed');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ what: 'ready', error: 'systemd-notify: not found' });
  });
});

/** A stand-in for systemd's notification socket: prints each datagram as one line. */
const LISTENER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    print(s.recv(65536).decode().replace("\\n", "|"), flush=True)
`;

async function listen(): Promise<{ path: string; messages: string[]; child: ChildProcess }> {
  const path = join(await mkdtemp(join(tmpdir(), 'lvsd-notify-')), 'notify');
  const child = spawn('python3', ['-c', LISTENER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => messages.push(line));
  await waitFor('the listener', () => messages.includes('listening'));
  return { path, messages, child };
}

describe('with systemd-notify', () => {
  const skip = missing('systemd-notify', 'python3');
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) child.kill();
  });

  it.skipIf(skip)(`delivers READY=1, STATUS= and WATCHDOG=1 to the socket ${skip}`, async () => {
    const socket = await listen();
    children.push(socket.child);
    const env = { ...process.env, NOTIFY_SOCKET: socket.path };
    await runSystemdNotify(['--ready', '--status=converged'], env);
    await runSystemdNotify(['WATCHDOG=1'], env);
    // systemd-notify waits for systemd to read each message (BARRIER=1 after it).
    await waitFor('the messages', () => socket.messages.length >= 5);
    expect(socket.messages.slice(1)).toEqual([
      'READY=1|STATUS=converged',
      'BARRIER=1',
      'WATCHDOG=1',
      'BARRIER=1',
    ]);
  });

  it.skipIf(skip)(`fails with systemd-notify's reason when no one listens ${skip}`, async () => {
    await expect(
      runSystemdNotify(['--ready'], { ...process.env, NOTIFY_SOCKET: '/nonexistent/notify' }),
    ).rejects.toThrow();
  });

  it.skipIf(skip)(`lvsd run tells systemd it is ready after its first pass ${skip}`, async () => {
    const socket = await listen();
    children.push(socket.child);
    const dir = await mkdtemp(join(tmpdir(), 'lvsd-run-'));
    await writeFile(
      join(dir, 'web.yaml'),
      'services:\n  web:\n    vip: 10.0.0.1:80\n    reals:\n      192.168.10.2:80: 1\n',
    );
    const kernel = new FakeIpvs();
    const signals = new (await import('node:events')).EventEmitter();
    const { logger, lines } = memoryLogger();
    const env = { ...process.env, NOTIFY_SOCKET: socket.path };
    const done = runDaemon({
      config: dir,
      stateDir: await mkdtemp(join(tmpdir(), 'lvsd-state-')),
      http: false,
      cleanupOnExit: false,
      logLevel: 'debug',
      watch: false,
      reloadDebounceMs: 50,
      version: '1.2.3',
      logger,
      load: testLoader,
      openClient: async () => kernel,
      signals: signals as unknown as NodeJS.Process,
      systemd: { env, pid: process.pid, pollMs: 20, send: (args) => runSystemdNotify(args, env) },
    });
    await waitFor('READY=1', () => socket.messages.some((m) => m.startsWith('READY=1')));
    await waitFor('the log line', () => lines.some((l) => l.event === 'systemd_ready'));
    const events = lines.map((l) => l.event);
    // The first pass ran before systemd heard that lvsd is ready.
    expect(events.indexOf('reconcile')).toBeGreaterThan(-1);
    expect(events.indexOf('reconcile')).toBeLessThan(events.indexOf('systemd_ready'));
    expect((await kernel.readTable()).services).toHaveLength(1);
    signals.emit('SIGTERM');
    expect(await done).toBe(0);
  });
});
