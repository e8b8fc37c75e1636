/**
 * `lvsd plan` and `lvsd apply` end to end on the fake kernel: validate first (an invalid
 * config makes zero kernel calls), terraform-like output and exit codes, idempotence,
 * `plan --state` against a snapshot written by `lvsd ls --json`.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runApply } from '../../src/cli/commands/apply.js';
import { runLs } from '../../src/cli/commands/ls.js';
import { runPlan } from '../../src/cli/commands/plan.js';
import { testIo } from './io.js';
import type { IpvsClient } from '../../src/ipvs/client.js';
import { FakeAddresses } from '../../src/director/fake-vip-addresses.js';
import { FakeIpvs } from '../../src/ipvs/fake.js';
import { MemorySysctls } from '../../src/sysctl/memory.js';
import type { SysctlAccess } from '../../src/sysctl/access.js';

const config = `
services:
  web:
    address: 10.0.0.1:80
    protocol: tcp
    scheduler: rr
    forwarding: nat
    reals:
      - 192.168.10.2:80
      - { address: 192.168.11.2:80, weight: 3 }
`;

/** A kernel behind a client whose close() does not end it, so runs can share it. */
function sharedKernel(kernel: FakeIpvs): () => Promise<IpvsClient> {
  let opened = 0;
  const open = async (): Promise<IpvsClient> => {
    opened++;
    return Object.assign(Object.create(kernel) as FakeIpvs, { close: async () => undefined });
  };
  return Object.assign(open, {
    get opened() {
      return opened;
    },
  });
}

const noSysctls = new MemorySysctls();

let dir: string;

/** What `lvsd ls --json` prints on this director (fake host ports: no sysctls, no VIPs). */
async function snapshotOf(stateDir: string): Promise<string> {
  let text = '';
  const ports = { sysctls: noSysctls, openAddresses: null, markRules: null };
  await runLs({ json: true, stateDir }, open, (t) => (text += t), undefined, ports);
  return text;
}
let kernel: FakeIpvs;
let open: ReturnType<typeof sharedKernel> & { opened?: number };

async function writeConfig(text: string): Promise<string> {
  const path = join(dir, 'lvsd.yaml');
  await writeFile(path, text);
  return path;
}

const io = () => testIo(open, { sysctls: noSysctls, addresses: null });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lvsd-cli-'));
  kernel = new FakeIpvs();
  open = sharedKernel(kernel);
});

