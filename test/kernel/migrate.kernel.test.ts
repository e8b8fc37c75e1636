/**
 * Migration, proven on the real kernel and against the real peer (lab only: root, IPVS,
 * keepalived; run `npm run build` first).
 *
 * (a) `lvsd export`: every example applied with lvsd, exported, the table flushed and
 *     rebuilt with `ipvsadm-restore` from the export: ipvsadm reads back the same rules,
 *     thresholds and tunnels. The export is `ipvsadm -Sn` line for line (same order) plus
 *     the thresholds -Sn leaves out; and `lvsd import ipvsadm` of the export, applied on a
 *     clean table, makes the same table again.
 * (b) keepalived (Debian's package, started here with -C: the checker process alone, so
 *     the files' vrrp blocks are read and left alone) runs each keepalived.conf of
 *     test/migrate/fixtures until its table is complete; its checkers pass against real
 *     servers in a namespace. Then keepalived is killed with SIGKILL, which leaves the
 *     table, as a live switch needs. The same file imported into lvsd plans no change
 *     against keepalived's table and applies with zero kernel writes; applied on a clean
 *     table it makes what keepalived made, thresholds and tunnels included.
 *
 * The commands run as the built binary where the test is about the command (`lvsd export`,
 * `lvsd import`, and plan / apply on keepalived's table once, for four files at once);
 * elsewhere the same run* functions run in this process (apply with a kernel client that
 * counts the operations it sends), since each node start costs seconds in the emulated lab
 * and the file must end within the suite's 600 s.
 * This file writes the IPVS table of its network namespace (the suite gives it its own).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runApply } from '../../src/cli/commands/apply.js';
import { runImportKeepalived } from '../../src/cli/commands/import.js';
import { runPlan } from '../../src/cli/commands/plan.js';
import type { CommandIo } from '../../src/cli/reconcile-command.js';
import { ForwardingIpvsClient, type IpvsOp, type IpvsOpResult } from '../../src/ipvs/client.js';
import { openIpvs } from '../../src/ipvs/index.js';
import { systemHostPorts } from '../../src/reconcile/system-ports.js';
import { plain } from '../../src/util/palette.js';
import { Lab, type Netns, sortedLines, waitFor } from '../lab/topology.js';

const inLab = process.env.LVSD_LAB === '1';
const keepalivedPath = ['/usr/sbin/keepalived', '/sbin/keepalived'].find((p) => {
  try {
    readFileSync(p);
    return true;
  } catch {
    return false;
  }
});

const withoutThresholds = (text: string) => text.replace(/ -x \d+| -y \d+/g, '');

/** Rules that exercise what -Sn prints, and ipvsadm's sort (192.168.x before 10.x: C's wrap). */
const CRAFTED = `-A -t 10.0.0.1:80 -s rr
-a -t 10.0.0.1:80 -r 10.1.1.1:80 -m -w 1 -x 100 -y 50
-a -t 10.0.0.1:80 -r 192.168.1.1:8080 -m -w 3
-A -t 192.168.0.1:443 -s wlc -p 600 -M 255.255.255.0
-a -t 192.168.0.1:443 -r 192.168.1.2:443 -g -w 0 -x 7
-A -u 10.0.0.2:53 -s sh -o -b sh-fallback,sh-port
-a -u 10.0.0.2:53 -r 198.51.100.7:53 -i -w 1 --tun-type gre --tun-csum
-a -u 10.0.0.2:53 -r 198.51.100.8:53 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum
-A -u 10.0.0.3:5060 -s rr -p 30 --pe sip
-a -u 10.0.0.3:5060 -r 192.168.1.5:5060 -m -w 1
-A --sctp-service [2001:db8::1]:3868 -s mh -b mh-port
-a --sctp-service [2001:db8::1]:3868 -r [2001:db8:1::2]:3868 -m -w 2
-A -f 1 -s wlc -p 360
-a -f 1 -r 192.168.1.3:0 -g -w 1
-A -f 2 -6 -s rr -p 300 -M 64
-a -f 2 -6 -r [2001:db8:1::3]:0 -i -w 4 --tun-type ipip
`;

