/**
 * The unit `lvsd systemd-unit` prints, run by a real systemd against the lab's kernel:
 * systemd 252 (the host's) as PID 1 of a pid and mount namespace, with the unit and a lab
 * target (which requires lvsd and starts after it) in its /run/systemd/system; nothing the
 * host enabled is started. It proves what `systemd-analyze` cannot: Type=notify
 * readiness reaches systemd from inside the sandbox (`systemctl start` waits for it), lvsd
 * writes IPVS over netlink with only CAP_NET_ADMIN and CAP_NET_RAW, writes the IPVS sysctls
 * through ReadWritePaths=/proc/sys/net under ProtectKernelTunables=, keeps its state in
 * /run/lvsd; `systemctl reload` applies an edit, the watchdog is fed, and `systemctl stop`
 * leaves the table in place.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../lab/wait.js';

const inLab = process.env.LVSD_LAB === '1';
const SYSTEMD = '/lib/systemd/systemd';
const TEST_TIMEOUT_MS = 240_000;
const exec = promisify(execFile);
const repo = new URL('../..', import.meta.url).pathname;

/** Units the lab's read-only 9p root makes slow or pointless; masked in the namespace's /run. */
const MASKED = [
  'systemd-tmpfiles-setup.service',
  'systemd-tmpfiles-setup-dev.service',
  'systemd-tmpfiles-clean.timer',
  'systemd-journal-flush.service',
  'systemd-remount-fs.service',
  'systemd-modules-load.service',
  'systemd-sysctl.service',
  'systemd-update-utmp.service',
  'modprobe@.service',
  'dev-hugepages.mount',
  'dev-mqueue.mount',
  'sys-kernel-debug.mount',
  'sys-kernel-tracing.mount',
  'sys-kernel-config.mount',
  'sys-fs-fuse-connections.mount',
];

const config = (weight: number) => `kernel:
  sysctl: { expire_nodest_conn: true }
services:
  web:
    address: 10.30.0.1:80
    protocol: tcp
    scheduler: wlc
    forwarding: nat
    reals:
      - { address: 192.168.30.2:80, weight: ${weight} }
`;

/** Runs in the new namespaces, then becomes systemd. */
const SETUP = `set -e
mount -t tmpfs -o mode=0755 run /run
mkdir -p /run/systemd/system /run/lvsd-test /sys/fs/cgroup
mount -t cgroup2 cgroup2 /sys/fs/cgroup
printf '%s' "$LVSD_TEST_CONFIG" > /run/lvsd-test/lvsd.yaml
node "$LVSD_TEST_REPO/bin/lvsd.js" systemd-unit -c /run/lvsd-test > /run/systemd/system/lvsd.service
# A checkout under /tmp or /var/tmp is hidden by the unit's PrivateTmp=yes: bound into its sandbox, read-only.
case "$LVSD_TEST_REPO" in /tmp/*|/var/tmp/*)
  mkdir -p /run/systemd/system/lvsd.service.d
  printf '[Service]\\nBindReadOnlyPaths=%s\\n' "$LVSD_TEST_REPO" > /run/systemd/system/lvsd.service.d/checkout.conf ;;
esac
for unit in ${MASKED.join(' ')}; do ln -s /dev/null "/run/systemd/system/$unit"; done
printf '[Unit]\\nDescription=lab\\nRequires=lvsd.service\\nAfter=lvsd.service\\n' \\
  > /run/systemd/system/lab.target
exec env -i container=lvsd-lab PATH="$PATH" ${SYSTEMD} --unit=lab.target --log-target=console
`;

