/**
 * `lvsd run` against the real kernel (lab only: root, IPVS, ipvsadm). The daemon runs as
 * a child process (`node bin/lvsd.js run`, built into dist/ beforehand), exactly as systemd
 * would start it; ipvsadm is the independent reader of the table and /metrics the daemon's
 * own account. In order, as the issue lists them:
 *
 * start; edit a weight and the kernel follows; a broken file leaves the kernel unchanged,
 * the daemon alive and the metric 0; a fix brings the metric back to 1; `ipvsadm -D` on a
 * managed service is repaired within one drift interval; SIGTERM leaves the table; a restart
 * makes zero writes (with a checked real live in the kernel, it starts up); a ConfigMap-style
 * `..data` symlink swap is picked up; and --cleanup-on-exit removes what lvsd owns and
 * nothing else. Besides: a TCP check against a loopback backend takes its real out and puts
 * it back, and `lvsd status` prints the table with its Health column.
 *
 * The test flushes the IPVS table of its network namespace (the suite gives each file its own).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../lab/wait.js';

const run = promisify(execFile);
const inLab = process.env.LVSD_LAB === '1';
const DRIFT_MS = 2000;

async function ipvsadm(...args: string[]): Promise<string> {
  const { stdout } = await run('ipvsadm', args);
  return stdout;
}

/** `ipvsadm -Sn`, sorted: the whole table as rules, for before / after comparisons. */
async function rules(): Promise<string> {
  return (await ipvsadm('-Sn')).split('\n').filter(Boolean).sort().join('\n');
}