const EXAMPLES = [
  'examples/nat-web.yaml',
  'examples/dr.yaml',
  'examples/tun.yaml',
  'examples/fwmark-http-https.yaml',
  'examples/persistent-https.yaml',
  'examples/persistent-all-ports.yaml',
  'examples/udp-dns.yaml',
  'examples/ipv6.yaml',
  'examples/sctp.yaml',
  'examples/conf.d',
];

const KEEPALIVED_FILES = [
  'fwmark-pair.conf',
  'nat-dr.conf',
  'group.conf',
  'ipv6.conf',
  'includes/keepalived.conf',
];

/** The kernel client `lvsd apply` uses, counting the IPVS operations it sends. */
class CountingClient extends ForwardingIpvsClient {
  ops = 0;
  override execute(ops: readonly IpvsOp[]): Promise<IpvsOpResult[]> {
    this.ops += ops.length;
    return this.inner.execute(ops);
  }
}

/** A CommandIo for running lvsd's commands in this process, with counting kernel clients. */
function hereIo() {
  const io = {
    out: '',
    err: '',
    clients: [] as CountingClient[],
    write: (t: string) => {
      io.out += t;
    },
    writeError: (t: string) => {
      io.err += t;
    },
    palette: plain,
    errorPalette: plain,
    openKernel: async () => {
      const client = new CountingClient(await openIpvs());
      io.clients.push(client);
      return client;
    },
    hostPorts: systemHostPorts,
    readStdin: async () => '',
  } satisfies CommandIo & Record<string, unknown>;
  return io;
}

/** `lvsd apply -c CONFIG --json`, in this process: its report and the IPVS operations sent. */
async function applyHere(config: string, stateDir: string) {
  const io = hereIo();
  const code = await runApply({ config, stateDir, json: true }, io);
  expect(code, `lvsd apply -c ${config}\n${io.out}\n${io.err}`).toBe(0);
  const report = JSON.parse(io.out) as { writes: number };
  return { writes: report.writes, ops: io.clients.reduce((n, c) => n + c.ops, 0) };
}

/** `lvsd plan -c CONFIG`, in this process: its exit code and what it printed. */
async function planHere(config: string, stateDir: string) {
  const io = hereIo();
  const code = await runPlan({ config, stateDir }, io);
  return { code, out: io.out, err: io.err };
}

/** `lvsd import keepalived FILE -o OUT`, in this process. */
async function importHere(file: string, output: string): Promise<void> {
  let err = '';
  const io = {
    write: () => undefined,
    writeError: (t: string) => {
      err += t;
    },
    color: false,
    readStdin: async () => '',
  };
  expect(await runImportKeepalived(file, { output }, io), err).toBe(0);
}

