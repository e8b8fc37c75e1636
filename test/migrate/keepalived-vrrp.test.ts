/**
 * `lvsd import keepalived` and VRRP: a real site's director pair (two IPv4 instances in a
 * sync group over unicast with a track_script, an IPv6 VRRPv3 instance whose first VIP is
 * link-local, the sync daemon on one instance) becomes a `vrrp:` section lvsd's loader
 * accepts without a warning; then keepalived's defaults and corrections one by one
 * (version, priority from state, advert_int rounding, nopreempt under state MASTER,
 * weights in sync groups, positive weights, VIP options, notify scripts), each option lvsd
 * has no counterpart for warned with its line.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/index.js';
import { nodeFileSystem } from '../../src/migrate/glob.js';
import { importKeepalived } from '../../src/migrate/keepalived.js';
import { writeYaml } from '../../src/migrate/yaml-out.js';
import { loaded, memFs, messages } from './helpers.js';

const fixture = 'test/migrate/fixtures/vrrp-pair.conf';
/** A virtual server after the VRRP lines, so that the config is not one without services. */
const VS =
  'virtual_server 10.0.0.1 80 {\n protocol TCP\n lb_algo rr\n real_server 10.1.1.1 80 {\n }\n}\n';
const from = (text: string) =>
  importKeepalived('k.conf', { fs: memFs({ 'k.conf': `${text}${VS}` }) });
/** One instance with the given lines after interface, vrid and a VIP. */
const instance = (lines: string, vip = '192.0.2.80/24') =>
  from(
    `vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 50\n${lines}\n virtual_ipaddress {\n  ${vip}\n }\n}\n`,
  );
/** The text of the vrrp: section's first instance (up to the next blank line). */
const section = (yaml: string) => `${yaml.slice(yaml.indexOf('vrrp:\n')).split('\n\n')[0]}\n`;

