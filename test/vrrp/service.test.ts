/**
 * The VRRP glue without sockets: VrrpService with fake links (adverts recorded, adverts
 * delivered by hand) and the in-memory address client, on 20 ms intervals. What a role
 * change does (VIPs, announcements, notify argv, the sync role), stale VIPs at start,
 * priority 0 on stop, tracking by weight and by FAULT, sync groups, split-brain suspicion,
 * and the status and metrics rendered from it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ResolvedVrrpInstance } from '../../src/config/vrrp.js';
import { FakeAddresses } from '../../src/director/fake-vip-addresses.js';
import { silentLogger } from '../../src/util/log.js';
import type { Link, LinkSpec } from '../../src/vrrp/link.js';
import { renderVrrpMetrics } from '../../src/vrrp/metrics.js';
import type { Advert } from '../../src/vrrp/packet.js';
import type { SyncRole } from '../../src/reconcile/sync-role.js';
import { VrrpService } from '../../src/vrrp/service.js';
import { renderVrrpStatus } from '../../src/vrrp/status.js';
import { waitUntil } from '../lab/wait.js';

class FakeLink implements Link {
  readonly sent: Array<{ advert: Advert; peers: readonly string[] | null }> = [];
  readonly announced: string[][] = [];
  closed = false;
  constructor(readonly spec: LinkSpec) {}
  get source() {
    return this.spec.source;
  }
  get interfaceName() {
    return this.spec.interface;
  }
  get family() {
    return this.spec.family;
  }
  advertise(advert: Advert, peers: readonly string[] | null): void {
    this.sent.push({ advert, peers });
  }
  announce(addresses: readonly string[]): void {
    this.announced.push([...addresses]);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  /** An advert from another router on this link. */
  hear(from: string, priority: number, vrid = 51): void {
    const advert = {
      version: 3 as const,
      vrid,
      priority,
      intervalCs: 2,
      addresses: ['192.0.2.100'],
    };
    this.spec.onAdvert({ advert, from, at: Date.now() });
  }
}

function instance(overrides: Partial<ResolvedVrrpInstance> = {}): ResolvedVrrpInstance {
  return {
    name: 'VI_1',
    interface: 'eth0',
    vrid: 51,
    version: 3,
    family: 'ipv4',
    priority: 150,
    intervalCs: 2,
    preempt: true,
    preemptDelayMs: 0,
    vips: [{ address: '192.0.2.100', prefix: 24 }],
    advertised: ['192.0.2.100'],
    unicast: null,
    track: { interfaces: [], services: [], exec: null, weight: null },
    syncDaemon: false,
    notify: null,
    ...overrides,
  };
}

interface Harness {
  service: VrrpService;
  addresses: FakeAddresses;
  links: FakeLink[];
  roles: SyncRole[];
  down: Set<string>;
  link(name: string): FakeLink;
}

const services: VrrpService[] = [];
afterEach(async () => {
  for (const s of services.splice(0)) await s.stop();
});

function harness(
  extra: { serviceDown?: (name: string) => boolean; stale?: boolean } = {},
): Harness {
  const addresses = new FakeAddresses({
    links: [
      { name: 'eth0', kind: null, up: true },
      { name: 'eth1', kind: null, up: true },
    ],
    addresses: [
      { address: '192.0.2.2', prefix: 24, interface: 'eth0' },
      { address: '198.51.100.2', prefix: 24, interface: 'eth1' },
      ...(extra.stale ? [{ address: '192.0.2.100', prefix: 24, interface: 'eth0' }] : []),
    ],
  });
  const links: FakeLink[] = [];
  const roles: SyncRole[] = [];
  const down = new Set<string>();
  const service = new VrrpService({
    log: silentLogger(),
    openAddresses: async () => addresses,
    serviceDown: extra.serviceDown ?? (() => false),
    onSyncRole: (role) => roles.push(role),
    trackIntervalMs: 10,
    openLink: (spec) => {
      const link = new FakeLink(spec);
      links.push(link);
      return link;
    },
    interfaceUp: async (name) => !down.has(name),
  });
  services.push(service);
  const link = (name: string) => links.find((l) => l.interfaceName === name) as FakeLink;
  return { service, addresses, links, roles, down, link };
}

