/**
 * `lvsd plan` and `lvsd apply` as an operator runs them, in the classic LVS-NAT lab (lab
 * only: root, IPVS; run `npm run build` first): client 10.0.0.2 -> VIP 10.0.0.1 (the
 * director) -> real1 192.168.10.2 / real2 192.168.11.2, answered alternately through
 * `lvsd apply` alone; plan's exit codes 0 / 2 / 1; --timings and --json; an invalid config
 * changes nothing in the kernel; `plan --state` against a snapshot from `lvsd ls --json`;
 * a change the kernel refuses fails alone, exit 1, and the next apply converges.
 * This file writes the IPVS table of its network namespace (the suite gives it its own).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natLab, sortedLines, type BuiltLab } from '../lab/topology.js';

const inLab = process.env.LVSD_LAB === '1';

function natYaml(options: { weight2?: number; extra?: string } = {}): string {
  return `# the NAT web pair (examples/nat-web.yaml without health checks)
kernel:
  sysctl: { ip_forward: true, conn_reuse_mode: 1 }
reconcile:
  drain_timeout: 0s
services:
  web:
    address: 10.0.0.1:80
    protocol: tcp
    scheduler: rr
    forwarding: nat
    reals:
      - 192.168.10.2:80
      - { address: 192.168.11.2:80, weight: ${options.weight2 ?? 1} }
${options.extra ?? ''}`;
}

const NAT_RULES = `-A -t 10.0.0.1:80 -s rr
-a -t 10.0.0.1:80 -r 192.168.10.2:80 -m -w 1
-a -t 10.0.0.1:80 -r 192.168.11.2:80 -m -w 1`;

/** Phase names and times from `--timings` ("write ..... 12 ms"). */
function timings(stderr: string): Record<string, number> {
  const phases: Record<string, number> = {};
  for (const m of stderr.matchAll(/^(\w+) \.+ ([\d.]+) ms$/gm)) phases[m[1]!] = Number(m[2]);
  return phases;
}

