/**
 * Fault suite, part 2: damaged configs fed to a running `lvsd run`, and hands that change
 * the table behind its back. Lab only: root, IPVS, ipvsadm.
 *
 * The daemon runs a config of its own (test/kernel/faults/mutants.ts: three services in no
 * example, no health checks, drift_interval 3s) beside a foreign service made with ipvsadm.
 * About 210 mutants of examples/*.yaml (truncated, wrong types, duplicated keys, binary
 * garbage, empty, only comments, `services:` with nothing...) replace its file one after
 * another, each renamed over it in one step: the first half reach the daemon through its
 * file watcher, the second half through SIGHUP alone (the daemon restarted with --no-watch).
 * After each: exactly one refused reload of the kind the mutant is (invalid, or valid but
 * refused by the guard against mass removal), lvsd_config_last_reload_successful 0, the
 * config in force unchanged (lvsd_config_info), lvsd_kernel_writes_total unchanged and
 * `ipvsadm -Sn` as before. The running config emptied or cut short, both ways, likewise.
 * Then a valid edit applies.
 *
 * Interference: right after a refused reload (the guard's case, which once left the refused
 * config's drift interval and a forgotten aim behind), `ipvsadm -e -w`, `-d`, `-D` and `-C`
 * are each put back within one drift interval and counted in lvsd_drift_repairs_total.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Daemon,
  figure,
  freePort,
  ipvsadm,
  replaceFile,
  ruleDiff,
  rules,
  scrape,
  total,
  waitFor,
} from './faults/lvsd.js';
import { mutants, runningConfig, runningDamaged, type Mutant } from './faults/mutants.js';
import { exampleFiles, FAULT_SEED } from './faults/sources.js';

const DRIFT_MS = 3000;
const LONG_MS = 1_200_000;
const FOREIGN = '10.250.0.1:53';

type Path = 'watcher' | 'SIGHUP';

describe.skipIf(process.env.LVSD_LAB !== '1')(
  'fault suite: damaged configs and interference',
  () => {
    const all = mutants(exampleFiles(), FAULT_SEED);
    const half = Math.ceil(all.length / 2);
    let file: string;
    let stateDir: string;
    let port: number;
    let daemon: Daemon;
    /** The table, kernel writes and config in force that every refused reload must leave. */
    let baseline: { rules: string[]; writes: number; config: string[] };
    const tally = { tried: 0, invalid: 0, refused: 0, ms: 0 };

    const start = async (extra: string[]) => {
      const args = ['-c', file, '--state-dir', stateDir, '--http', `127.0.0.1:${port}`];
      daemon = new Daemon([...args, '--reload-debounce', '50ms', ...extra]);
      const ms = await daemon.ready(port);
      return ms;
    };

    const takeBaseline = async () => {
      const series = await scrape(port);
      baseline = {
        rules: await rules(),
        writes: total(series, 'lvsd_kernel_writes_total'),
        config: [...series.keys()].filter((k) => k.startsWith('lvsd_config_info{')),
      };
      expect(series.get('lvsd_config_last_reload_successful')).toBe(1);
    };

    beforeAll(async () => {
      await ipvsadm('-C');
      await ipvsadm('-A', '-t', FOREIGN, '-s', 'sh');
      await ipvsadm('-a', '-t', FOREIGN, '-r', '192.168.250.2:53', '-m', '-w', '3');
      const dir = await mkdtemp(join(tmpdir(), 'lvsd-faults-configs-'));
      file = join(dir, 'lvsd.yaml');
      stateDir = join(dir, 'state');
      port = await freePort();
      await replaceFile(file, runningConfig());
      const ms = await start([]);
      figure(`configs: daemon ready ${ms} ms after start (watching its file)`);
      await takeBaseline();
      // The foreign service and its real, three services and their six reals.
      expect(baseline.rules).toHaveLength(2 + 3 + 6);
    }, LONG_MS);

    afterAll(async () => {
      await daemon?.stop('SIGKILL');
      await ipvsadm('-C');
    });

    /** One damaged file through one path; every check of the file's header. */
    async function feed(m: Mutant, path: Path): Promise<void> {
      const from = daemon.lines.length;
      const began = Date.now();
      await replaceFile(file, m.bytes);
      if (path === 'SIGHUP') daemon.child.kill('SIGHUP');
      await waitFor(
        `${m.id}: a refused reload`,
        () => daemon.events('config_rejected', from).length > 0,
        120_000,
        20,
      );
      const refused = daemon.events('removal_refused', from).length > 0;
      if (m.expect === 'invalid')
        expect(refused, `${m.id}: refused by the guard, not the validator`).toBe(false);
      if (m.expect === 'refused') expect(refused, `${m.id}: not refused by the guard`).toBe(true);
      if (!refused) {
        // Every error names the file, the line and the column.
        const errors = daemon.events('config_rejected', from)[0]!.errors as string[];
        expect(errors.length, m.id).toBeGreaterThan(0);
        const named = new RegExp(
          `^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: error: `,
        );
        for (const e of errors) expect(e, m.id).toMatch(named);
      }
      const [series, table] = await Promise.all([scrape(port), rules()]);
      expect(series.get('lvsd_config_last_reload_successful'), m.id).toBe(0);
      expect(total(series, 'lvsd_kernel_writes_total'), m.id).toBe(baseline.writes);
      expect(
        [...series.keys()].filter((k) => k.startsWith('lvsd_config_info{')),
        m.id,
      ).toEqual(baseline.config);
      expect(table, `${m.id}\n${ruleDiff(baseline.rules, table)}`).toEqual(baseline.rules);
      expect(daemon.running, m.id).toBe(true);
      tally.tried++;
      tally[refused ? 'refused' : 'invalid']++;
      tally.ms += Date.now() - began;
    }

    async function feedAll(list: readonly Mutant[], path: Path): Promise<void> {
      const before = daemon.events('config_rejected').length;
      const started = { ...tally };
      for (const m of list) await feed(m, path);
      // Exactly one reload per file: none lost, none doubled by a late event.
      await new Promise((r) => setTimeout(r, 1000));
      expect(daemon.events('config_rejected').length - before).toBe(list.length);
      const n = tally.tried - started.tried;
      figure(
        `configs via ${path}: ${n} damaged files, ${tally.invalid - started.invalid} refused as invalid, ` +
          `${tally.refused - started.refused} refused by the guard; 0 kernel writes, table unchanged, ` +
          `reload metric 0 after each; ${Math.round((tally.ms - started.ms) / n)} ms a file`,
      );
    }

    async function validEdit(edit: boolean, path: Path): Promise<void> {
      const from = daemon.lines.length;
      await replaceFile(file, runningConfig(edit));
      if (path === 'SIGHUP') daemon.child.kill('SIGHUP');
      const weight = edit ? 5 : 1;
      await waitFor(`weight ${weight} in the kernel`, async () =>
        (await rules()).includes(`-a -t 10.40.0.1:80 -r 192.168.40.3:8080 -m -w ${weight}`),
      );
      await waitFor(
        'the reload metric back to 1',
        async () => (await scrape(port)).get('lvsd_config_last_reload_successful') === 1,
      );
      // The log line follows the write by a moment.
      await waitFor('the write logged', () => daemon.events('kernel_write', from).length > 0);
      expect(daemon.events('kernel_write', from).map((l) => l.action)).toEqual(['change']);
      figure(`configs via ${path}: then a valid edit applied (1 write, reload metric 1)`);
      await takeBaseline();
    }

    it(
      'watcher: the running config emptied or cut short leaves the table as it was',
      async () => {
        for (const m of runningDamaged()) await feed(m, 'watcher');
      },
      LONG_MS,
    );

    it(
      `watcher: ${half} mutated configs, 0 kernel writes, table unchanged, metric 0 after each`,
      async () => {
        await feedAll(all.slice(0, half), 'watcher');
      },
      LONG_MS,
    );

    it(
      'watcher: a valid edit applies after them',
      async () => {
        await validEdit(true, 'watcher');
      },
      LONG_MS,
    );

    it(
      'restarted with --no-watch on the same config: zero kernel writes',
      async () => {
        expect((await daemon.stop('SIGTERM')).code).toBe(0);
        expect(await rules()).toEqual(baseline.rules);
        const ms = await start(['--no-watch']);
        expect(daemon.events('kernel_write')).toEqual([]);
        await takeBaseline();
        expect(baseline.writes).toBe(0);
        figure(`configs: restarted with --no-watch, ready in ${ms} ms, 0 kernel writes`);
      },
      LONG_MS,
    );

    it(
      'SIGHUP: the running config emptied or cut short leaves the table as it was',
      async () => {
        for (const m of runningDamaged()) await feed(m, 'SIGHUP');
      },
      LONG_MS,
    );

    it(
      `SIGHUP: ${all.length - half} mutated configs, 0 kernel writes, table unchanged, metric 0 after each`,
      async () => {
        await feedAll(all.slice(half), 'SIGHUP');
      },
      LONG_MS,
    );

    it(
      'after a refused reload, ipvsadm -e -w, -d, -D and -C are repaired within one drift interval and counted',
      async () => {
        await feed(runningDamaged()[0]!, 'SIGHUP');
        const cases: Array<{ argv: string[]; adds: number; changes: number }> = [
          {
            argv: ['-e', '-t', '10.40.0.1:80', '-r', '192.168.40.2:8080', '-m', '-w', '7'],
            adds: 0,
            changes: 1,
          },
          { argv: ['-d', '-t', '10.40.0.25:25', '-r', '192.168.40.20:25'], adds: 1, changes: 0 },
          { argv: ['-D', '-u', '10.40.0.53:53'], adds: 3, changes: 0 },
          { argv: ['-C'], adds: 9, changes: 0 },
        ];
        const ours = baseline.rules.filter((r) => !r.includes(FOREIGN));
        for (const { argv, adds, changes } of cases) {
          const series = await scrape(port);
          const before = {
            add: series.get('lvsd_drift_repairs_total{action="add"}') ?? 0,
            change: series.get('lvsd_drift_repairs_total{action="change"}') ?? 0,
          };
          const from = daemon.lines.length;
          const at = Date.now();
          await ipvsadm(...argv);
          // -C takes the foreign service too; lvsd must not bring that back.
          const want = argv[0] === '-C' ? ours : baseline.rules;
          await waitFor(
            `ipvsadm ${argv.join(' ')} repaired`,
            async () => {
              const got = await rules();
              return got.length === want.length && got.every((r, i) => r === want[i]);
            },
            120_000,
            50,
          );
          await waitFor(
            'the repairs logged',
            () => daemon.events('drift_repair', from).length >= adds + changes,
          );
          const repairs = daemon.events('drift_repair', from);
          expect(repairs.length, `ipvsadm ${argv.join(' ')}`).toBe(adds + changes);
          const took = Math.max(...repairs.map((l) => Date.parse(String(l.time)))) - at;
          await waitFor('the repairs counted', async () => {
            const now = await scrape(port);
            return (
              (now.get('lvsd_drift_repairs_total{action="add"}') ?? 0) - before.add === adds &&
              (now.get('lvsd_drift_repairs_total{action="change"}') ?? 0) - before.change ===
                changes
            );
          });
          figure(
            `interference: ipvsadm ${argv.join(' ')} repaired ${took} ms later ` +
              `(drift_interval ${DRIFT_MS} ms), ${adds + changes} repairs counted`,
          );
          // One interval after the last full pass; the pass itself and a busy emulated CPU add a little.
          expect(took, `ipvsadm ${argv.join(' ')}`).toBeLessThanOrEqual(DRIFT_MS + 4000);
          expect(daemon.events('kernel_write', from)).toEqual([]);
        }
        await ipvsadm('-A', '-t', FOREIGN, '-s', 'sh');
        await ipvsadm('-a', '-t', FOREIGN, '-r', '192.168.250.2:53', '-m', '-w', '3');
      },
      LONG_MS,
    );

    it(
      'SIGHUP: a valid edit applies after them',
      async () => {
        await validEdit(false, 'SIGHUP');
        figure(
          `configs summary: ${tally.tried} damaged configs tried (${all.length} mutants of ` +
            `${exampleFiles().length} example files, seed ${FAULT_SEED}, and the running config ` +
            `emptied or cut short ${tally.tried - all.length} times), ${tally.invalid} invalid, ` +
            `${tally.refused} refused by the guard, 0 kernel writes`,
        );
      },
      LONG_MS,
    );
  },
);
