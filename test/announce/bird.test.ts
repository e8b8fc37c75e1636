/**
 * BIRD as lvsd's routing daemon: the reply parser; the include file rendered, written and
 * configured through a fake control socket speaking BIRD's line protocol (configure check
 * first, the old file back and the error returned as a value on a refusal); `show protocols
 * all` parsed as BIRD 2.0.12 printed it; then the same against a real BIRD (bird2), which
 * must accept what lvsd writes and refuse a broken bird.conf with the file put back.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BirdDaemon, parseProtocols, renderRoutes } from '../../src/announce/bird.js';
import { ReplyParser } from '../../src/announce/bird-socket.js';

const ROUTES = [
  { prefix: '192.0.2.10/32', gracefulShutdown: false },
  { prefix: '192.0.2.11/32', gracefulShutdown: true },
  { prefix: '2001:db8::10/128', gracefulShutdown: false },
];

describe('ReplyParser', () => {
  it('joins continuation lines to their code and ends a reply at "DDDD "', () => {
    const parser = new ReplyParser();
    expect(parser.feed('0001 BIRD 2.0.12 ready.\n0002-Reading')).toHaveLength(1);
    const replies = parser.feed(
      ' configuration from a.conf\n1006-  BGP state: Up\n   Hold timer: 1/9\n8002 a.conf:3:1 syntax error\n',
    );
    expect(replies).toHaveLength(1);
    expect(replies[0]).toEqual({
      code: 8002,
      ok: false,
      message: 'a.conf:3:1 syntax error',
      lines: [
        { code: 2, text: 'Reading configuration from a.conf' },
        { code: 1006, text: '  BGP state: Up' },
        { code: 1006, text: '  Hold timer: 1/9' },
        { code: 8002, text: 'a.conf:3:1 syntax error' },
      ],
    });
  });
});

describe('renderRoutes', () => {
  it('one blackhole route a prefix, the graceful-shutdown community on a draining one', () => {
    expect(renderRoutes(ROUTES.slice(0, 2)).split('\n').slice(1)).toEqual([
      'route 192.0.2.10/32 blackhole;',
      'route 192.0.2.11/32 blackhole { bgp_community.add((65535,0)); };',
      '',
    ]);
    expect(renderRoutes([]).trim().split('\n')).toHaveLength(1);
  });
});

describe('parseProtocols', () => {
  it("reads BIRD 2.0.12's show protocols all", async () => {
    const text = await readFile(
      new URL('../fixtures/bird-show-protocols-all.txt', import.meta.url),
      'utf8',
    );
    const [reply] = new ReplyParser().feed(text).slice(1);
    const bgp = parseProtocols(reply!).filter((p) => p.protocol === 'BGP');
    expect(bgp).toEqual([
      {
        name: 'router1',
        protocol: 'BGP',
        state: 'up',
        up: true,
        bgpState: 'Established',
        info: 'Established',
        neighbor: '10.99.0.1',
        neighborAs: 65000,
        holdTime: 9,
        bfd: false,
        lastError: null,
        routesExported: 1,
      },
    ]);
  });
});

/** A control socket that answers as BIRD does; `configure check` fails while the include holds 'BAD'. */
class FakeBird {
  readonly commands: string[] = [];
  failConfigure = false;
  private server: Server | null = null;

  constructor(
    readonly path: string,
    private readonly include: string,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((socket) => {
      socket.write('0001 BIRD 2.0.12 ready.\n');
      let buffered = '';
      socket.on('data', async (chunk) => {
        buffered += chunk.toString();
        for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
          const command = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          this.commands.push(command);
          socket.write(await this.answer(command));
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(this.path, resolve));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  private async answer(command: string): Promise<string> {
    const text = await readFile(this.include, 'utf8').catch(() => '');
    if (command === 'configure check')
      return text.includes('BAD')
        ? '0002-Reading configuration from /etc/bird/bird.conf\n8002 /run/x.conf:2:7 syntax error, unexpected BAD\n'
        : '0002-Reading configuration from /etc/bird/bird.conf\n0020 Configuration OK\n';
    if (command === 'configure')
      return this.failConfigure
        ? '0002-Reading configuration from /etc/bird/bird.conf\n8002 Cannot open: permission denied\n'
        : '0002-Reading configuration from /etc/bird/bird.conf\n0003 Reconfigured\n';
    return '9001 syntax error, unexpected CF_SYM_UNDEFINED\n';
  }
}

describe('BirdDaemon against a fake control socket', () => {
  let dir: string;
  let bird: FakeBird;
  let daemon: BirdDaemon;
  let include: string;
  let include6: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lvsd-bird-'));
    include = join(dir, 'run', 'vips.conf');
    include6 = join(dir, 'run', 'vips6.conf');
    bird = new FakeBird(join(dir, 'bird.ctl'), include);
    await bird.start();
    daemon = new BirdDaemon({ socket: bird.path, include, include6, timeoutMs: 2000 });
  });
  afterAll(async () => {
    await daemon.close();
    await bird.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes both families, checks, then configures', async () => {
    expect(await daemon.announce(ROUTES)).toEqual({ ok: true, changed: true });
    expect(bird.commands).toEqual(['configure check', 'configure']);
    expect(await readFile(include, 'utf8')).toBe(renderRoutes(ROUTES.slice(0, 2)));
    expect(await readFile(include6, 'utf8')).toBe(renderRoutes(ROUTES.slice(2)));
  });

  it('does nothing when the files already say it, unless forced', async () => {
    bird.commands.length = 0;
    expect(await daemon.announce(ROUTES)).toEqual({ ok: true, changed: false });
    expect(bird.commands).toEqual([]);
    expect(await daemon.announce(ROUTES, { force: true })).toEqual({ ok: true, changed: true });
    expect(bird.commands).toEqual(['configure check', 'configure']);
  });

  it('a refused configure check puts the old file back and returns the error', async () => {
    bird.commands.length = 0;
    const before = await readFile(include, 'utf8');
    const outcome = await daemon.announce([{ prefix: 'BAD', gracefulShutdown: false }]);
    expect(outcome).toEqual({
      ok: false,
      error: "BIRD refused 'configure check': 8002 /run/x.conf:2:7 syntax error, unexpected BAD",
    });
    expect(bird.commands).toEqual(['configure check']);
    expect(await readFile(include, 'utf8')).toBe(before);
  });

  it('a failed configure puts the old file back and configures it again', async () => {
    bird.commands.length = 0;
    bird.failConfigure = true;
    const before = await readFile(include, 'utf8');
    const outcome = await daemon.announce([]);
    bird.failConfigure = false;
    expect(outcome).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^BIRD refused 'configure': 8002/),
    });
    expect(bird.commands).toEqual(['configure check', 'configure', 'configure']);
    expect(await readFile(include, 'utf8')).toBe(before);
  });

