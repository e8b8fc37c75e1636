/**
 * A director fleet behind ECMP on the real kernel (lab only: IPVS): two `lvsd run`
 * (bin/lvsd.js), each in its own namespace with its own IPVS table (DR, `mh`,
 * sloppy_tcp) and its own BIRD announcing the VIP, and a router namespace running BIRD with
 * `merge paths yes` (ECMP into its kernel table, hashing on ports too) and the
 * graceful-shutdown policy. A client behind the router sends a request loop (a new
 * connection each) to the VIP; the reals answer it directly (DR).
 *
 * In order: both directors announce (2 next hops) and both get connections; director 1 is
 * drained (`lvsd drain`): the router prefers director 2 at once, director 1 withdraws once
 * its connections end; it is undrained and announces again. Requests keep being answered
 * throughout; how many failed is printed (and must be none).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, type Netns, prepareReal, waitFor } from '../lab/topology.js';

const inLab = process.env.LVSD_LAB === '1';
const VIP = '198.51.100.10';
const WORK = '/tmp/lvsd-fleet-kernel';
const DIRECTORS = { dir1: '10.0.0.11', dir2: '10.0.0.12' } as const;
type Name = keyof typeof DIRECTORS;

function lvsdConfig(name: Name): string {
  return `kernel:
  sysctl: { sloppy_tcp: true }
services:
  web:
    address: ${VIP}:80
    forwarding: dr
    scheduler: mh
    vip: lo
    reals: [10.0.0.21, 10.0.0.22]
    check: { type: tcp, interval: 1s, rise: 1, fall: 2 }
announce:
  daemon: bird
  bird: { socket: ${WORK}/${name}/bird.ctl, include: ${WORK}/${name}/vips.conf, include6: ${WORK}/${name}/vips6.conf }
  interval: 200ms
  vips:
    - { prefix: ${VIP}/32, services: [web], rise: 2, fall: 2, hold_down: 1s }
  drain: { method: graceful-shutdown, wait: 20s }
`;
}

const BGP_TIMERS =
  'hold time 3; keepalive time 1; connect retry time 1; connect delay time 1; error wait time 1, 2;';

function directorBird(name: Name): string {
  return `router id ${DIRECTORS[name]};
protocol device {}
protocol static lvsd4 {
  ipv4;
  include "${WORK}/${name}/vips.conf";
}
protocol static lvsd6 {
  ipv6;
  include "${WORK}/${name}/vips6.conf";
}
protocol bgp router1 {
  local ${DIRECTORS[name]} as 65001;
  neighbor 10.0.0.1 as 65000;
  ${BGP_TIMERS}
  ipv4 { import none; export where proto = "lvsd4"; };
}
`;
}

function routerBird(): string {
  const peer = (name: Name) => `protocol bgp ${name} {
  local 10.0.0.1 as 65000;
  neighbor ${DIRECTORS[name]} as 65001;
  ${BGP_TIMERS}
  ipv4 { import filter graceful_shutdown; export none; };
}
`;
  return `router id 10.0.0.1;
protocol device {}
protocol kernel { ipv4 { export all; }; merge paths yes; }
filter graceful_shutdown {
  if (65535, 0) ~ bgp_community then bgp_local_pref = 0;
  accept;
}
${peer('dir1')}${peer('dir2')}`;
}

/** A request loop in the client: a new connection every 50 ms, 3 s to answer. */
const CLIENT = `
const http = require('node:http');
let i = 0;
const tick = () => {
  const n = i++, started = Date.now();
  const report = (r) => console.log(JSON.stringify({ ...r, n, at: started, ms: Date.now() - started }));
  const req = http.get({ host: process.argv[1], port: 80, path: '/', agent: false, timeout: 3000 }, (res) => {
    let body = '';
    res.on('data', (d) => (body += d));
    res.on('end', () => report({ ok: true, real: body.trim() }));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => report({ ok: false, error: e.message }));
};
setInterval(tick, 50);
`;

interface Request {
  n: number;
  ok: boolean;
  at: number;
  real?: string;
  error?: string;
}