async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 60_000,
): Promise<NonNullable<T>> {
  return waitUntil(what, check, { timeoutMs, pollMs: 100 });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** The backend the `api` service's TCP check connects to (in this namespace, on loopback). */
let checkPort = 0;

function config(weights: { a: number; b: number }, drain = '0s'): string {
  return `reconcile:
  drift_interval: ${DRIFT_MS}ms
  drain_timeout: ${drain}
services:
  web:
    address: 10.20.0.1:80
    scheduler: wlc
    forwarding: nat
    reals:
      - address: 192.168.77.2:8080
        weight: ${weights.a}
      - address: 192.168.77.3:8080
        weight: ${weights.b}
  api:
    address: 10.20.0.2:80
    forwarding: nat
    check:
      type: tcp
      address: 127.0.0.1
      port: ${checkPort}
      interval: 500ms
      timeout: 400ms
      rise: 1
      fall: 1
    reals:
      - 192.168.77.9:8080
`;
}

/** The lvsd daemon as a child process, with its JSON log lines collected. */
class LvsdProcess {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  private buffer = '';

  constructor(args: string[]) {
    this.child = spawn(process.execPath, ['bin/lvsd.js', 'run', ...args, '--log-level', 'debug'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (chunk: Buffer) => this.take(String(chunk)));
    this.child.stderr!.on('data', (chunk: Buffer) =>
      process.stderr.write(`[lvsd stderr] ${chunk}`),
    );
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  events(name: string): Array<Record<string, unknown>> {
    return this.lines.filter((l) => l.event === name);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  private take(text: string): void {
    this.buffer += text;
    const parts = this.buffer.split('\n');
    this.buffer = parts.pop() ?? '';
    for (const line of parts) {
      if (!line.trim()) continue;
      try {
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        process.stderr.write(`[lvsd stdout] ${line}\n`);
      }
    }
  }
}

/** Under an emulated CPU on a busy host, node and lvsd's modules take tens of seconds to load. */
const START_TIMEOUT_MS = 240_000;
const TEST_TIMEOUT_MS = 400_000;

/** Waits for /healthz 200 (the first pass done); fails at once, with the daemon's last lines, if it exits. */
async function ready(daemon: LvsdProcess, port: number): Promise<void> {
  const spawned = Date.now();
  await waitFor(
    '/healthz 200',
    async () => {
      if (daemon.child.exitCode !== null) {
        throw new Error(
          `lvsd exited with ${daemon.child.exitCode}: ${daemon.lines
            .slice(-5)
            .map((l) => JSON.stringify(l))
            .join('\n')}`,
        );
      }
      return (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200;
    },
    START_TIMEOUT_MS,
  ).catch((err: Error) => {
    if (daemon.child.exitCode !== null)
      throw new Error(err.message.replace(/^timed out waiting for \/healthz 200: /, ''));
    throw err;
  });
  const started = daemon.events('started')[0];
  process.stderr.write(
    `lvsd ready ${Date.now() - spawned} ms after spawn (started event at ${String(started?.time)})\n`,
  );
}

async function metrics(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  return response.text();
}

/** The checked real's health series, with node_exporter's ipvs labels after lvsd's. */
const API_REAL_UP =
  'lvsd_real_up{service="api",local_address="10.20.0.2",local_port="80",proto="TCP",local_mark="",' +
  'real="192.168.77.9:8080",remote_address="192.168.77.9",remote_port="8080"}';

function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : undefined;
}

if (!inLab) {
  describe.skip('lvsd run in the kernel (lab only: LVSD_LAB=1)', () =>
    it('needs the lab', () => undefined));
} else {
  describe('lvsd run in the kernel', () => {
    let dir: string;
    let stateDir: string;
    let port: number;
    let daemon: LvsdProcess | null = null;
    const startDaemon = async (configPath: string, extra: string[] = []) => {
      // A test that failed half-way must not leave its daemon holding the port for the next one.
      if (daemon && daemon.child.exitCode === null && daemon.child.signalCode === null)
        await daemon.stop('SIGKILL');
      return new LvsdProcess([
        '-c',
        configPath,
        '--state-dir',
        stateDir,
        '--http',
        `127.0.0.1:${port}`,
        '--reload-debounce',
        '200ms',
        ...extra,
      ]);
    };

    beforeAll(async () => {
      await ipvsadm('-C');
      dir = await mkdtemp(join(tmpdir(), 'lvsd-run-'));
      stateDir = await mkdtemp(join(tmpdir(), 'lvsd-state-'));
      port = await freePort();
      await openBackend();
      await writeFile(join(dir, 'web.yaml'), config({ a: 1, b: 1 }));
    });

    let backend: Server | null = null;
    const openBackend = async () => {
      backend = createServer((socket) => socket.destroy());
      await new Promise<void>((r) => backend!.listen(checkPort, '127.0.0.1', r));
      checkPort = (backend.address() as AddressInfo).port;
    };
    const closeBackend = async () => {
      await new Promise((r) => backend?.close(r));
      backend = null;
    };

    afterAll(async () => {
      await closeBackend();
      await daemon?.stop('SIGKILL');
      await ipvsadm('-C');
    });

    it(
      'starts, applies the config and answers on /healthz',
      async () => {
        daemon = await startDaemon(dir);
        await ready(daemon, port);
        const table = await ipvsadm('-Ln');
        expect(table).toMatch(/TCP {2}10\.20\.0\.1:80 wlc/);
        expect(table).toMatch(/-> 192\.168\.77\.2:8080 +Masq +1 /);
        expect(table).toMatch(/-> 192\.168\.77\.3:8080 +Masq +1 /);
        expect(metricValue(await metrics(port), 'lvsd_config_last_reload_successful')).toBe(1);
        // The checked real starts down and goes in once its first check passes.
        await waitFor('the checked api real in', async () =>
          /-> 192\.168\.77\.9:8080 +Masq +1 /.test(await ipvsadm('-Ln')),
        );
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'follows a weight edit in the file',
      async () => {
        await writeFile(join(dir, 'web.yaml'), config({ a: 5, b: 1 }));
        await waitFor('weight 5 in ipvsadm -Ln', async () =>
          /-> 192\.168\.77\.2:8080 +Masq +5 /.test(await ipvsadm('-Ln')),
        );
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'ignores a broken file: the kernel is unchanged, the daemon alive, the metric 0',
      async () => {
        const before = await rules();
        const rejectedBefore = daemon!.events('config_rejected').length;
        await writeFile(
          join(dir, 'web.yaml'),
          config({ a: 7, b: 1 }).replace('weight: 7', 'weight: seven'),
        );
        await waitFor(
          'the reload to be refused',
          () => daemon!.events('config_rejected').length > rejectedBefore,
        );
        expect(metricValue(await metrics(port), 'lvsd_config_last_reload_successful')).toBe(0);
        const rejected = daemon!.events('config_rejected').at(-1)!;
        expect(String((rejected.errors as string[])[0])).toMatch(
          /web\.yaml:\d+:\d+: error: .*weight/,
        );
        expect(await rules()).toBe(before);
        expect(daemon!.child.exitCode).toBeNull();
        expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'brings the metric back to 1 when the file is fixed',
      async () => {
        await writeFile(join(dir, 'web.yaml'), config({ a: 7, b: 1 }));
        await waitFor(
          'the metric back to 1',
          async () => metricValue(await metrics(port), 'lvsd_config_last_reload_successful') === 1,
        );
        await waitFor('weight 7 in ipvsadm -Ln', async () =>
          /-> 192\.168\.77\.2:8080 +Masq +7 /.test(await ipvsadm('-Ln')),
        );
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'puts back a managed service deleted with ipvsadm -D within one drift interval',
      async () => {
        const before = await rules();
        const repairsBefore = daemon!.events('drift_repair').length;
        await ipvsadm('-D', '-t', '10.20.0.1:80');
        const deletedAt = Date.now();
        // (No read of the table here: under the emulated CPU the repair can land before ipvsadm
        // starts. The three repairs counted below show the service was gone and came back.)
        await waitFor(
          'the service back',
          async () => (await rules()) === before,
          10 * DRIFT_MS + 30_000,
        );
        const took = Date.now() - deletedAt;
        // One interval after the last pass, plus the pass itself under an emulated CPU.
        expect(took).toBeLessThan(DRIFT_MS + 5000);
        // The log lines and counters follow the writes by a moment.
        await waitFor(
          'three repairs logged',
          () => daemon!.events('drift_repair').length - repairsBefore === 3,
        );
        await waitFor(
          'three repairs counted',
          async () =>
            metricValue(await metrics(port), 'lvsd_drift_repairs_total{action="add"}') === 3,
        );
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'takes a real out when its check fails and puts it back when it passes',
      async () => {
        const api = /-> 192\.168\.77\.9:8080 +Masq +1 /;
        await waitFor('the checked real in', async () => api.test(await ipvsadm('-Ln')));
        await closeBackend();
        await waitFor(
          'the failed real out of the kernel',
          async () => !(await ipvsadm('-Ln')).includes('192.168.77.9:8080'),
        );
        await waitFor(
          'lvsd_real_up 0',
          async () => metricValue(await metrics(port), API_REAL_UP) === 0,
        );
        await openBackend();
        await waitFor('the real back in', async () => api.test(await ipvsadm('-Ln')));
        await waitFor(
          'lvsd_real_up 1',
          async () => metricValue(await metrics(port), API_REAL_UP) === 1,
        );
        expect(
          daemon!.events('drift_repair').filter((l) => l.service === 'TCP 10.20.0.2:80'),
        ).toEqual([]);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'with a drain time, quiesces the failed real at once and deletes it at the settle (no connections)',
      async () => {
        const api = /-> 192\.168\.77\.9:8080 +Masq +1 /;
        const from = daemon!.lines.length;
        await writeFile(join(dir, 'web.yaml'), config({ a: 7, b: 1 }, '30s'));
        await waitFor('the reload', () =>
          daemon!.lines.slice(from).some((l) => l.event === 'config_reloaded'),
        );
        await waitFor('the checked real in', async () => api.test(await ipvsadm('-Ln')));
        await closeBackend();
        await waitFor(
          'the failed real out of the kernel',
          async () => !(await ipvsadm('-Ln')).includes('192.168.77.9:8080'),
        );
        const writes = daemon!.lines
          .slice(from)
          .filter((l) => l.event === 'kernel_write' && l.dest === '192.168.77.9:8080')
          .map((l) => [l.action, l.op, l.triggers]);
        // Weight 0 by the health pass, without a read; the settle read it: no connections, deleted.
        expect(writes[0]).toEqual(['drain', 'edit-dest', ['health']]);
        expect(writes[1]?.slice(0, 2)).toEqual(['remove', 'delete-dest']);
        expect(writes[1]?.[2]).toContain('settle');
        expect(writes).toHaveLength(2);
        await openBackend();
        await waitFor('the real back in', async () => api.test(await ipvsadm('-Ln')));
        await writeFile(join(dir, 'web.yaml'), config({ a: 7, b: 1 }));
      },
      TEST_TIMEOUT_MS,
    );

    it(
      '`lvsd status` shows the kernel table with a Health column, and /status agrees with ipvsadm',
      async () => {
        const { stdout } = await run(process.execPath, [
          'bin/lvsd.js',
          'status',
          '--http',
          `127.0.0.1:${port}`,
        ]);
        expect(stdout).toContain(
          '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn Health',
        );
        expect(stdout).toMatch(/TCP {2}10\.20\.0\.1:80 wlc/);
        expect(stdout).toMatch(/-> 192\.168\.77\.2:8080 +Masq +7 +0 +0 +unchecked$/m);
        expect(stdout).toMatch(/-> 192\.168\.77\.9:8080 +Masq +1 +0 +0 +up$/m);
        const status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as {
          kernel: { version: string } | null;
          services: Array<{ id: string; dests: Array<{ id: string; weight: number }> }>;
        };
        expect((await ipvsadm('-Ln')).split('\n')[0]).toContain(
          `IP Virtual Server version ${status.kernel?.version}`,
        );
        expect(
          status.services.map((svc) => [
            svc.id,
            svc.dests.map((d) => `${d.id}=${d.weight}`).sort(),
          ]),
        ).toEqual([
          ['TCP 10.20.0.1:80', ['192.168.77.2:8080=7', '192.168.77.3:8080=1']],
          ['TCP 10.20.0.2:80', ['192.168.77.9:8080=1']],
        ]);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'leaves the table in place on SIGTERM',
      async () => {
        const before = await rules();
        expect(await daemon!.stop('SIGTERM')).toBe(0);
        expect(daemon!.events('stopped')).toHaveLength(1);
        expect(await rules()).toBe(before);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'makes zero kernel writes when restarted with the same config',
      async () => {
        const before = await rules();
        daemon = await startDaemon(dir);
        await ready(daemon, port);
        expect(daemon!.events('kernel_write')).toEqual([]);
        expect(daemon!.events('reconcile')[0]).toMatchObject({ triggers: ['start'], writes: 0 });
        expect(await metrics(port)).not.toMatch(/^lvsd_kernel_writes_total\{/m);
        expect(await rules()).toBe(before);
        expect(await daemon.stop('SIGTERM')).toBe(0);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'picks up a ConfigMap-style ..data symlink swap',
      async () => {
        const cm = await mkdtemp(join(tmpdir(), 'lvsd-configmap-'));
        const version = async (stamp: string, a: number) => {
          await mkdir(join(cm, stamp));
          await writeFile(join(cm, stamp, 'web.yaml'), config({ a, b: 1 }));
        };
        await version('..2026_11_25_21_00_00.1', 7);
        await symlink('..2026_11_25_21_00_00.1', join(cm, '..data'));
        await symlink('..data/web.yaml', join(cm, 'web.yaml'));
        daemon = await startDaemon(cm);
        await ready(daemon, port);
        expect(daemon.events('kernel_write')).toEqual([]);

        // The kubelet's atomic writer: a new timestamped directory, ..data_tmp renamed over
        // ..data, the old one removed.
        await version('..2026_11_25_21_05_00.2', 9);
        await symlink('..2026_11_25_21_05_00.2', join(cm, '..data_tmp'));
        await rename(join(cm, '..data_tmp'), join(cm, '..data'));
        await rm(join(cm, '..2026_11_25_21_00_00.1'), { recursive: true });
        await waitFor('weight 9 in ipvsadm -Ln', async () =>
          /-> 192\.168\.77\.2:8080 +Masq +9 /.test(await ipvsadm('-Ln')),
        );
        expect(await daemon.stop('SIGTERM')).toBe(0);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      '--cleanup-on-exit removes what lvsd owns and leaves a foreign service alone',
      async () => {
        await ipvsadm('-A', '-t', '10.20.9.9:53', '-s', 'rr');
        await ipvsadm('-a', '-t', '10.20.9.9:53', '-r', '192.168.77.50:53', '-m');
        daemon = await startDaemon(dir, ['--cleanup-on-exit']);
        await ready(daemon, port);
        expect(await daemon.stop('SIGTERM')).toBe(0);
        const left = await ipvsadm('-Ln');
        expect(left).not.toContain('10.20.0.1:80');
        expect(left).not.toContain('10.20.0.2:80');
        expect(left).toContain('10.20.9.9:53');
        expect(left).toContain('192.168.77.50:53');
      },
      TEST_TIMEOUT_MS,
    );
  });
}