describe('a director pair: sync group, unicast, track_script, IPv6 v3', () => {
  const result = importKeepalived(fixture, { fs: nodeFileSystem });
  const { yaml, config } = loaded(result);

  it('writes the sync daemon and each instance as keepalived speaks it', () => {
    expect(yaml).toContain(
      'kernel:\n  sync:\n    - { state: backup, interface: eth1, syncid: 60 }\n',
    );
    expect(yaml).toContain(
      [
        '    VI_WEB:',
        '      interface: eth0',
        '      vrid: 50',
        '      version: 2',
        '      priority: 150',
        '      advert_interval: 1s',
        '      vips: [192.0.2.80/24, 192.0.2.81/24]',
        '      unicast: { source: 192.0.2.1, peers: [192.0.2.2] }',
        '      track:',
        '        exec: { command: [/usr/bin/pgrep, "-x", sshd], interval: 2s, timeout: 1s, fall: 3, rise: 2 }',
        '      notify: [/usr/local/sbin/vrrp-notify, "--site", shop]',
        '',
        '    # test/migrate/fixtures/vrrp-pair.conf:54: vrrp_instance VI_GW',
        '    # NOTE no version: keepalived speaks VRRPv2 (its default for IPv4); written explicitly',
      ].join('\n'),
    );
    expect(yaml).toContain(
      [
        '    VI_GW:',
        '      interface: eth1',
        '      vrid: 51',
        '      version: 2',
        '      priority: 150',
        '      advert_interval: 1s',
        '      vips: [198.51.100.254/24]',
        '      unicast: { source: 198.51.100.1, peers: [198.51.100.2] }',
        '      track:',
        '        interfaces: [eth0]',
        '      sync_daemon: true',
      ].join('\n'),
    );
    expect(yaml).toContain(
      [
        '    VI_WEB6:',
        '      interface: eth0',
        '      vrid: 50',
        '      version: 3',
        '      priority: 150',
        '      advert_interval: 500ms',
        '      preempt: false',
        '      vips: [fe80::50/64, 2001:db8::80/64]',
        '      track:',
        '        interfaces: [eth1]',
        '        exec: { command: [/usr/bin/dig, "+time=1", "+tries=1", "@127.0.0.1", shop.example., A], ' +
          'interval: 5s, timeout: 3s, fall: 1, rise: 1 }',
        '        weight: -30',
        '  sync_groups:',
        '    # test/migrate/fixtures/vrrp-pair.conf:26: vrrp_sync_group VG_SHOP',
        '    VG_SHOP: [VI_WEB, VI_GW]',
      ].join('\n'),
    );
  });

  it("is what lvsd's own loader resolves: families, adverts, tracking, sync group", () => {
    const vrrp = config.vrrp;
    expect(
      vrrp?.instances.map((i) => [i.name, i.family, i.version, i.intervalCs, i.advertised]),
    ).toEqual([
      ['VI_WEB', 'ipv4', 2, 100, ['192.0.2.80', '192.0.2.81']],
      ['VI_GW', 'ipv4', 2, 100, ['198.51.100.254']],
      ['VI_WEB6', 'ipv6', 3, 50, ['fe80::50', '2001:db8::80']],
    ]);
    const web6 = vrrp?.instances[2];
    expect(web6?.track).toEqual({
      interfaces: ['eth1'],
      services: [],
      exec: {
        command: ['/usr/bin/dig', '+time=1', '+tries=1', '@127.0.0.1', 'shop.example.', 'A'],
        intervalMs: 5000,
        timeoutMs: 3000,
        fall: 1,
        rise: 1,
      },
      weight: -30,
    });
    expect(vrrp?.instances[1]?.syncDaemon).toBe(true);
    expect(vrrp?.syncGroups).toEqual([{ name: 'VG_SHOP', members: ['VI_WEB', 'VI_GW'] }]);
    expect(config.kernel.daemons).toEqual([{ state: 'backup', interface: 'eth1', syncId: 60 }]);
  });

  it('warns, with file and line, about what lvsd cannot say', () => {
    expect(messages(result, 'warning')).toEqual([
      'vrrp-pair.conf:6: global_defs router_id is not imported: it concerns keepalived itself ' +
        '(notifications, scripts, its processes), not the IPVS table or VRRP',
      "vrrp-pair.conf:8: global_defs vrrp_garp_master_refresh 60 is not imported: lvsd's VRRP has no such " +
        'setting (docs/ha.md lists what it has)',
      'vrrp-pair.conf:31: notify_master /etc/keepalived/group-master.sh of vrrp_sync_group VG_SHOP is not ' +
        'imported: lvsd has no sync group settings: track and notify on each member instance (docs/ha.md)',
      "vrrp-pair.conf:46: 'label eth0:web' of virtual_ipaddress 192.0.2.81/24 is not imported: lvsd adds a " +
        'VIP with its prefix only (scope global, the broadcast the kernel derives, no label)',
    ]);
    expect(yaml).toContain(
      "    # WARNING test/migrate/fixtures/vrrp-pair.conf:46: 'label eth0:web' of virtual_ipaddress",
    );
  });

  it('says what state means', () => {
    expect(yaml).toContain(
      "    # NOTE state MASTER: keepalived's state only sets the state it starts in (MASTER also clears " +
        'nopreempt and preempt_delay); the pair elects by priority.',
    );
  });

  it('gives the same text every time', () => {
    expect(writeYaml(importKeepalived(fixture, { fs: nodeFileSystem }))).toBe(yaml);
  });
});