describe.runIf(inLab)(
  'a director fleet behind ECMP: drain under a request loop (kernel lab)',
  () => {
    let lab: Lab;
    let router: Netns;
    let client: Netns;
    const ns: Partial<Record<Name, Netns>> = {};
    const children: ChildProcess[] = [];
    const logs: Partial<Record<Name, string[]>> = {};
    const requests: Request[] = [];

    const nextHops = async () =>
      [...(await router.ip('route', 'show', `${VIP}/32`)).matchAll(/via (\S+)/g)]
        .map((m) => m[1])
        .sort();
    const lvsd = (name: Name, args: string[]) =>
      (ns[name] as Netns).lvsd([...args, '--state-dir', `${WORK}/${name}/state`]);
    const status = async (name: Name) =>
      JSON.parse(
        await (ns[name] as Netns).run([
          process.execPath,
          '-e',
          "fetch('http://127.0.0.1:9380/status').then((r) => r.text()).then((t) => process.stdout.write(t))",
        ]),
      );

    beforeAll(async () => {
      lab = await Lab.create({ prefix: 'lvsdfleet' });
      router = await lab.netns('router');
      client = await lab.netns('client');
      ns.dir1 = await lab.netns('dir1');
      ns.dir2 = await lab.netns('dir2');
      const real1 = await lab.netns('real1');
      const real2 = await lab.netns('real2');
      await lab.segment('front', [
        { ns: client, dev: 'eth0', addresses: ['10.1.0.2/24'] },
        { ns: router, dev: 'eth0', addresses: ['10.1.0.1/24'] },
      ]);
      await lab.segment('back', [
        { ns: router, dev: 'eth1', addresses: ['10.0.0.1/24'] },
        { ns: ns.dir1, dev: 'eth0', addresses: [`${DIRECTORS.dir1}/24`] },
        { ns: ns.dir2, dev: 'eth0', addresses: [`${DIRECTORS.dir2}/24`] },
        { ns: real1, dev: 'eth0', addresses: ['10.0.0.21/24'] },
        { ns: real2, dev: 'eth0', addresses: ['10.0.0.22/24'] },
      ]);
      await client.addRoute('default', '10.1.0.1');
      for (const n of [ns.dir1, ns.dir2, real1, real2]) await n.addRoute('default', '10.0.0.1');
      await router.enableForwarding();
      // ECMP per flow (ports included): one client's connections spread over the directors.
      await router.sysctl('net.ipv4.fib_multipath_hash_policy', 1);
      for (const dev of ['all', 'default', 'eth0', 'eth1'])
        await router.sysctl(`net.ipv4.conf.${dev}.rp_filter`, 0);
      for (const [n, name] of [
        [real1, 'real1'],
        [real2, 'real2'],
      ] as const) {
        await prepareReal(n, VIP, 'dr');
        await lab.serve(n, name, ['http:[::]:80']);
      }
      const startBird = async (n: Netns, name: string, conf: string) => {
        await mkdir(`${WORK}/${name}`, { recursive: true });
        await writeFile(`${WORK}/${name}/bird.conf`, conf);
        for (const f of ['vips.conf', 'vips6.conf']) await writeFile(`${WORK}/${name}/${f}`, '');
        children.push(
          n.spawn([
            'bird',
            '-f',
            '-c',
            `${WORK}/${name}/bird.conf`,
            '-s',
            `${WORK}/${name}/bird.ctl`,
          ]),
        );
      };
      await startBird(router, 'router', routerBird());
      for (const name of ['dir1', 'dir2'] as const) {
        await startBird(ns[name] as Netns, name, directorBird(name));
        await writeFile(`${WORK}/${name}/lvsd.yaml`, lvsdConfig(name));
        const { child, lines } = (ns[name] as Netns).runLvsd(
          `${WORK}/${name}/lvsd.yaml`,
          `${WORK}/${name}/state`,
        );
        logs[name] = lines;
        children.push(child);
      }
    }, 180_000);

    afterAll(async () => {
      for (const c of children.reverse()) c.kill('SIGKILL');
      await lab?.teardown();
    });

    it('both directors announce; the router spreads the loop over both', async () => {
      const hops = await waitFor(
        `2 next hops at the router (dir1 log: ${logs.dir1?.slice(-3).join(' | ')})`,
        async () => ((await nextHops()).length === 2 ? nextHops() : null),
        90_000,
      );
      expect(hops).toEqual(['10.0.0.11', '10.0.0.12']);
      const loop = client.spawn([process.execPath, '-e', CLIENT, VIP]);
      children.push(loop);
      createInterface({ input: loop.stdout as NodeJS.ReadableStream }).on('line', (l) =>
        requests.push(JSON.parse(l)),
      );
      await waitFor('40 answers', () => requests.filter((r) => r.ok).length >= 40, 60_000);
      const conns = async (name: Name) => {
        const text = await (ns[name] as Netns).ipvsadm('-Ln', '--stats');
        const line = text.split('\n').find((l) => l.includes(`${VIP}:80`)) ?? '';
        return Number(line.trim().split(/\s+/)[2] ?? 0);
      };
      const [one, two] = [await conns('dir1'), await conns('dir2')];
      console.log(`fleet: connections through dir1 ${one}, dir2 ${two} (ECMP)`);
      expect(one).toBeGreaterThan(0);
      expect(two).toBeGreaterThan(0);
    }, 180_000);

    it('drain dir1 under the loop: dir2 preferred, dir1 withdrawn, then back; no request fails', async () => {
      const drainAt = Date.now();
      const drained = await lvsd('dir1', ['drain', '--reason', 'kernel lab']);
      expect(drained.stdout).toMatch(/drained/);
      await waitFor(
        '1 next hop (dir2)',
        async () => (await nextHops()).join() === '10.0.0.12',
        30_000,
      );
      const preferredMs = Date.now() - drainAt;
      await waitFor(
        'dir1 withdrawn after its connections ended',
        async () => (await status('dir1')).announce.vips[0].state === 'withdrawn',
        60_000,
      );
      const withdrawnMs = Date.now() - drainAt;
      await new Promise((r) => setTimeout(r, 2000));
      const undrainAt = Date.now();
      expect((await lvsd('dir1', ['undrain'])).stdout).toMatch(/undrained/);
      await waitFor('2 next hops again', async () => (await nextHops()).length === 2, 30_000);
      const backMs = Date.now() - undrainAt;
      await new Promise((r) => setTimeout(r, 2000));
      const during = requests.filter((r) => r.at >= drainAt - 500);
      const failed = during.filter((r) => !r.ok);
      console.log(
        `fleet: drain -> router prefers dir2 ${preferredMs} ms, dir1 withdrawn ${withdrawnMs} ms, ` +
          `undrain -> 2 next hops ${backMs} ms; requests from the drain on: ${during.length}, failed ` +
          `${failed.length}${failed.length ? ` (${[...new Set(failed.map((f) => f.error))].join(', ')})` : ''}`,
      );
      const transitions = (logs.dir1 ?? [])
        .filter((l) => l.includes('"announce_transition"'))
        .map((l) => JSON.parse(l).to);
      expect(transitions).toEqual(['announced', 'draining', 'withdrawn', 'announced']);
      expect(during.length).toBeGreaterThan(50);
      expect(failed).toEqual([]);
    }, 240_000);
  },
);