if (!inLab) {
  describe.skip('migration on the kernel (lab only: LVSD_LAB=1)', () =>
    it('needs the lab', () => undefined));
} else {
  describe('migration on the kernel', () => {
    let lab: Lab;
    let director: Netns;
    let scratch: string;
    const lvsd = (...args: string[]) => director.lvsd(args);
    const ok = async (...args: string[]) => {
      const result = await lvsd(...args);
      expect(result.code, `lvsd ${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toBe(0);
      return result.stdout;
    };
    const state = () => mkdtemp(join(scratch, 'state-'));
    /** An empty table and no sync daemon (the conf.d example starts two). */
    const clean = async () => {
      await director.tryRun(['ipvsadm', '--stop-daemon', 'master']);
      await director.tryRun(['ipvsadm', '--stop-daemon', 'backup']);
      await director.ipvsadm('-C');
    };

    beforeAll(async () => {
      lab = await Lab.create({ prefix: 'lvmig' });
      director = lab.self;
      // The interfaces the examples name (VIPs on eth0, sync daemons on eth1).
      for (const dev of ['eth0', 'eth1']) {
        await director.ip('link', 'add', dev, 'type', 'dummy');
        await director.ip('link', 'set', dev, 'up');
      }
      scratch = await mkdtemp(join(tmpdir(), 'lvsd-migrate-'));
    });
    afterAll(async () => {
      if (director) await clean().catch(() => undefined);
      await lab?.teardown();
    });

    describe('(a) lvsd export, ipvsadm-restore, lvsd import ipvsadm', () => {
      let applied: Record<string, string[]>;
      let exported = '';

      it('every example applied by lvsd; the export is -Sn plus thresholds; restored: the same table', async () => {
        await clean();
        // Each with its own state, so the services of the others are foreign to it and stay.
        for (const file of EXAMPLES) await applyHere(file, await state());
        applied = await director.ipvsadmViews();
        expect(applied['-Sn']?.filter((l) => l.startsWith('-A')).length).toBeGreaterThan(
          EXAMPLES.length,
        );
        exported = await ok('export');
        // ipvsadm -Sn, the same lines in the same order, plus the thresholds it leaves out.
        expect(withoutThresholds(exported)).toBe(await director.ipvsadm('-Sn'));
        expect(exported).toContain(' -x 5000 -y 4000\n');

        await director.ipvsadm('-C');
        await director.run(['ipvsadm-restore'], { input: exported });
        expect(await director.ipvsadmViews()).toEqual(applied);
      });

      it('lvsd import ipvsadm of the export, applied on a clean table: the same table again', async () => {
        const rules = join(scratch, 'examples.rules');
        const config = join(scratch, 'examples.yaml');
        await writeFile(rules, exported);
        await ok('import', 'ipvsadm', rules, '-o', config);
        await clean();
        await applyHere(config, await state());
        expect(await director.ipvsadmViews()).toEqual(applied);
      });

      it("every option -Sn prints, in ipvsadm's order (C-wrapped address compares); restored exactly", async () => {
        await clean();
        await director.run(['ipvsadm-restore'], { input: CRAFTED });
        const restored = await director.ipvsadmViews();
        const text = await ok('export');
        expect(withoutThresholds(text)).toBe(await director.ipvsadm('-Sn'));
        expect(sortedLines(text)).toEqual(sortedLines(CRAFTED));
        await director.ipvsadm('-C');
        await director.run(['ipvsadm-restore'], { input: text });
        expect(await director.ipvsadmViews()).toEqual(restored);
      });
    });

    describe('(b) keepalived, then lvsd on its table', () => {
      if (!keepalivedPath) {
        it.skip('needs keepalived (the Debian package; test/lab/lib.sh installs it)', () =>
          undefined);
        return;
      }
      let keepalived: ChildProcess | null = null;

      beforeAll(async () => {
        // The real servers the fixtures' checkers reach: one namespace holding their addresses.
        const reals = await lab.netns('reals');
        const addresses = [2, 3, 4, 5, 6, 7, 8, 9].map((n) => `192.168.10.${n}/24`);
        await lab.link(
          { ns: director, dev: 'mig0', addresses: ['192.168.10.1/24', '2001:db8:10::1/64'] },
          {
            ns: reals,
            dev: 'eth0',
            addresses: [...addresses, '2001:db8:10::2/64', '2001:db8:10::3/64'],
          },
        );
        await lab.serve(reals, 'real', ['http:[::]:80', 'http:[::]:8080', 'http:[::]:143']);
      });
      afterAll(() => {
        if (keepalived?.pid) process.kill(-keepalived.pid, 'SIGKILL');
      });

      /** keepalived's checker process (-C) on a file, in a process group of its own. */
      const start = (file: string): ChildProcess => {
        const base = join(scratch, file.replace(/\W/g, '_'));
        const log = openSync(`${base}.keepalived.log`, 'w');
        return spawn(
          keepalivedPath as string,
          ['-C', '-n', '-l', '-D', '-f', file, '-p', `${base}.pid`, '-c', `${base}.checkers.pid`],
          { detached: true, stdio: ['ignore', log, log] },
        );
      };

      /** SIGKILL to the whole group at once: no process is left to take the table down. */
      const kill = async (child: ChildProcess): Promise<void> => {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        process.kill(-(child.pid as number), 'SIGKILL');
        await gone;
        // A zombie may stay: the orphaned checker goes to PID 1, here the test runner, which does not reap.
        await waitFor('no keepalived process left running', async () => {
          const ps = (await director.tryRun(['ps', '-C', 'keepalived', '-o', 'stat='])).stdout;
          return ps.split('\n').every((stat) => stat.trim() === '' || stat.trim().startsWith('Z'));
        });
      };

      /** keepalived's table once it holds every rule expected (its checkers pass here), twice alike. */
      const programmed = async (name: string, expected: string) => {
        const want = sortedLines(withoutThresholds(expected)).join('\n');
        let last = '';
        await waitFor(
          `keepalived's table for ${name}`,
          async () => {
            const now = sortedLines(await director.ipvsadm('-Sn')).join('\n');
            const done = now === want && now === last;
            last = now;
            if (!done) await new Promise((r) => setTimeout(r, 500));
            return done;
          },
          60_000,
        );
        return director.ipvsadmViews();
      };

      /** keepalived on `file` until its table holds `expected`, then killed: the table it leaves. */
      const keepalivedTable = async (file: string, expected: string) => {
        await clean();
        keepalived = start(file);
        const table = await programmed(file, expected);
        await kill(keepalived);
        keepalived = null;
        expect(await director.ipvsadmViews(), 'SIGKILL leaves the table').toEqual(table);
        return table;
      };

      /** The fixture's hand-written rules (thresholds too), and lvsd on a clean table: that same table. */
      const fromScratch = async (
        config: string,
        expected: string,
        table: Record<string, string[]>,
      ) => {
        await director.ipvsadm('-C');
        await director.run(['ipvsadm-restore'], { input: expected });
        expect(await director.ipvsadmViews()).toEqual(table);
        await director.ipvsadm('-C');
        await applyHere(config, await state());
        expect(await director.ipvsadmViews()).toEqual(table);
      };

      it.each(KEEPALIVED_FILES)(
        "%s: lvsd plans nothing on keepalived's table, applies with 0 writes, makes it from scratch",
        async (name) => {
          const file = `test/migrate/fixtures/${name}`;
          const expected = readFileSync(file.replace(/\.conf$/, '.expected.rules'), 'utf8');
          const table = await keepalivedTable(file, expected);

          const config = join(scratch, `${name.replace(/\W/g, '_')}.yaml`);
          await importHere(file, config);
          const stateDir = await state();
          const plan = await planHere(config, stateDir);
          expect(plan.code, `lvsd plan on keepalived's table:\n${plan.out}\n${plan.err}`).toBe(0);
          expect(plan.out).toContain('No changes. The kernel table matches the configuration.');
          const switched = await applyHere(config, stateDir);
          expect(switched.ops, "IPVS operations of lvsd apply on keepalived's table").toBe(0);
          expect(switched.writes).toBe(0);
          expect(await director.ipvsadmViews()).toEqual(table);
          await fromScratch(config, expected, table);
        },
      );

      it('the commands as an operator runs them, on four of the files at once (included with {a,b})', async () => {
        const fixtures = join(process.cwd(), 'test/migrate/fixtures');
        const names = ['fwmark-pair', 'nat-dr', 'group', 'ipv6'];
        const file = join(scratch, 'director.conf');
        await writeFile(file, `include ${fixtures}/{${names.join(',')}}.conf\n`);
        const expected = names
          .map((n) => readFileSync(`${fixtures}/${n}.expected.rules`, 'utf8'))
          .join('');
        const table = await keepalivedTable(file, expected);

        const config = join(scratch, 'director.yaml');
        await ok('import', 'keepalived', file, '-o', config);
        const stateDir = await state();
        const plan = await lvsd('plan', '-c', config, '--state-dir', stateDir);
        expect(plan.code, `lvsd plan on keepalived's table:\n${plan.stdout}\n${plan.stderr}`).toBe(
          0,
        );
        expect(plan.stdout).toContain('No changes. The kernel table matches the configuration.');
        const apply = JSON.parse(
          await ok('apply', '-c', config, '--state-dir', stateDir, '--json'),
        );
        expect(apply).toMatchObject({ writes: 0, plan: { steps: [] } });
        expect(await director.ipvsadmViews()).toEqual(table);
        await fromScratch(config, expected, table);
      });
    });
  });
}