describe("keepalived's defaults and corrections", () => {
  it('version: global_defs vrrp_version, else 2 for IPv4; IPv6 is 3', () => {
    const global = from(
      'global_defs {\n vrrp_version 3\n}\nvrrp_instance A {\n interface eth0\n virtual_router_id 1\n' +
        ' virtual_ipaddress {\n  192.0.2.1/24\n }\n}\n',
    );
    expect(loaded(global).yaml).toContain('      version: 3\n');
    expect(loaded(global).yaml).toContain(
      '# NOTE no version: keepalived speaks VRRPv3 (global_defs vrrp_version); written explicitly',
    );
    expect(loaded(instance('')).yaml).toContain('      version: 2\n');
    const v6 = instance(' version 2', 'fe80::1/64');
    expect(loaded(v6).yaml).toContain('      version: 3\n');
    expect(messages(v6, 'warning')[0]).toMatch(
      /^k\.conf:1: VRRP version 2 over IPv6 is not a standard lvsd speaks/,
    );
  });

  it('priority: 100 by default, 255 from state MASTER (the address owner)', () => {
    expect(loaded(instance('')).yaml).toContain('      priority: 100\n');
    const owner = writeYaml(instance(' state MASTER'));
    expect(owner).toContain('      priority: 255\n');
    expect(owner).toContain(
      '# NOTE no priority: keepalived derives 255 from state MASTER (address owner)',
    );
  });

  it('advert_int: v2 rounds to whole seconds, v3 to 10 ms, as keepalived', () => {
    const v2 = instance(' advert_int 1.4');
    expect(loaded(v2).yaml).toContain('      advert_interval: 1s\n');
    expect(messages(v2, 'warning')).toEqual([
      'k.conf:4: VRRPv2 advertisement interval must be an integer: keepalived rounds to 1s',
    ]);
    const v3 = instance(' version 3\n advert_int 0.123');
    expect(loaded(v3).yaml).toContain('      advert_interval: 120ms\n');
  });

  it('state MASTER clears nopreempt and preempt_delay; nopreempt clears preempt_delay', () => {
    const master = instance(' state MASTER\n priority 100\n nopreempt\n preempt_delay 30');
    expect(section(loaded(master).yaml)).not.toMatch(/^ +preempt/m);
    expect(messages(master, 'warning')).toEqual([
      'k.conf:1: nopreempt will not work with initial state MASTER - keepalived clears it, and so does the import',
      'k.conf:1: preempt_delay will not work with initial state MASTER - keepalived clears it, and so does the import',
    ]);
    const backup = instance(' state BACKUP\n preempt_delay 30');
    expect(loaded(backup).yaml).toContain('      preempt_delay: 30s\n');
    const both = instance(' nopreempt\n preempt_delay 30');
    expect(section(loaded(both).yaml)).toContain('      preempt: false\n');
    expect(section(loaded(both).yaml)).not.toMatch(/^ +preempt_delay/m);
  });

  it('virtual_ipaddress: host prefix by default; dev of another interface and options warned', () => {
    const result = from(
      'vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 50\n virtual_ipaddress {\n' +
        '  192.0.2.80\n  192.0.2.81/24 dev eth1\n  192.0.2.82/24 brd 192.0.2.255 scope global\n }\n' +
        ' virtual_ipaddress_excluded {\n  2001:db8::80/64\n  192.0.2.90/24\n }\n}\n',
    );
    const yaml = writeYaml(result);
    expect(yaml).toContain('      vips: [192.0.2.80/32, 192.0.2.82/24, 2001:db8::80/64]\n');
    const load = loadConfigText(yaml, 'imported.yaml');
    expect(load.ok && load.warnings.map((w) => w.message)).toEqual([
      'the IPv6 VIPs move with the role but are not in the adverts (an instance advertises one family, ' +
        "its first VIP's), as keepalived does",
    ]);
    expect(messages(result, 'warning')).toEqual([
      "k.conf:6: virtual_ipaddress 192.0.2.81 dev eth1 is not imported: lvsd adds an instance's VIPs on its " +
        'interface (eth0) only; hold it on eth1 otherwise (a top-level vips: entry, not moved by VRRP)',
      "k.conf:7: 'brd 192.0.2.255 scope global' of virtual_ipaddress 192.0.2.82/24 is not imported: lvsd " +
        'adds a VIP with its prefix only (scope global, the broadcast the kernel derives, no label)',
      "k.conf:11: virtual_ipaddress_excluded 192.0.2.90 is not imported: lvsd advertises every VIP of the instance's " +
        'family, keepalived leaves excluded ones out of the adverts, and a differing address list in the adverts is ' +
        'logged by keepalived; move it to virtual_ipaddress on both sides',
    ]);
  });

  it('unicast_peer without unicast_src_ip is an error: lvsd needs the source written', () => {
    const result = instance(' unicast_peer {\n  192.0.2.2\n }');
    expect(messages(result, 'error')).toEqual([
      "k.conf:1: vrrp_instance VI_1 has unicast_peer but no unicast_src_ip: keepalived sends from the interface's " +
        'primary address, lvsd needs it written; add unicast_src_ip',
    ]);
  });

  it('authentication, use_vmac, mcast_dst_ip and unknown keywords: warned in keepalived terms', () => {
    const result = instance(
      ' authentication {\n  auth_type PASS\n  auth_pass x\n }\n use_vmac\n mcast_dst_ip 224.0.0.19\n frobnicate',
    );
    expect(
      messages(result, 'warning').map((m) => m.replace(/:.*?: (\S+ ?\S*).*/, '$1')),
    ).toHaveLength(4);
    expect(messages(result, 'warning')[0]).toMatch(/^k\.conf:4: authentication is not imported/);
    expect(messages(result, 'warning')[1]).toMatch(
      /^k\.conf:8: use_vmac is not imported: lvsd has no virtual MAC/,
    );
    expect(messages(result, 'warning')[2]).toMatch(
      /^k\.conf:9: mcast_dst_ip 224\.0\.0\.19 is not imported/,
    );
    expect(messages(result, 'warning')[3]).toBe(
      'k.conf:10: unknown vrrp_instance keyword frobnicate (keepalived reports it too); not imported',
    );
    expect(section(loaded(result).yaml)).toContain('# WARNING k.conf:8: use_vmac is not imported');
  });
});

