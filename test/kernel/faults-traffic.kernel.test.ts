/**
 * Fault suite, part 3: drains and a restart of `lvsd run` under load, with real packets.
 * Lab only: root, IPVS, ipvsadm, network namespaces.
 *
 * The classic NAT lab (client, director = this namespace, three reals; test/lab/topology.ts),
 * each real running the small TCP server of test/kernel/faults/traffic.ts on port 80 and a
 * health listener on port 81 that the service's tcp check (on_failure: remove) connects to.
 * A bounded request loop (count and time) runs from the client through the VIP, one new
 * connection per request.
 *
 * Drain: real2 is removed from the config and real3's health listener is closed (its data
 * port keeps serving, as a real going into maintenance does) while requests flow and one
 * long-lived connection is held on each. "After the decision" is made precise this way:
 * the decision is lvsd's weight-0 write, which it logs (`kernel_write`, action drain) with
 * the time once the kernel has acknowledged it; the request loop stamps each request with
 * the time just before its connect(), on the same clock (one machine). A request stamped at
 * or after the log line's time sent its SYN after weight 0 was in the kernel: it must not
 * fail and must not land on the drained real. (No request fails at all, in fact: the
 * drained reals keep serving what they have.) The held connections keep working while
 * their real drains; the real stays in the kernel while they are open and leaves once they
 * end (reset: IPVS then keeps the entry 10 s) and lvsd looks again (every 5 s).
 *
 * Restart: the daemon is stopped (SIGTERM) and started again with the same config while
 * the loop runs: zero kernel writes, zero failed requests, the table unchanged.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natLab, type BuiltLab } from '../lab/topology.js';
import {
  Daemon,
  figure,
  freePort,
  ipvsadm,
  replaceFile,
  rules,
  scrape,
  sleep,
  total,
  waitFor,
} from './faults/lvsd.js';
import { Holder, Load, RealServer, type Request } from './faults/traffic.js';

const LONG_MS = 900_000;
/** lvsd's drain recheck (5 s) plus IPVS' 10 s for a reset connection, and a busy emulated CPU. */
const LEAVE_WITHIN_MS = 45_000;
const LOAD = { concurrency: 3, maxCount: 50_000, maxMs: 400_000, timeoutMs: 10_000 };

function config(reals: readonly string[]): string {
  return `reconcile:
  drain_timeout: 120s
  drift_interval: 5s
services:
  web:
    address: 10.0.0.1:80
    scheduler: rr
    forwarding: nat
    check: { type: tcp, port: 81, interval: 1s, timeout: 500ms, rise: 1, fall: 2, on_failure: remove }
    reals: [${reals.join(', ')}]
`;
}

const failures = (requests: readonly Request[]) => requests.filter((r) => r.result !== 'ok');