const wait = { timeoutMs: 3000, pollMs: 5 };
const role = (h: Harness, name: string) => h.service.status().find((s) => s.name === name)?.role;
const holds = (h: Harness, address: string) =>
  h.addresses.addresses.some((a) => a.address === address);

describe('VrrpService', () => {
  it('a master adds its VIPs, announces them, runs notify, steers the sync role; stop sends priority 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvsd-vrrp-'));
    const out = join(dir, 'notify.txt');
    const notify = [
      process.execPath,
      '-e',
      `require('fs').appendFileSync(${JSON.stringify(out)}, process.argv.slice(1).join(' ') + '\\n')`,
    ];
    const h = harness({ stale: true });
    await h.service.update({ instances: [instance({ notify, syncDaemon: true })], syncGroups: [] });
    // The stale VIP of an earlier run went before the instance listened.
    expect(h.addresses.writes[0]).toBe('delete 192.0.2.100/24 on eth0');
    expect(h.roles).toEqual(['backup']);
    await waitUntil('MASTER', () => role(h, 'VI_1') === 'MASTER', wait);
    await waitUntil('VIP held', () => holds(h, '192.0.2.100'), wait);
    expect(h.link('eth0').source).toBe('192.0.2.2');
    expect(h.link('eth0').sent[0]?.advert).toEqual({
      version: 3,
      vrid: 51,
      priority: 150,
      intervalCs: 2,
      addresses: ['192.0.2.100'],
    });
    await waitUntil('announced', () => h.link('eth0').announced.length > 0, wait);
    expect(h.link('eth0').announced[0]).toEqual(['192.0.2.100']);
    expect(h.roles).toEqual(['backup', 'master']);
    await waitUntil(
      'notify ran',
      () => existsSync(out) && readFileSync(out, 'utf8').includes('MASTER'),
      wait,
    );
    expect(readFileSync(out, 'utf8')).toContain('INSTANCE VI_1 MASTER 150');

    await h.service.stop();
    expect(h.link('eth0').sent.at(-1)?.advert.priority).toBe(0);
    expect(holds(h, '192.0.2.100')).toBe(false);
    expect(h.link('eth0').closed).toBe(true);
    await waitUntil('notify STOP', () => readFileSync(out, 'utf8').includes('STOP'), wait);
  });

  it('a higher priority advert makes it backup and the VIP goes; a lower one is a rival answered at once', async () => {
    const h = harness();
    await h.service.update({ instances: [instance()], syncGroups: [] });
    await waitUntil('MASTER', () => role(h, 'VI_1') === 'MASTER', wait);
    const sent = h.link('eth0').sent.length;
    h.link('eth0').hear('192.0.2.1', 100);
    h.link('eth0').hear('192.0.2.1', 100);
    expect(h.link('eth0').sent.length).toBeGreaterThanOrEqual(sent + 2);
    const [status] = h.service.status();
    expect(status?.splitBrainSuspected).toBe(true);
    expect(status?.counters.rivalAdverts).toBe(2);
    expect(renderVrrpMetrics(h.service.status())).toContain(
      'lvsd_vrrp_split_brain_suspected{instance="VI_1"} 1',
    );
    expect(renderVrrpStatus(h.service.status())).toContain('SPLIT BRAIN SUSPECTED');

    h.link('eth0').hear('192.0.2.9', 200);
    expect(role(h, 'VI_1')).toBe('BACKUP');
    await waitUntil('VIP gone', () => !holds(h, '192.0.2.100'), wait);
    expect(h.service.status()[0]).toMatchObject({
      masterAddress: '192.0.2.9',
      lastReason: expect.stringMatching(/higher priority 200/),
    });
  });

  it('tracking: a failing service lowers the priority by its weight; its own interface down is FAULT', async () => {
    let webDown = false;
    const h = harness({ serviceDown: (name) => name === 'web' && webDown });
    const track = { interfaces: [], services: ['web'], exec: null, weight: -60 };
    await h.service.update({ instances: [instance({ track })], syncGroups: [] });
    await waitUntil('MASTER', () => role(h, 'VI_1') === 'MASTER', wait);
    webDown = true;
    await waitUntil(
      'priority 90 advertised',
      () => h.link('eth0').sent.at(-1)?.advert.priority === 90,
      wait,
    );
    expect(h.service.status()[0]).toMatchObject({
      priority: 90,
      configuredPriority: 150,
      failing: ['service web'],
    });
    h.down.add('eth0');
    await waitUntil('FAULT', () => role(h, 'VI_1') === 'FAULT', wait);
    await waitUntil('VIP gone', () => !holds(h, '192.0.2.100'), wait);
    h.down.delete('eth0');
    await waitUntil('back to MASTER', () => role(h, 'VI_1') === 'MASTER', wait);
  });

  it('track exec: argv without a shell, its failure forces FAULT, its success brings the instance back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvsd-vrrp-'));
    const flag = join(dir, 'broken');
    // test(1), not node: a node start can take seconds on a loaded machine, and the check's
    // timeout would then fail it before the flag says so.
    const command = ['/usr/bin/test', '!', '-e', flag];
    const h = harness();
    const exec = { command, intervalMs: 50, timeoutMs: 5000, fall: 2, rise: 1 };
    await h.service.update({
      instances: [instance({ track: { interfaces: [], services: [], exec, weight: null } })],
      syncGroups: [],
    });
    await waitUntil('MASTER', () => role(h, 'VI_1') === 'MASTER', wait);
    writeFileSync(flag, '');
    await waitUntil('FAULT', () => role(h, 'VI_1') === 'FAULT', { timeoutMs: 10_000, pollMs: 10 });
    expect(h.service.status()[0]?.failing).toEqual(['exec /usr/bin/test']);
    rmSync(flag);
    await waitUntil('MASTER again', () => role(h, 'VI_1') === 'MASTER', {
      timeoutMs: 10_000,
      pollMs: 10,
    });
  });

  it('a sync group moves together: backup with one member, FAULT with one member, back together', async () => {
    const h = harness();
    const vi1 = instance();
    const vi2 = instance({
      name: 'VI_2',
      interface: 'eth1',
      vrid: 52,
      vips: [{ address: '198.51.100.100', prefix: 24 }],
      advertised: ['198.51.100.100'],
    });
    await h.service.update({
      instances: [vi1, vi2],
      syncGroups: [{ name: 'G1', members: ['VI_1', 'VI_2'] }],
    });
    await waitUntil(
      'both MASTER',
      () => role(h, 'VI_1') === 'MASTER' && role(h, 'VI_2') === 'MASTER',
      wait,
    );
    h.link('eth0').hear('192.0.2.9', 200);
    expect(role(h, 'VI_1')).toBe('BACKUP');
    expect(role(h, 'VI_2')).toBe('BACKUP');
    expect(h.service.status()[1]?.lastReason).toMatch(/sync group G1: VI_1 became BACKUP/);
    h.down.add('eth1');
    await waitUntil(
      'group in FAULT',
      () => role(h, 'VI_1') === 'FAULT' && role(h, 'VI_2') === 'FAULT',
      wait,
    );
    h.down.delete('eth1');
    await waitUntil(
      'group back',
      () => role(h, 'VI_1') !== 'FAULT' && role(h, 'VI_2') !== 'FAULT',
      wait,
    );
  });

  it('a reload with a new priority keeps the role; another change restarts the instance', async () => {
    const h = harness();
    await h.service.update({ instances: [instance()], syncGroups: [] });
    await waitUntil('MASTER', () => role(h, 'VI_1') === 'MASTER', wait);
    await h.service.update({ instances: [instance({ priority: 120 })], syncGroups: [] });
    expect(role(h, 'VI_1')).toBe('MASTER');
    await waitUntil(
      'priority 120 advertised',
      () => h.link('eth0').sent.at(-1)?.advert.priority === 120,
      wait,
    );
    await h.service.update({ instances: [instance({ priority: 120, vrid: 53 })], syncGroups: [] });
    expect(h.links[0]?.closed).toBe(true);
    expect(h.links[0]?.sent.at(-1)?.advert.priority).toBe(0);
    expect(role(h, 'VI_1')).toBe('BACKUP');
  });
});