if (!inLab) {
  describe.skip('lvsd plan / apply in the NAT lab (lab only: LVSD_LAB=1)', () =>
    it('needs the lab', () => undefined));
} else {
  describe('lvsd plan / apply in the NAT lab', () => {
    let nat: BuiltLab;
    let dir: string;
    let stateDir: string;
    const config = async (name: string, text: string) => {
      const path = join(dir, name);
      await writeFile(path, text);
      return path;
    };
    const lvsd = (...args: string[]) => nat.director.lvsd(args);
    const saved = async () => sortedLines(await nat.director.ipvsadm('-Sn'));

    beforeAll(async () => {
      nat = await natLab();
      await nat.director.ipvsadm('-C');
      await nat.director.sysctl('net.ipv4.ip_forward', 0);
      dir = await mkdtemp(join(tmpdir(), 'lvsd-cli-'));
      stateDir = join(dir, 'state');
    });
    afterAll(async () => {
      await nat?.director.ipvsadm('-C').catch(() => undefined);
      await nat?.teardown();
    });

    it('plan on an empty table: exit 2, the services and reals to add, the kernel untouched', async () => {
      const file = await config('nat.yaml', natYaml());
      const plan = await lvsd('plan', '-c', file, '--state-dir', stateDir);
      expect(plan.code, plan.stderr).toBe(2);
      expect(plan.stdout).toContain('+ TCP 10.0.0.1:80');
      expect(plan.stdout).toMatch(/\+ -> 192\.168\.10\.2:80/);
      expect(plan.stdout).toMatch(/\+ -> 192\.168\.11\.2:80/);
      expect(plan.stdout).toContain('sysctl net.ipv4.ip_forward: 0 -> 1');
      expect(plan.stdout).toMatch(/Plan: 3 to add, 1 to change, 0 to remove\./);
      expect(await saved()).toEqual([]);
      expect(await nat.director.readSysctl('net.ipv4.ip_forward')).toBe('0');
    });

    it(
      'apply: exit 0, --timings names every phase, ipvsadm -Sn shows the rules, both reals ' +
        'answer in turn',
      async () => {
        const file = await config('nat.yaml', natYaml());
        const apply = await lvsd('apply', '-c', file, '--state-dir', stateDir, '--timings');
        expect(apply.code, `${apply.stdout}\n${apply.stderr}`).toBe(0);
        expect(Object.keys(timings(apply.stderr))).toEqual(
          expect.arrayContaining(['load', 'read', 'plan', 'write']),
        );
        expect(await saved()).toEqual(sortedLines(NAT_RULES));
        expect(await nat.director.readSysctl('net.ipv4.ip_forward')).toBe('1');
        const answers = await nat.ask(4);
        expect(new Set(answers)).toEqual(new Set(['real1', 'real2']));
        expect(answers[0]).not.toBe(answers[1]);
        expect(answers[2]).toBe(answers[0]);
        expect(answers[3]).toBe(answers[1]);
      },
    );

    it('a second apply writes nothing (--json: 0 writes), and plan exits 0 with "No changes"', async () => {
      const file = await config('nat.yaml', natYaml());
      const again = await lvsd('apply', '-c', file, '--state-dir', stateDir, '--json', '--timings');
      expect(again.code, again.stderr).toBe(0);
      const report = JSON.parse(again.stdout) as {
        writes: number;
        failed: number;
        plan: { steps: unknown[]; sysctls: unknown[] };
      };
      expect(report.writes).toBe(0);
      expect(report.plan.steps).toEqual([]);
      expect(report.plan.sysctls).toEqual([]);
      const plan = await lvsd('plan', '-c', file, '--state-dir', stateDir);
      expect(plan.code).toBe(0);
      expect(plan.stdout).toContain('No changes.');
      expect(await saved()).toEqual(sortedLines(NAT_RULES));
    });

    it('an invalid config: exit 1, file and line named, nothing changed in the kernel', async () => {
      const before = await saved();
      // A weight change (would be one write) next to a typo and an out-of-range weight.
      const bad = await config(
        'bad.yaml',
        natYaml({ weight2: 70000 }).replace('scheduler: rr', 'schedular: rr'),
      );
      for (const command of ['apply', 'plan']) {
        const run = await lvsd(command, '-c', bad, '--state-dir', stateDir);
        expect(run.code, `${command}: ${run.stdout}${run.stderr}`).toBe(1);
        expect(run.stderr).toMatch(/bad\.yaml:\d+:\d+/);
        expect(run.stderr).toContain('schedular');
        expect(run.stderr).toContain('nothing was changed');
      }
      expect(await saved()).toEqual(before);
    });

    it('plan --state plans against a snapshot from lvsd ls --json: 0 when it matches, 2 with the change', async () => {
      const ls = await lvsd('ls', '--json');
      expect(ls.code, ls.stderr).toBe(0);
      const snapshot = join(dir, 'snapshot.json');
      await writeFile(snapshot, ls.stdout);
      const same = await lvsd(
        'plan',
        '-c',
        await config('nat.yaml', natYaml()),
        '--state',
        snapshot,
      );
      expect(same.code, `${same.stdout}${same.stderr}`).toBe(0);
      const edited = await lvsd(
        'plan',
        '-c',
        await config('nat5.yaml', natYaml({ weight2: 5 })),
        '--state',
        snapshot,
        '--json',
      );
      expect(edited.code, edited.stderr).toBe(2);
      const plan = JSON.parse(edited.stdout) as {
        steps: Array<{
          op: string;
          dest?: string;
          changes: Array<{ field: string; from: string; to: string }>;
        }>;
      };
      expect(plan.steps.map((s) => [s.op, s.dest, s.changes])).toEqual([
        ['edit-dest', '192.168.11.2:80', [{ field: 'weight', from: '1', to: '5' }]],
      ]);
      // The snapshot, not the kernel, was read: the kernel still has weight 1.
      expect(await saved()).toEqual(sortedLines(NAT_RULES));
      const broken = await lvsd(
        'plan',
        '-c',
        await config('nat.yaml', natYaml()),
        '--state',
        join(dir, 'bad.yaml'),
      );
      expect(broken.code).toBe(1);
    });

    it('a real the kernel refuses fails alone: exit 1, the rest applied; fixed, the next apply converges', async () => {
      // 10.0.0.255 is the broadcast address of the director's client network: no YAML rule
      // can know that, the kernel refuses it (EINVAL, "address not unicast").
      const refused =
        `  api:\n    address: 10.0.0.1:8080\n    scheduler: wlc\n    forwarding: nat\n    reals: ` +
        `[192.168.10.2:80, 10.0.0.255:80]\n`;
      const file = await config('partial.yaml', natYaml({ weight2: 3, extra: refused }));
      const apply = await lvsd('apply', '-c', file, '--state-dir', stateDir);
      expect(apply.code, `${apply.stdout}\n${apply.stderr}`).toBe(1);
      expect(apply.stdout).toMatch(/! add-dest TCP 10\.0\.0\.1:8080 -> 10\.0\.0\.255:80: .+/);
      expect(apply.stdout).toMatch(/Applied 3 of 4 changes; 1 failed\./);
      expect(await saved()).toEqual(
        sortedLines(`-A -t 10.0.0.1:80 -s rr
          -a -t 10.0.0.1:80 -r 192.168.10.2:80 -m -w 1
          -a -t 10.0.0.1:80 -r 192.168.11.2:80 -m -w 3
          -A -t 10.0.0.1:8080 -s wlc
          -a -t 10.0.0.1:8080 -r 192.168.10.2:80 -m -w 1`),
      );
      const fixed = await config(
        'partial.yaml',
        natYaml({ weight2: 3, extra: refused.replace('10.0.0.255:80', '192.168.11.2:80') }),
      );
      const next = await lvsd('apply', '-c', fixed, '--state-dir', stateDir, '--json');
      expect(next.code, next.stderr).toBe(0);
      expect((JSON.parse(next.stdout) as { writes: number }).writes).toBe(1);
      const last = await lvsd('plan', '-c', fixed, '--state-dir', stateDir);
      expect(last.code).toBe(0);
    });
  });
}