if (!inLab || !existsSync(SYSTEMD)) {
  describe.skip(`lvsd's unit under systemd (lab only, with ${SYSTEMD}: LVSD_LAB=1, package systemd)`, () =>
    it('needs the lab and systemd', () => undefined));
} else {
  describe("lvsd's unit under systemd", () => {
    let unshare: ChildProcess;
    let pid1 = 0;
    let console = '';
    /** A command in systemd's namespaces (its root, /run and pid 1). */
    const inside = async (...args: string[]) =>
      (await exec('nsenter', ['-t', String(pid1), '-m', '-p', '-r', '-w', ...args])).stdout;
    const systemctl = (...args: string[]) => inside('systemctl', '--no-pager', ...args);
    const ipvsadm = async () => (await exec('ipvsadm', ['-Ln'])).stdout;
    const wait = <T>(what: string, check: () => T | Promise<T>) =>
      waitUntil(what, check, { timeoutMs: 180_000, pollMs: 500 });

    beforeAll(async () => {
      await exec('ipvsadm', ['-C']);
      unshare = spawn(
        'unshare',
        [
          '--pid',
          '--fork',
          '--mount',
          '--mount-proc',
          '--propagation',
          'private',
          'sh',
          '-c',
          SETUP,
        ],
        {
          env: { ...process.env, LVSD_TEST_CONFIG: config(1), LVSD_TEST_REPO: repo },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      for (const stream of [unshare.stdout!, unshare.stderr!])
        stream.on('data', (chunk: Buffer) => (console += chunk.toString()));
      pid1 = await wait('systemd as pid 1 of the namespace', async () => {
        const children = await readFile(
          `/proc/${unshare.pid}/task/${unshare.pid}/children`,
          'utf8',
        );
        const child = Number(children.trim().split(' ')[0]);
        const comm = child ? (await readFile(`/proc/${child}/comm`, 'utf8')).trim() : '';
        return comm === 'systemd' ? child : 0;
      });
    }, TEST_TIMEOUT_MS);

    afterAll(async () => {
      // Killing pid 1 of the namespace ends every process in it.
      if (pid1) process.kill(pid1, 'SIGKILL');
      unshare?.kill('SIGKILL');
      await exec('ipvsadm', ['-C']);
    });

    it(
      'systemd reaches the lab target, which waits for lvsd to say it is ready',
      async () => {
        try {
          await wait(
            'lab.target active',
            async () => (await systemctl('is-active', 'lab.target')).trim() === 'active',
          );
        } catch (err) {
          const status = await systemctl('status', 'lvsd').catch(
            (e: { stdout?: string }) => e.stdout ?? '',
          );
          throw new Error(`${(err as Error).message}\n${status}\n${console.slice(-4000)}`);
        }
        const show = await systemctl(
          'show',
          'lvsd',
          '-p',
          'ActiveState',
          '-p',
          'Type',
          '-p',
          'StatusText',
        );
        expect(show).toContain('ActiveState=active');
        expect(show).toContain('Type=notify');
        expect(show).toMatch(/StatusText=converged/);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'lvsd wrote the table and the sysctls from inside its sandbox, and its state to /run/lvsd',
      async () => {
        expect(await ipvsadm()).toMatch(
          /TCP {2}10\.30\.0\.1:80 wlc\n\s+-> 192\.168\.30\.2:80 +Masq +1 /,
        );
        expect((await readFile('/proc/sys/net/ipv4/vs/expire_nodest_conn', 'utf8')).trim()).toBe(
          '1',
        );
        expect(await inside('cat', '/run/lvsd/state.json')).toContain('10.30.0.1');
        const caps = await systemctl('show', 'lvsd', '-p', 'CapabilityBoundingSet');
        expect(caps.trim()).toBe('CapabilityBoundingSet=cap_net_admin cap_net_raw');
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'systemctl reload applies an edit, and the watchdog is fed',
      async () => {
        await writeFile(`/proc/${pid1}/root/run/lvsd-test/lvsd.yaml`, config(3));
        await systemctl('reload', 'lvsd');
        await wait('weight 3', async () => / 192\.168\.30\.2:80 +Masq +3 /.test(await ipvsadm()));
        const fed = await wait('a watchdog ping', async () => {
          const shown = await systemctl('show', 'lvsd', '-p', 'WatchdogTimestampMonotonic');
          return /=[1-9]/.test(shown) ? shown : null;
        });
        expect(fed).toMatch(/WatchdogTimestampMonotonic=\d+/);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'systemctl stop leaves the table in place',
      async () => {
        await systemctl('stop', 'lvsd');
        expect(
          (await systemctl('is-active', 'lvsd').catch((e: { stdout: string }) => e.stdout)).trim(),
        ).toBe('inactive');
        expect(await ipvsadm()).toMatch(/-> 192\.168\.30\.2:80 +Masq +3 /);
      },
      TEST_TIMEOUT_MS,
    );
  });
}