describe('lvsd plan / apply on the fake kernel', () => {
  it(
    'plan shows the changes and exits 2; apply makes them; a second apply writes nothing; plan ' +
      'then exits 0',
    async () => {
      const path = await writeConfig(config);
      const options = { config: path, stateDir: join(dir, 'state') };
      const planned = io();
      expect(await runPlan(options, planned)).toBe(2);
      expect(planned.out).toContain('+ TCP 10.0.0.1:80 (web)  rr');
      expect(planned.out).toContain('+ -> 192.168.11.2:80  Masq  weight 3');
      expect(planned.out).toContain('Plan: 3 to add, 0 to change, 0 to remove.');
      expect(kernel.log).toEqual([]);

      const applied = io();
      expect(await runApply(options, applied)).toBe(0);
      expect(applied.out).toContain('Applied 3 changes.');
      expect(kernel.log).toHaveLength(3);

      const again = io();
      expect(await runApply(options, again)).toBe(0);
      expect(again.out).toContain('No changes.');
      expect(kernel.log).toHaveLength(3);
      expect(await runPlan(options, io())).toBe(0);
    },
  );

  it('an invalid config exits 1 with file:line, and never opens the kernel', async () => {
    const path = await writeConfig(config.replace('scheduler: rr', 'scheduler: rrr'));
    const out = io();
    expect(await runApply({ config: path, stateDir: join(dir, 'state') }, out)).toBe(1);
    expect(out.err).toMatch(/lvsd\.yaml:6:\d+: error: services\.web\.scheduler/);
    expect(out.err).toContain('nothing was changed');
    expect(open.opened).toBe(0);
    expect(kernel.log).toEqual([]);
  });

  it('an emptied config is refused by apply (exit 1, nothing removed) and flagged by plan', async () => {
    const path = await writeConfig(config);
    const options = { config: path, stateDir: join(dir, 'state') };
    expect(await runApply(options, io())).toBe(0);
    const writes = kernel.log.length;
    await writeConfig('# truncated\n');
    const planned = io();
    expect(await runPlan(options, planned)).toBe(2);
    expect(planned.err).toContain(
      'warning: apply would refuse this plan: refusing to remove every service lvsd manages (1 of 1): TCP 10.0.0.1:80',
    );
    const refused = io();
    expect(await runApply(options, refused)).toBe(1);
    expect(refused.err).toContain(
      'nothing was changed. If this is meant, pass --allow-mass-removal',
    );
    expect(kernel.log).toHaveLength(writes);
    expect((await kernel.readTable()).services).toHaveLength(1);

    const json = io();
    expect(await runApply({ ...options, json: true }, json)).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({
      writes: 0,
      refused: { removing: ['TCP 10.0.0.1:80'], managed: 1, maxRemoval: 0.5 },
    });

    expect(await runApply({ ...options, allowMassRemoval: true }, io())).toBe(0);
    expect((await kernel.readTable()).services).toHaveLength(0);
  });

  it('apply waits for another writer, then fails naming it; plan takes no lock', async () => {
    const path = await writeConfig(config);
    const stateDir = join(dir, 'state');
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], {
      stdio: 'ignore',
    });
    try {
      await mkdir(stateDir, { recursive: true });
      await writeFile(join(stateDir, 'lock'), `${holder.pid}\n`);
      expect(await runPlan({ config: path, stateDir }, io())).toBe(2);
      const out = io();
      const started = Date.now();
      expect(await runApply({ config: path, stateDir }, out)).toBe(1);
      expect(Date.now() - started).toBeGreaterThanOrEqual(9000);
      expect(out.err).toContain(
        `lvsd apply: another lvsd is changing this director (pid ${holder.pid}`,
      );
      expect(kernel.log).toEqual([]);
    } finally {
      holder.kill('SIGKILL');
    }
  }, 20_000);

  it('--json errors are JSON on stdout, with the same exit codes', async () => {
    const path = await writeConfig(config);
    const options = { config: path, stateDir: join(dir, 'state'), json: true };
    const noKernel = testIo(async () => {
      throw new Error('IPVS is not available: the ip_vs module is not loaded');
    });
    expect(await runApply(options, noKernel)).toBe(1);
    expect(JSON.parse(noKernel.out)).toEqual({
      error: { command: 'apply', message: 'IPVS is not available: the ip_vs module is not loaded' },
    });
    expect(noKernel.err).toBe('');
    const plan = testIo(noKernel.openKernel);
    expect(await runPlan(options, plan)).toBe(1);
    expect(JSON.parse(plan.out).error.command).toBe('plan');
  });

  it('a one-weight edit applies as exactly one kernel write', async () => {
    const path = await writeConfig(config);
    const options = { config: path, stateDir: join(dir, 'state') };
    await runApply(options, io());
    kernel.log.length = 0;
    await writeConfig(config.replace('weight: 3', 'weight: 5'));
    const out = io();
    expect(await runApply({ ...options, json: true }, out)).toBe(0);
    expect(kernel.log).toEqual([expect.objectContaining({ op: 'edit-dest' })]);
    expect(JSON.parse(out.out)).toMatchObject({ writes: 1, failed: 0 });
  });

  it('apply reports a refused change, exits 1, and still applies the rest', async () => {
    const path = await writeConfig(`${config}
  other:
    address: 10.0.0.2:80
    protocol: tcp
    scheduler: ovf
    reals: [192.168.10.3:80]
`);
    const picky = new FakeIpvs({ schedulers: ['rr', 'wlc'] });
    const out = testIo(sharedKernel(picky), { sysctls: noSysctls, addresses: null });
    expect(await runApply({ config: path, stateDir: join(dir, 'state') }, out)).toBe(1);
    expect(out.out).toContain('Scheduler not found: ip_vs_ovf');
    expect((await picky.readTable()).services).toHaveLength(1);
  });

  it('plan --state plans against a snapshot from lvsd ls --json, without a kernel', async () => {
    const path = await writeConfig(config);
    await runApply({ config: path, stateDir: join(dir, 'state') }, io());
    const snapshotPath = join(dir, 'lb1.json');
    await writeFile(snapshotPath, await snapshotOf(join(dir, 'state')));
    await writeConfig(config.replace('scheduler: rr', 'scheduler: wrr'));
    const noKernel = testIo(async () => {
      throw new Error('the kernel must not be opened');
    });
    expect(
      await runPlan({ config: path, stateDir: join(dir, 'state'), state: snapshotPath }, noKernel),
    ).toBe(2);
    expect(noKernel.out).toContain('scheduler: rr -> wrr');
    expect(noKernel.err).toBe('');
  });

  it('plan --state shows the removal of a managed service, as apply would make it', async () => {
    const path = await writeConfig(`${config}
  api:
    address: 10.0.0.2:80
    protocol: tcp
    reals: [192.168.10.3:80]
`);
    const stateDir = join(dir, 'state');
    await runApply({ config: path, stateDir }, io());
    const snapshot = await snapshotOf(stateDir);
    expect(JSON.parse(snapshot)).toMatchObject({
      lvsd: { format: 1 },
      state: { owned: ['TCP 10.0.0.1:80', 'TCP 10.0.0.2:80'] },
    });
    await writeConfig(config);
    const ci = testIo(
      async () => {
        throw new Error('the kernel must not be opened');
      },
      {},
      snapshot,
    );
    expect(await runPlan({ config: path, stateDir: '/nonexistent', state: '-' }, ci)).toBe(2);
    expect(ci.out).toContain('- TCP 10.0.0.2:80');
    expect(ci.out).toContain('Plan: 0 to add, 0 to change, 2 to remove.');
    const director = io();
    expect(await runApply({ config: path, stateDir }, director)).toBe(0);
    expect(director.out).toContain('Applied 2 changes.');
  });

  it('-c - reads the config from standard input', async () => {
    const out = testIo(open, { sysctls: noSysctls, addresses: null }, config);
    expect(await runPlan({ config: '-', stateDir: join(dir, 'state') }, out)).toBe(2);
    expect(out.out).toContain('+ TCP 10.0.0.1:80 (web)  rr');
    const bad = testIo(
      open,
      { sysctls: noSysctls, addresses: null },
      'services: {web: {address: 1}}\n',
    );
    expect(await runPlan({ config: '-', stateDir: join(dir, 'state') }, bad)).toBe(1);
    expect(bad.err).toMatch(/^<stdin>:1:\d+: error: services\.web/m);
  });

  it('plan --state reads a bare table from an older lvsd with a warning that removals cannot be shown', async () => {
    const path = await writeConfig(config);
    await runApply({ config: path, stateDir: join(dir, 'state') }, io());
    const old = join(dir, 'old.json');
    await writeFile(
      old,
      JSON.stringify({ services: JSON.parse(await snapshotOf(join(dir, 'state'))).services }),
    );
    const out = io();
    expect(await runPlan({ config: path, stateDir: join(dir, 'state'), state: old }, out)).toBe(0);
    expect(out.err).toMatch(
      /is a bare table from an older lvsd: it does not say what lvsd owns, so removals cannot be shown/,
    );
  });

  it('plan --state with a file that is no snapshot exits 1 and says why', async () => {
    const path = await writeConfig(config);
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"services": [{"port": "x"}]}');
    const out = io();
    expect(await runPlan({ config: path, stateDir: join(dir, 'state'), state: bad }, out)).toBe(1);
    expect(out.err).toMatch(/is not an lvsd snapshot \(lvsd ls --json\)/);
  });

  it('apply --json lists sysctls and addresses with the IPVS operations, and counts them all as writes', async () => {
    const path = await writeConfig(`kernel:
  sysctl: { ip_forward: true }
services:
  web:
    address: 10.0.0.1:80
    scheduler: rr
    forwarding: nat
    vip: lvsd0
    reals: [192.168.10.2:80]
`);
    const written: string[] = [];
    const sysctls: SysctlAccess = {
      read: async (names) => Object.fromEntries(names.map((n) => [n, 0])),
      write: async (name, value) => {
        written.push(`${name}=${value}`);
      },
    };
    const addresses = new FakeAddresses();
    const out = testIo(open, { sysctls, addresses });
    expect(await runApply({ config: path, stateDir: join(dir, 'state'), json: true }, out)).toBe(0);
    const report = JSON.parse(out.out) as {
      applied: Array<{ op: string }>;
      writes: number;
      failed: number;
    };
    expect(report.applied.map((a) => a.op)).toEqual([
      'set-sysctl',
      'add-service',
      'add-dest',
      'create-dummy',
      'link-up',
      'add-address',
    ]);
    expect(report).toMatchObject({ writes: 6, failed: 0 });
    expect(written).toEqual(['net.ipv4.ip_forward=1']);
    expect(addresses.addresses.map((a) => `${a.address}/${a.prefix} ${a.interface}`)).toContain(
      '10.0.0.1/32 lvsd0',
    );
  });

  it('--timings prints each phase on stderr', async () => {
    const path = await writeConfig(config);
    const out = io();
    await runApply({ config: path, stateDir: join(dir, 'state'), timings: true }, out);
    for (const phase of ['load', 'validate', 'read', 'plan', 'write'])
      expect(out.err).toMatch(new RegExp(`^${phase} \\.+ [\\d.]+ ms$`, 'm'));
  });
});
