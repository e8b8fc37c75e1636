/**
 * A director fleet behind ECMP, on the host: two directors, each running lvsd (the daemon
 * as `lvsd run` wires it, with an in-memory IPVS table: test/fixtures/fake-ipvs-director.mjs)
 * and its own BIRD, and a router namespace running BIRD with `merge paths yes` (ECMP into
 * its kernel table) and the graceful-shutdown policy ((65535,0) -> local_pref 0). On a
 * bridge: router 192.0.2.1, d1 .2, d2 .3, and a namespace with each director's health
 * check target (a TCP listener), 192.0.2.4:8081 for d1 and :8082 for d2.
 *
 * Asserted on the router's kernel table: next hops for the VIP 0 -> 2 once both rise; 2 -> 1
 * when d1's target stops (quorum lost) and -> 2 after it rises again; `lvsd drain` keeps
 * d1's route at the router with d2 preferred (1 next hop, 2 routes in BIRD) and `lvsd
 * undrain` brings it back; SIGTERM of lvsd withdraws before it exits (its exit path); kill -9
 * of lvsd leaves the route (nothing withdraws it: BIRD's life bound to lvsd's by systemd
 * BindsTo is not testable here) until lvsd starts again and writes the routes empty; a
 * frozen director BIRD is dropped by BFD (100 ms x 3). Timings printed.
 *
 * Needs root, iproute2 and bird2 (test/host-packages.sh installs it); skipped without them.
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../lab/wait.js';
import { makeLan, netnsUnavailable, REPO, sh, type Lan } from '../vrrp/netns.js';
import { WORK } from '../vrrp/speakers.js';

const birdMissing = ['/usr/sbin/bird', '/usr/bin/bird', '/sbin/bird'].some((p) => existsSync(p))
  ? null
  : 'needs bird2 (apt-get install bird2; test/host-packages.sh installs it)';
const skip = netnsUnavailable() ?? birdMissing;
const PREFIX = 'bgpf';
const VIP = '198.51.100.10';
const DIRECTORS = {
  d1: { ip: '192.0.2.2', port: 8081 },
  d2: { ip: '192.0.2.3', port: 8082 },
} as const;
type Director = keyof typeof DIRECTORS;

const dir = (name: string) => `${WORK}/${PREFIX}-${name}`;

function lvsdYaml(d: Director): string {
  const base = dir(d);
  return [
    'services:',
    '  web:',
    `    address: ${VIP}:80`,
    '    scheduler: mh',
    '    vip: lo',
    '    reals: [192.0.2.4]',
    `    check: { type: tcp, port: ${DIRECTORS[d].port}, interval: 200ms, timeout: 150ms, rise: 1, fall: 1 }`,
    'announce:',
    '  daemon: bird',
    `  bird: { socket: ${base}/bird.ctl, include: ${base}/vips.conf, include6: ${base}/vips6.conf }`,
    '  interval: 100ms',
    '  vips:',
    `    - { prefix: ${VIP}/32, services: [web], rise: 2, fall: 1, hold_down: 1s }`,
    '  drain: { method: graceful-shutdown, wait: 60s }',
    '',
  ].join('\n');
}

const BFD = [
  'protocol bfd {',
  '  interface "eth0" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; };',
  '}',
];

function directorBird(d: Director): string {
  const base = dir(d);
  return [
    `router id ${DIRECTORS[d].ip};`,
    'protocol device {}',
    // The VIP routes live in BIRD only: no kernel protocol exports them (the VIP is on lo).
    'protocol static lvsd4 {',
    '  ipv4;',
    `  include "${base}/vips.conf";`,
    '}',
    'protocol static lvsd6 {',
    '  ipv6;',
    `  include "${base}/vips6.conf";`,
    '}',
    ...BFD,
    'protocol bgp router1 {',
    `  local ${DIRECTORS[d].ip} as 65001;`,
    '  neighbor 192.0.2.1 as 65000;',
    '  hold time 3; keepalive time 1; connect retry time 1; connect delay time 1; error wait time 1, 2;',
    '  bfd on;',
    '  ipv4 { import none; export where proto = "lvsd4"; };',
    '}',
    '',
  ].join('\n');
}

function routerBird(): string {
  const peer = (d: Director) => [
    `protocol bgp ${d} {`,
    `  local 192.0.2.1 as 65000;`,
    `  neighbor ${DIRECTORS[d].ip} as 65001;`,
    '  hold time 3; keepalive time 1; connect retry time 1; connect delay time 1; error wait time 1, 2;',
    '  bfd on;',
    '  ipv4 { import filter graceful_shutdown; export none; };',
    '}',
  ];
  return [
    'router id 192.0.2.1;',
    'protocol device {}',
    'protocol kernel { ipv4 { export all; }; merge paths yes; }',
    // RFC 8326: a route with GRACEFUL_SHUTDOWN is least preferred (BIRD 2.0.12 needs this filter).
    'filter graceful_shutdown {',
    '  if (65535, 0) ~ bgp_community then bgp_local_pref = 0;',
    '  accept;',
    '}',
    ...BFD,
    ...peer('d1'),
    ...peer('d2'),
    '',
  ].join('\n');
}

interface LogEvent {
  event?: string;
  time?: string;
  [key: string]: unknown;
}

/** One `lvsd run` in a director's namespace (test/fixtures/fake-ipvs-director.mjs), its log kept. */
class Lvsd {
  private readonly child: ChildProcess;
  private readonly out: string[] = [];
  private readonly done: Promise<number | null>;