describe('tracking', () => {
  const script = 'vrrp_script chk {\n script "/bin/check --fast"\n interval 3\n weight -20\n}\n';

  it('a weighted track_script in a sync group: keepalived ignores it, so does the import', () => {
    const result = from(
      `${script}vrrp_sync_group G {\n group {\n  A\n  B\n }\n}\n` +
        'vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1/24\n }\n' +
        ' track_script {\n  chk\n }\n track_interface {\n  eth1 weight -10\n }\n}\n' +
        'vrrp_instance B {\n interface eth0\n virtual_router_id 2\n virtual_ipaddress {\n  192.0.2.2/24\n }\n}\n',
    );
    const a = section(loaded(result).yaml);
    expect(a).toContain('      track:\n        interfaces: [eth1]\n');
    expect(a).not.toContain('exec');
    expect(a).not.toContain('weight:');
    expect(messages(result, 'warning')).toEqual([
      'k.conf:19: keepalived ignores track_script chk with weight -20 due to SYNC group; not imported',
      'k.conf:22: keepalived ignores the weight of track_interface eth1 due to SYNC group: a failure is FAULT',
    ]);
  });

  it('a script split as keepalived splits it; timeout kept below the interval', () => {
    const yaml = loaded(
      from(
        `vrrp_script chk {\n script "/bin/check 'two words'" ignored\n interval 2\n fall 2\n}\n` +
          'vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1/24\n }\n' +
          ' track_script {\n  chk weight -5\n }\n}\n',
      ),
    ).yaml;
    expect(yaml).toContain(
      '        exec: { command: [/bin/check, "two words"], interval: 2s, timeout: 1900ms, fall: 2, rise: 1 }\n' +
        '        weight: -5\n',
    );
    expect(yaml).toContain(
      '# NOTE vrrp_script chk: keepalived waits up to 2s (no timeout: interval) every 2s; lvsd needs timeout < ' +
        'interval: 1900ms',
    );
  });

  it('a positive weight: added while well in keepalived, so the priority rises and lvsd subtracts', () => {
    const result = from(
      `${script.replace('-20', '10')}vrrp_instance A {\n interface eth0\n virtual_router_id 1\n priority 100\n` +
        ' virtual_ipaddress {\n  192.0.2.1/24\n }\n track_script {\n  chk\n }\n' +
        ' track_interface {\n  eth1 weight 10\n }\n}\n',
    );
    const a = section(loaded(result).yaml);
    expect(a).toContain('      priority: 120\n');
    expect(a).toContain('        weight: -10\n');
  });

  it('different weights, a second script, reverse: warned with keepalived names', () => {
    const result = from(
      `${script}vrrp_script other {\n script /bin/other\n}\n` +
        'vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1/24\n }\n' +
        ' track_interface {\n  eth1 weight -30\n  eth2 weight -5 reverse\n }\n track_script {\n  chk\n  other\n }\n}\n',
    );
    const a = section(loaded(result).yaml);
    expect(a).toContain('        interfaces: [eth1]\n');
    expect(a).toContain('        weight: -30\n');
    expect(messages(result, 'warning')).toEqual([
      'k.conf:17: track_interface eth2 weight -5 reverse is not imported: lvsd lowers the priority while ' +
        'an object fails',
      'k.conf:20: track_script chk weight -20: lvsd has one weight an instance; imported with -30 ' +
        '(track_interface eth1)',
      'k.conf:21: track_script other is not imported: lvsd runs one track command an instance ' +
        '(track_script chk above); combine the scripts into one',
    ]);
  });
});