  it('BIRD not running: an error value; the new files stay for BIRD to read at its start', async () => {
    const missing = new BirdDaemon({ socket: join(dir, 'none.ctl'), include, include6 });
    const outcome = await missing.announce([], { force: true });
    expect(outcome).toMatchObject({
      ok: false,
      error: expect.stringMatching(/none\.ctl.*is BIRD running/),
    });
    expect(await readFile(include, 'utf8')).toBe(renderRoutes([]));
    await missing.close();
  });
});

const haveBird = spawnSync('bird', ['--version']).status === 0 || existsSync('/usr/sbin/bird');
const asRoot = process.getuid?.() === 0;

describe.skipIf(!haveBird || !asRoot)(
  'BirdDaemon against BIRD 2 (bird2; skipped without it or root)',
  () => {
    let dir: string;
    let daemon: BirdDaemon;
    let ctl: string;
    let include: string;
    let include6: string;
    let conf: string;

    const birdConf = (family4: string) =>
      [
        'router id 192.0.2.1;',
        'protocol device {}',
        'protocol static lvsd_vips {',
        `  ${family4};`,
        `  include "${include}";`,
        '}',
        'protocol static lvsd_vips6 {',
        '  ipv6;',
        `  include "${include6}";`,
        '}',
        '',
      ].join('\n');
    const birdc = (command: string) =>
      execFileSync('birdc', ['-s', ctl, command], { encoding: 'utf8' });

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'lvsd-bird-real-'));
      ctl = join(dir, 'bird.ctl');
      include = join(dir, 'vips.conf');
      include6 = join(dir, 'vips6.conf');
      conf = join(dir, 'bird.conf');
      await writeFile(include, '');
      await writeFile(include6, '');
      await writeFile(conf, birdConf('ipv4'));
      // -f: in the foreground, so the test owns the process and ends it by its pid.
      const child = spawn('bird', ['-f', '-c', conf, '-s', ctl, '-P', join(dir, 'bird.pid')], {
        stdio: 'ignore',
      });
      child.unref();
      for (let i = 0; i < 50 && !existsSync(ctl); i++) await new Promise((r) => setTimeout(r, 100));
      daemon = new BirdDaemon({ socket: ctl, include, include6 });
    });
    afterAll(async () => {
      await daemon?.close();
      const pid = Number(await readFile(join(dir, 'bird.pid'), 'utf8').catch(() => '0'));
      if (pid > 0) process.kill(pid, 'SIGTERM');
      await rm(dir, { recursive: true, force: true });
    });

    it('BIRD takes the routes lvsd writes, the community on a draining one', async () => {
      expect(await daemon.announce(ROUTES, { force: true })).toEqual({ ok: true, changed: true });
      const routes = birdc('show route all');
      expect(routes).toMatch(/192\.0\.2\.10\/32\s+blackhole/);
      expect(routes).toMatch(/2001:db8::10\/128\s+blackhole/);
      expect(routes).toMatch(/192\.0\.2\.11\/32[\s\S]*BGP\.community: \(65535,0\)/);
      expect(await daemon.announce([ROUTES[0]!])).toEqual({ ok: true, changed: true });
      expect(birdc('show route')).not.toMatch(/192\.0\.2\.11/);
      expect(await daemon.sessions()).toEqual([]);
    });

    it("BIRD's refusal (a broken bird.conf) leaves the last good routes and file", async () => {
      const good = await readFile(include, 'utf8');
      // The IPv4 routes in an ipv6 static protocol: BIRD refuses the whole config.
      await writeFile(conf, birdConf('ipv6'));
      const outcome = await daemon.announce(ROUTES);
      await writeFile(conf, birdConf('ipv4'));
      expect(outcome.ok).toBe(false);
      expect(outcome.ok ? '' : outcome.error).toMatch(
        /^BIRD refused 'configure check': 8002 .*incompatible with channel type/,
      );
      expect(await readFile(include, 'utf8')).toBe(good);
      expect(birdc('show route')).toMatch(/192\.0\.2\.10\/32/);
    });
  },
);