  constructor(
    readonly lan: Lan,
    readonly node: Director,
    yaml: string,
  ) {
    mkdirSync(dir(node), { recursive: true });
    writeFileSync(`${dir(node)}/lvsd.yaml`, yaml);
    this.child = lan.spawn(node, process.execPath, [
      `${REPO}test/fixtures/fake-ipvs-director.mjs`,
      `${dir(node)}/lvsd.yaml`,
      `${dir(node)}/state`,
      '127.0.0.1:9380',
      `${dir(node)}/conns`,
    ]);
    let partial = '';
    const take = (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      this.out.push(...lines);
    };
    this.child.stdout?.on('data', take);
    this.child.stderr?.on('data', take);
    this.done = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  events(): LogEvent[] {
    return this.out.flatMap((line) => {
      try {
        return [JSON.parse(line) as LogEvent];
      } catch {
        return [];
      }
    });
  }

  tail(): string {
    return this.out.slice(-8).join('\n');
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  exited(): Promise<number | null> {
    return this.done;
  }

  /** Active connections of its reals, as the in-memory table reports them. */
  setConns(n: number): void {
    writeFileSync(`${dir(this.node)}/conns`, `${n}\n`);
  }

  http(path: string): string {
    return this.lan.exec(this.node, process.execPath, [
      '-e',
      `fetch('http://127.0.0.1:9380${path}').then((r) => r.text()).then((t) => process.stdout.write(t))`,
    ]);
  }
}

class Bird {
  private child: ChildProcess;
  constructor(
    readonly lan: Lan,
    readonly node: string,
    readonly name: string,
    conf: string,
  ) {
    mkdirSync(dir(name), { recursive: true });
    writeFileSync(`${dir(name)}/bird.conf`, conf);
    for (const f of ['vips.conf', 'vips6.conf']) writeFileSync(`${dir(name)}/${f}`, '');
    this.child = lan.spawn(node, 'bird', ['-f', '-c', `${dir(name)}/bird.conf`, '-s', this.ctl]);
  }
  get ctl(): string {
    return `${dir(this.name)}/bird.ctl`;
  }
  get pid(): number {
    return this.child.pid as number;
  }
  birdc(command: string): string {
    return sh('birdc', ['-s', this.ctl, command]);
  }
  stop(): void {
    this.child.kill('SIGCONT');
    this.child.kill('SIGTERM');
  }
}

/** A TCP listener that accepts and closes: a director's health check target. */
function target(lan: Lan, port: number): ChildProcess {
  return lan.spawn('real', process.execPath, [
    '-e',
    // A check that resets its connection must not end the listener.
    `require('net').createServer((s) => { s.on('error', () => {}); s.end(); }).listen(${port}, '192.0.2.4')`,
  ]);
}

/** The router's next hops for the VIP in its kernel table (ECMP: several). */
function nextHops(lan: Lan): string[] {
  const out = spawnSync('ip', ['-n', lan.ns('router'), 'route', 'show', `${VIP}/32`], {
    encoding: 'utf8',
  }).stdout;
  return [...out.matchAll(/via (\S+)/g)].map((m) => m[1] as string).sort();
}

/** Date.now() when waitHops last saw the next hops it waited for. */
let seenAt = 0;

async function waitHops(
  lan: Lan,
  want: string[],
  what: string,
  timeoutMs = 20_000,
): Promise<number> {
  const started = performance.now();
  await waitUntil(
    `${what}: router next hops ${want.join(',') || 'none'} (have ${nextHops(lan).join(',')})`,
    () => {
      const have = nextHops(lan);
      return have.length === want.length && have.every((h, i) => h === want[i]);
    },
    { timeoutMs, pollMs: 5 },
  );
  seenAt = Date.now();
  return Math.round(performance.now() - started);
}

/**
 * ms from the start of lvsd's last write to the routing daemon (its announce_applied line:
 * logged when `configure` returned, with how long the write took) to `at`.
 */
async function sinceWrite(l: Lvsd, at: number): Promise<number> {
  await new Promise((r) => setTimeout(r, 200)); // the log line may still be in the pipe
  const e = l
    .events()
    .filter((x) => x.event === 'announce_applied')
    .at(-1);
  return e?.time ? Math.round(at - (Date.parse(e.time) - Number(e.ms))) : Number.NaN;
}

const figures: string[] = [];
function report(line: string): void {
  figures.push(line);
  console.log(`fleet timing: ${line}`);
}

// One sequence on one fleet: a test retried alone would meet the state the last one left.
describe.skipIf(skip)(
  `a director fleet behind ECMP, BGP through BIRD${skip ? ` (skipped: ${skip})` : ''}`,
  { retry: 0 },
  () => {
    let lan: Lan;
    const birds: Partial<Record<string, Bird>> = {};
    const lvsd: Partial<Record<Director, Lvsd>> = {};
    const targets: Partial<Record<Director, ChildProcess>> = {};
    const both = [DIRECTORS.d1.ip, DIRECTORS.d2.ip];

    const startLvsd = (d: Director) => {
      lvsd[d] = new Lvsd(lan, d, lvsdYaml(d));
      return lvsd[d] as Lvsd;
    };

    beforeAll(async () => {
      for (const name of ['router', 'd1', 'd2'])
        rmSync(dir(name), { recursive: true, force: true });
      lan = makeLan(PREFIX, ['router', 'd1', 'd2', 'real']);
      birds.router = new Bird(lan, 'router', 'router', routerBird());
      for (const d of ['d1', 'd2'] as const) {
        birds[d] = new Bird(lan, d, d, directorBird(d));
        targets[d] = target(lan, DIRECTORS[d].port);
      }
      await waitUntil(
        'both BGP sessions established',
        () => {
          const out = (birds.router as Bird).birdc('show protocols');
          return (out.match(/Established/g) ?? []).length === 2;
        },
        { timeoutMs: 20_000, pollMs: 100 },
      );
    });

    afterAll(async () => {
      for (const l of Object.values(lvsd)) l?.signal('SIGKILL');
      for (const t of Object.values(targets)) t?.kill('SIGKILL');
      for (const b of Object.values(birds)) b?.stop();
      await new Promise((r) => setTimeout(r, 300));
      lan?.destroy();
      if (figures.length) console.log(`fleet timings:\n  ${figures.join('\n  ')}`);
    });

    it('an established session alone announces nothing; each director announces once its service rises', async () => {
      expect(nextHops(lan)).toEqual([]);
      const started = performance.now();
      startLvsd('d1');
      startLvsd('d2');
      await waitHops(lan, both, 'both directors announce').catch((err) => {
        throw new Error(
          `${err.message}\nd1: ${(lvsd.d1 as Lvsd).tail()}\nrouter: ${(birds.router as Bird).birdc('show route all')}` +
            `\nd1 bird: ${(birds.d1 as Bird).birdc('show route all')}`,
        );
      });
      report(
        `start of both lvsd -> 2 next hops at the router: ${Math.round(performance.now() - started)} ms`,
      );
      const status = JSON.parse((lvsd.d1 as Lvsd).http('/status'));
      expect(status.announce.vips[0]).toMatchObject({ prefix: `${VIP}/32`, state: 'announced' });
      expect(status.announce.peers[0]).toMatchObject({
        name: 'router1',
        bgpState: 'Established',
        holdTime: 3,
      });
      const metrics = (lvsd.d1 as Lvsd).http('/metrics');
      expect(metrics).toContain(`lvsd_announce_state{prefix="${VIP}/32",state="announced"} 1`);
      expect(metrics).toContain('lvsd_bgp_session_up{peer="router1",neighbor="192.0.2.1"} 1');
      expect(readFileSync(`${dir('d1')}/vips.conf`, 'utf8')).toContain(
        `route ${VIP}/32 blackhole;`,
      );
    });

    it('quorum lost on d1 (its check target stopped): 2 -> 1 next hop; it rises again: -> 2', async () => {
      const stopped = performance.now();
      (targets.d1 as ChildProcess).kill('SIGKILL');
      const lost = await waitHops(lan, [DIRECTORS.d2.ip], 'd1 withdraws');
      const fib = await sinceWrite(lvsd.d1 as Lvsd, seenAt);
      report(
        `check target stopped -> 1 next hop: ${lost} ms (check fall + announce fall); ` +
          `lvsd's write began -> router FIB: ${fib} ms`,
      );
      expect(lost).toBeLessThan(5000);
      targets.d1 = target(lan, DIRECTORS.d1.port);
      const back = performance.now();
      await waitHops(lan, both, 'd1 announces again');
      report(
        `check target back -> 2 next hops: ${Math.round(performance.now() - back)} ms ` +
          `(rise 2 x 100 ms, hold_down 1 s from the withdrawal ${Math.round(back - stopped)} ms before)`,
      );
      const transitions = (lvsd.d1 as Lvsd)
        .events()
        .filter((e) => e.event === 'announce_transition');
      expect(transitions.map((t) => t.to)).toEqual(['announced', 'withdrawn', 'announced']);
      expect(transitions[1]?.reason).toMatch(/below quorum: web/);
    });

    it('lvsd drain keeps the route at the router with d2 preferred; undrain brings d1 back', async () => {
      const cli = (command: string) =>
        sh(process.execPath, [
          `${REPO}bin/lvsd.js`,
          command,
          '--state-dir',
          `${dir('d1')}/state`,
          ...(command === 'drain' ? ['--reason', 'test'] : []),
        ]);
      // Connections in flight: the drain keeps the route (graceful shutdown) until they end.
      (lvsd.d1 as Lvsd).setConns(5);
      await new Promise((r) => setTimeout(r, 300));
      const asked = performance.now();
      expect(cli('drain')).toMatch(/lvsd run \(pid \d+\) drained/);
      const moved = await waitHops(lan, [DIRECTORS.d2.ip], 'd2 preferred');
      report(`lvsd drain -> router prefers d2: ${moved} ms`);
      const routes = (birds.router as Bird).birdc(`show route for ${VIP}/32 all`);
      // Both paths still at the router: d1's as a backup with local_pref 0, so draining every
      // director would not blackhole the VIP.
      expect((routes.match(/via 192\.0\.2\./g) ?? []).length).toBe(2);
      expect(routes).toMatch(/BGP\.community: \(65535,0\)/);
      expect(routes).toMatch(/BGP\.local_pref: 0/);
      const status = JSON.parse((lvsd.d1 as Lvsd).http('/status'));
      expect(status.announce.vips[0].state).toBe('draining');
      expect(status.announce.drained.reason).toBe('test');
      expect(performance.now() - asked).toBeLessThan(5000);
      // The connections end: the drain withdraws (BIRD at the router is left with d2's route).
      (lvsd.d1 as Lvsd).setConns(0);
      await waitUntil(
        'd1 withdrawn after its connections ended',
        () => {
          const r = (birds.router as Bird).birdc(`show route for ${VIP}/32 all`);
          return (r.match(/via 192\.0\.2\./g) ?? []).length === 1;
        },
        { timeoutMs: 5000, pollMs: 20 },
      );
      const withdrawnAt = Date.now();
      report(
        `drain: connections at 0 -> withdrawn at the router ` +
          `(${await sinceWrite(lvsd.d1 as Lvsd, withdrawnAt)} ms after lvsd's write began)`,
      );
      expect(JSON.parse((lvsd.d1 as Lvsd).http('/status')).announce.vips[0]).toMatchObject({
        state: 'withdrawn',
        reason: 'drained: test',
      });
      const last = (lvsd.d1 as Lvsd)
        .events()
        .filter((e) => e.event === 'announce_transition')
        .at(-1);
      expect(last).toMatchObject({
        from: 'draining',
        to: 'withdrawn',
        reason: 'drained: no active connection left',
      });
      expect(cli('undrain')).toMatch(/undrained/);
      const back = await waitHops(lan, both, 'd1 back after undrain');
      report(`lvsd undrain -> 2 next hops: ${back} ms`);
    });

    it('SIGTERM: lvsd withdraws on its way out (its exit path)', async () => {
      const l = lvsd.d2 as Lvsd;
      const sent = performance.now();
      l.signal('SIGTERM');
      const gone = await waitHops(lan, [DIRECTORS.d1.ip], 'd2 withdrawn on SIGTERM');
      expect(await l.exited()).toBe(0);
      report(
        `SIGTERM of lvsd -> withdrawn at the router: ${gone} ms (exit at ${Math.round(performance.now() - sent)} ms)`,
      );
      expect(readFileSync(`${dir('d2')}/vips.conf`, 'utf8')).not.toContain('route');
      startLvsd('d2');
      await waitHops(lan, both, 'd2 back');
    });

    it('kill -9 of lvsd: the route stays until lvsd starts again and writes it empty', async () => {
      const l = lvsd.d2 as Lvsd;
      l.signal('SIGKILL');
      await l.exited();
      await new Promise((r) => setTimeout(r, 3000));
      // BIRD still carries the include lvsd left: only systemd's BindsTo (BIRD stopped with
      // lvsd) or lvsd's next start takes it away. Said in docs/fleet.md.
      expect(nextHops(lan)).toEqual(both);
      report(
        'kill -9 of lvsd: after 3 s the router still has 2 next hops (BIRD keeps the include)',
      );
      // Its check target stopped meanwhile: the restarted lvsd must withdraw at once and not
      // announce again, whatever the old include said.
      (targets.d2 as ChildProcess).kill('SIGKILL');
      const restarted = performance.now();
      startLvsd('d2');
      const gone = await waitHops(lan, [DIRECTORS.d1.ip], 'restarted lvsd writes the routes empty');
      report(`lvsd restarted after kill -9 -> stale route withdrawn: ${gone} ms`);
      await new Promise((r) => setTimeout(r, 1500));
      expect(nextHops(lan)).toEqual([DIRECTORS.d1.ip]);
      targets.d2 = target(lan, DIRECTORS.d2.port);
      await waitHops(lan, both, 'd2 rises after its target is back');
      report(
        `restarted lvsd -> re-announced once healthy: ${Math.round(performance.now() - restarted)} ms`,
      );
    });

    it("a frozen director (SIGSTOP of its BIRD) is dropped by BFD, well within BGP's hold time", async () => {
      const b = birds.d2 as Bird;
      const frozen = performance.now();
      process.kill(b.pid, 'SIGSTOP');
      const gone = await waitHops(lan, [DIRECTORS.d1.ip], 'BFD drops the frozen director', 10_000);
      report(
        `frozen director BIRD -> dropped at the router: ${gone} ms (BFD 100 ms x 3; hold time 3 s)`,
      );
      expect(gone).toBeLessThan(2500);
      process.kill(b.pid, 'SIGCONT');
      await waitHops(lan, both, 'd2 back after it thaws', 30_000);
      report(`thawed -> 2 next hops: ${Math.round(performance.now() - frozen - gone)} ms`);
    });
  },
);
