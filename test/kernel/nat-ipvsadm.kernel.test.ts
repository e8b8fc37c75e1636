/**
 * The classic LVS-NAT lab, set up with ipvsadm alone (lab only: root, IPVS): the proof that
 * the kernel lab forwards real traffic, before lvsd is involved.
 *
 * VIP 10.0.0.1:80, rr over 192.168.10.2:80 and 192.168.11.2:80 with masquerading, ip_forward
 * on, reals routing back through the director: four requests from the client namespace are
 * answered alternately by both reals. The same over UDP, and a real whose server stops
 * refuses its turn while the other keeps answering (what health checks react to).
 * This file writes the IPVS table of its network namespace (the suite gives it its own).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natLab, waitFor, type BuiltLab } from '../lab/topology.js';

const inLab = process.env.LVSD_LAB === '1';

/** Per-real connection counts from `ipvsadm -Ln --stats --exact`, keyed by "ip:port". */
function connsPerReal(stats: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of stats.split('\n')) {
    const m = /^\s+->\s+(\S+)\s+(\d+)\s/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** Two names taking turns: a, b, a, b, ... with a !== b. */
function expectAlternating(answers: string[], names: string[]): void {
  expect(new Set(answers)).toEqual(new Set(names));
  for (let i = 0; i < answers.length; i++)
    expect(answers[i], `answer ${i} of ${answers.join(', ')}`).toBe(answers[i % 2]);
  expect(answers[0]).not.toBe(answers[1]);
}

if (!inLab) {
  describe.skip('LVS-NAT with ipvsadm (lab only: LVSD_LAB=1)', () =>
    it('needs the lab', () => undefined));
} else {
  describe('LVS-NAT with ipvsadm: VIP 10.0.0.1:80, rr over two masqueraded reals', () => {
    let nat: BuiltLab;

    beforeAll(async () => {
      nat = await natLab();
      const d = nat.director;
      await d.ipvsadm('-C');
      await d.ipvsadm('-A', '-t', '10.0.0.1:80', '-s', 'rr');
      await d.ipvsadm('-a', '-t', '10.0.0.1:80', '-r', '192.168.10.2:80', '-m');
      await d.ipvsadm('-a', '-t', '10.0.0.1:80', '-r', '192.168.11.2:80', '-m');
      await d.ipvsadm('-A', '-u', '10.0.0.1:53', '-s', 'rr');
      await d.ipvsadm('-a', '-u', '10.0.0.1:53', '-r', '192.168.10.2:53', '-m');
      await d.ipvsadm('-a', '-u', '10.0.0.1:53', '-r', '192.168.11.2:53', '-m');
    });
    afterAll(async () => {
      await nat?.director.ipvsadm('-C').catch(() => undefined);
      await nat?.teardown();
    });

    it(
      'the lab is wired: forwarding on, each real reachable from the director, the VIP not served ' +
        'without IPVS rules',
      async () => {
        expect(await nat.director.readSysctl('net.ipv4.ip_forward')).toBe('1');
        expect(await nat.director.httpGet('http://192.168.10.2/')).toBe('real1');
        expect(await nat.director.httpGet('http://192.168.11.2/')).toBe('real2');
        // The client sees the reals only through the VIP: no route to 192.168.x from there.
        const direct = await nat.client.tryRun([
          'curl',
          '-sS',
          '--max-time',
          '3',
          'http://192.168.10.2/',
        ]);
        expect(direct.code).not.toBe(0);
      },
    );

    it('answers four HTTP requests from the client alternately by both reals', async () => {
      const answers = await nat.ask(4);
      expectAlternating(answers, ['real1', 'real2']);
      // The kernel folds its per-CPU counters into these stats every 2 s.
      const counts = () =>
        nat.director.ipvsadm('-Ln', '--stats', '--exact', '-t', '10.0.0.1:80').then(connsPerReal);
      await waitFor(
        '2 connections on each real in ipvsadm --stats',
        async () => {
          const c = await counts();
          return c.get('192.168.10.2:80') === 2 && c.get('192.168.11.2:80') === 2;
        },
        10_000,
      ).catch(() => undefined);
      const conns = await counts();
      expect(conns.get('192.168.10.2:80')).toBe(2);
      expect(conns.get('192.168.11.2:80')).toBe(2);
    });

    it('answers UDP datagrams alternately too, from the VIP', async () => {
      const answers: string[] = [];
      for (let i = 0; i < 4; i++) answers.push(await nat.client.udpAsk('10.0.0.1', 53));
      expectAlternating(answers, ['real1', 'real2']);
    });

    it('a real whose server stops fails its turn; the other keeps answering; back once it restarts', async () => {
      const real1 = nat.reals[0]!;
      await real1.server.stop();
      const results: string[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await nat.client.tryRun(['curl', '-sS', '--max-time', '5', 'http://10.0.0.1/']);
        results.push(r.code === 0 ? r.stdout.trim() : 'refused');
      }
      // rr keeps sending real1 its turn: IPVS alone knows nothing of health.
      expectAlternating(results, ['real2', 'refused']);
      await real1.server.start();
      expect((await nat.ask(4)).sort()).toEqual(['real1', 'real1', 'real2', 'real2']);
    });
  });
}