describe.skipIf(process.env.LVSD_LAB !== '1')(
  'fault suite: drains and a restart under load',
  () => {
    let nat: BuiltLab;
    let servers: RealServer[];
    let file: string;
    let stateDir: string;
    let port: number;
    let daemon: Daemon;
    /** real i's address:port in the kernel. */
    const addr = (i: number) => `192.168.${9 + i}.2:80`;
    const inKernel = async () => (await ipvsadm('-Ln')).split('\n');

    const startDaemon = async () => {
      daemon = new Daemon([
        '-c',
        file,
        '--state-dir',
        stateDir,
        '--http',
        `127.0.0.1:${port}`,
        '--reload-debounce',
        '200ms',
      ]);
      return daemon.ready(port);
    };

    beforeAll(async () => {
      await ipvsadm('-C');
      nat = await natLab({ reals: 3, servers: false, prefix: 'lvsdflt' });
      servers = nat.reals.map((r) => new RealServer(r.ns, r.name));
      await Promise.all(servers.map((s) => s.start()));
      const dir = await mkdtemp(join(tmpdir(), 'lvsd-faults-traffic-'));
      file = join(dir, 'lvsd.yaml');
      stateDir = join(dir, 'state');
      port = await freePort();
      await replaceFile(file, config([1, 2, 3].map(addr)));
      const ms = await startDaemon();
      await waitFor(
        'the three checked reals in the kernel',
        async () =>
          (await rules()).filter((r) => r.startsWith('-a -t 10.0.0.1:80 ') && r.endsWith('-m -w 1'))
            .length === 3,
      );
      figure(`traffic: NAT lab with 3 reals, daemon ready ${ms} ms after start`);
    }, LONG_MS);

    afterAll(async () => {
      await daemon?.stop('SIGKILL');
      await Promise.all((servers ?? []).map((s) => s.stop()));
      await nat?.teardown();
      await ipvsadm('-C');
    });

    it(
      'drain under load: a real removed from the config and a real whose check fails',
      async () => {
        const load = new Load(nat.client, nat.vip, 80, LOAD);
        const holder = new Holder(nat.client, nat.vip, 80, ['real2', 'real3']);
        try {
          await holder.ready();
          await load.warm(40);
          const from = daemon.lines.length;
          // The two decisions, at once: real2 leaves the config, real3's check starts failing.
          await replaceFile(file, config([1, 3].map(addr)));
          await servers[2]!.healthOff();
          const drainOf = (dest: string) =>
            waitFor(`the drain of ${dest}`, () =>
              daemon
                .events('kernel_write', from)
                .find((l) => l.action === 'drain' && l.dest === dest),
            );
          const decided = {
            real2: Date.parse(String((await drainOf(addr(2))).time)),
            real3: Date.parse(String((await drainOf(addr(3))).time)),
          };
          // Longer than IPVS keeps a reset connection (10 s): by then only the held ones are left.
          await sleep(Math.max(decided.real2, decided.real3) + 12_000 - Date.now());
          expect(await holder.ping()).toEqual({ real2: 'ok', real3: 'ok' });
          const table = await inKernel();
          for (const i of [2, 3]) {
            // Still in, at weight 0, with its held connection active.
            const line = table.find((l) => l.includes(`-> ${addr(i)} `));
            expect(line, `real${i} while its connection is open`).toMatch(/Masq +0 +[1-9]\d* +\d+/);
          }
          const released = await holder.release();
          const leftAt = async (dest: string) =>
            Date.parse(
              String(
                (
                  await waitFor(
                    `${dest} out of the kernel`,
                    () =>
                      daemon
                        .events('kernel_write', from)
                        .find((l) => l.action === 'remove' && l.dest === dest),
                    120_000,
                  )
                ).time,
              ),
            );
          const left = { real2: await leftAt(addr(2)), real3: await leftAt(addr(3)) };
          await sleep(1000);
          const { requests, endedBy } = await load.stop();
          expect(endedBy, 'the loop must still be running when the test ends it').toBe('signal');

          expect(failures(requests), JSON.stringify(failures(requests).slice(0, 5))).toEqual([]);
          for (const name of ['real2', 'real3'] as const) {
            const after = requests.filter((r) => r.start >= decided[name]);
            expect(after.length, `requests after ${name}'s drain`).toBeGreaterThan(20);
            expect(
              after.filter((r) => r.real === name),
              `new connections to ${name} after its drain`,
            ).toEqual([]);
            expect(left[name]).toBeGreaterThan(released);
            expect(left[name] - released).toBeLessThanOrEqual(LEAVE_WITHIN_MS);
          }
          expect((await inKernel()).some((l) => l.includes(addr(2)) || l.includes(addr(3)))).toBe(
            false,
          );
          const last = Math.max(decided.real2, decided.real3);
          figure(
            `drain under load: ${requests.length} requests sent, ${failures(requests).length} failed ` +
              `(${requests.filter((r) => r.start >= decided.real2).length} after real2 left the config, ` +
              `${requests.filter((r) => r.start >= decided.real3).length} after real3's check failed, ` +
              `0 of them to the drained reals); held connections kept working; ` +
              `real2 left the kernel ${left.real2 - released} ms and real3 ${left.real3 - released} ms ` +
              `after their connections ended (${released - last} ms after the last decision)`,
          );
        } finally {
          await holder.stop();
          await load.stop();
        }
      },
      LONG_MS,
    );

    it(
      'restart under load with the same config: zero kernel writes, zero failed requests',
      async () => {
        await servers[2]!.healthOn();
        await waitFor('real3 back in the kernel', async () =>
          (await rules()).includes(`-a -t 10.0.0.1:80 -r ${addr(3)} -m -w 1`),
        );
        const before = await rules();
        const load = new Load(nat.client, nat.vip, 80, LOAD);
        try {
          await load.warm(40);
          const stopAt = Date.now();
          expect((await daemon.stop('SIGTERM')).code).toBe(0);
          const down = Date.now();
          const readyMs = await startDaemon();
          const up = Date.now();
          // A few check intervals more: the first results must not move anything either.
          await sleep(4000);
          const { requests, endedBy } = await load.stop();
          expect(endedBy).toBe('signal');
          expect(daemon.events('kernel_write')).toEqual([]);
          expect(total(await scrape(port), 'lvsd_kernel_writes_total')).toBe(0);
          expect(await rules()).toEqual(before);
          expect(failures(requests), JSON.stringify(failures(requests).slice(0, 5))).toEqual([]);
          const during = requests.filter((r) => r.start >= stopAt && r.start <= up);
          expect(during.length).toBeGreaterThan(0);
          figure(
            `restart under load: ${requests.length} requests sent, ${failures(requests).length} failed, ` +
              `${during.length} of them between SIGTERM and the new daemon ready ` +
              `(${up - stopAt} ms, of which ${down - stopAt} ms stopping and ${readyMs} ms starting); 0 kernel writes`,
          );
        } finally {
          await load.stop();
        }
      },
      LONG_MS,
    );
  },
);