describe('notify', () => {
  const notifyConf = (lines: string) => instance(lines);

  it('notify maps as it is: lvsd appends INSTANCE NAME STATE PRIORITY, as keepalived', () => {
    expect(loaded(notifyConf(' notify "/bin/notify --x"')).yaml).toContain(
      '      notify: [/bin/notify, "--x"]\n',
    );
  });

  it('notify_master / notify_backup / notify_fault / notify_stop and notify run as keepalived runs them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'migv-notify-'));
    try {
      const log = join(dir, 'log');
      const result = notifyConf(
        ` notify_master "/bin/sh -c 'echo master \\"$*\\" >> ${log}' m"\n` +
          ` notify_backup "/bin/sh -c 'echo \\"$1\\" >> ${log}' x \\"it's\\""\n` +
          ` notify "/bin/sh -c 'echo generic \\"$*\\" >> ${log}' g"`,
      );
      const vrrp = loaded(result).config.vrrp;
      const argv = vrrp?.instances[0]?.notify as string[];
      expect(argv.slice(0, 2)).toEqual(['/bin/sh', '-c']);
      const run = (state: string) =>
        execFileSync(argv[0] as string, [...argv.slice(1), 'INSTANCE', 'VI_1', state, '100']);
      run('MASTER');
      run('BACKUP');
      run('FAULT');
      expect(readFileSync(log, 'utf8').split('\n'), JSON.stringify(argv)).toEqual([
        'master ',
        'generic INSTANCE VI_1 MASTER 100',
        "it's",
        'generic INSTANCE VI_1 BACKUP 100',
        'generic INSTANCE VI_1 FAULT 100',
        '',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the sync daemon', () => {
  const two =
    'vrrp_instance A {\n interface eth0\n virtual_router_id 7\n virtual_ipaddress {\n  192.0.2.1/24\n }\n}\n';

  it('the old form lvs_sync_daemon IF INSTANCE: syncid defaults to the vrid', () => {
    const { yaml } = loaded(
      from(`global_defs {\n lvs_sync_daemon eth1 A maxlen 1400 port 8849\n}\n${two}`),
    );
    expect(yaml).toContain(
      '    - { state: backup, interface: eth1, syncid: 7, syncmaxlen: 1400, mcast_port: 8849 }\n',
    );
    expect(yaml).toContain('      sync_daemon: true\n');
  });

  it("an instance's lvs_sync_daemon_interface (deprecated) steers it too", () => {
    const result = from(
      two.replace(' interface eth0\n', ' interface eth0\n lvs_sync_daemon_interface eth1\n'),
    );
    expect(loaded(result).yaml).toContain('    - { state: backup, interface: eth1, syncid: 7 }\n');
  });

  it('naming no instance, or one that does not exist: not imported, warned', () => {
    const result = from(`global_defs {\n lvs_sync_daemon eth1 inst NOPE\n}\n${two}`);
    expect(loaded(result).yaml).not.toMatch(/^kernel:|^ +sync_daemon:/m);
    expect(messages(result, 'warning')).toEqual([
      'k.conf:2: lvs_sync_daemon eth1 is not imported: vrrp_instance NOPE is not imported; keepalived runs the ' +
        'sync daemon as master or backup with its instance: set kernel.sync by hand',
    ]);
  });
});

describe('nothing is dropped in silence', () => {
  /** vrrp_instance keywords of keepalived 2.2.7 (vrrp_parser.c) the import does not map, with a value. */
  const UNMAPPED = [
    'use_vmac vrrp.50',
    'use_vmac_addr',
    'vmac_xmit_base',
    'use_ipvlan',
    'unicast_fault_no_peer',
    'check_unicast_src',
    'old_unicast_checksum',
    'native_ipv6',
    'vrf blue',
    'dont_track_primary',
    'track_file {\n  f\n }',
    'track_process {\n  p\n }',
    'track_bfd {\n  b\n }',
    'mcast_dst_ip 224.0.0.19',
    'track_src_ip',
    'unicast_ttl 5',
    'promote_secondaries',
    'linkbeat_use_polling',
    'virtual_routes {\n  10.0.0.0/8 via 192.0.2.254\n }',
    'virtual_rules {\n  from 192.0.2.80 table 1\n }',
    'accept',
    'no_accept',
    'skip_check_adv_addr',
    'strict_mode',
    'debug 1',
    'notify_deleted',
    'notify_master_rx_lower_pri /bin/x',
    'smtp_alert',
    'notify_priority_changes',
    'garp_master_delay 5',
    'garp_master_refresh 60',
    'garp_master_repeat 2',
    'garp_master_refresh_repeat 2',
    'garp_lower_prio_delay 5',
    'garp_lower_prio_repeat 2',
    'down_timer_adverts 3',
    'garp_extra_if eth1',
    'lower_prio_no_advert',
    'higher_prio_send_advert',
    'kernel_rx_buf_size 65536',
    'authentication {\n  auth_type PASS\n  auth_pass x\n }',
  ];

  it.each(UNMAPPED)('%s: a warning naming it, at its line, above the instance', (line) => {
    const keyword = line.split(/\s/)[0] as string;
    const result = instance(` ${line}`);
    const warned = messages(result, 'warning').filter((m) => m.startsWith('k.conf:4: '));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toContain(`${keyword}`);
    expect(warned[0]).toMatch(/is not imported: lvsd/);
    expect(section(writeYaml(result))).toContain(`# WARNING k.conf:4: ${keyword}`);
  });

  it('the address owner (255): keepalived ignores every weighted tracked object, so does the import', () => {
    const result = instance(' priority 255\n track_interface {\n  eth1 weight -10\n  eth2\n }');
    const yaml = writeYaml(result);
    expect(section(yaml)).toContain('      track:\n        interfaces: [eth2]\n');
    expect(messages(result, 'warning')).toEqual([
      'k.conf:6: keepalived ignores track_interface eth1 with weight -10 due to address owner; not imported',
    ]);
  });

  it('an unused vrrp_script and mcast_src_ip: warned', () => {
    const result = from(
      'vrrp_script idle {\n script /bin/true\n}\n' +
        'vrrp_instance A {\n interface eth0\n virtual_router_id 1\n mcast_src_ip 192.0.2.1\n' +
        ' virtual_ipaddress {\n  192.0.2.9/24\n }\n}\n',
    );
    expect(messages(result, 'warning')).toEqual([
      'k.conf:1: Warning - script idle is not used (keepalived says so too): not imported',
      "k.conf:7: mcast_src_ip 192.0.2.1 is not imported: lvsd sends multicast adverts from the interface's " +
        'own address',
    ]);
  });
});

describe('sync groups lvsd cannot hold', () => {
  it('members that advertise differently (v2 IPv4 with v3 IPv6): the group is warned, the members kept', () => {
    const result = from(
      'vrrp_sync_group G {\n group {\n  A\n  B\n }\n}\n' +
        'vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1/24\n }\n}\n' +
        'vrrp_instance B {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  fe80::1/64\n }\n}\n',
    );
    const { yaml } = loaded(result);
    expect(yaml).not.toContain('sync_groups');
    expect(yaml).toContain('    A:\n');
    expect(yaml).toContain('    B:\n');
    expect(messages(result, 'warning')).toEqual([
      'k.conf:1: vrrp_sync_group G is not imported: lvsd moves a group only when its members advertise and ' +
        'preempt alike (A v2 1s, preempt_delay 0; B v3 1s, preempt_delay 0), else one moves before the other; ' +
        'the members fail over each on its own',
    ]);
  });

  it('a member that does not exist, and a group without instances: warned', () => {
    const result = from(
      'vrrp_sync_group G {\n group {\n  A\n  NOPE\n }\n}\n' +
        'vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1/24\n }\n}\n',
    );
    expect(messages(result, 'warning')).toEqual([
      'k.conf:1: vrrp_sync_group G has 1 member(s) imported: not imported',
      'k.conf:4: Virtual router NOPE specified in sync group G is not imported: no such instance',
    ]);
    const none = from('vrrp_sync_group G {\n group {\n  A\n  B\n }\n}\n');
    expect(messages(none, 'warning')).toEqual([
      'k.conf:1: vrrp_sync_group G is not imported: there is no vrrp_instance',
    ]);
  });
});
