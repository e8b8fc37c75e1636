/**
 * `lvsd import keepalived`: each fixture gives the table keepalived programs (written by
 * hand in *.expected.rules, and checked against keepalived itself in the kernel lab),
 * a config lvsd's loader accepts without a warning, and the same text every time; then
 * keepalived's corrections, the checkers, and what becomes a warning, one by one.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nodeFileSystem } from '../../src/migrate/glob.js';
import { importKeepalived } from '../../src/migrate/keepalived.js';
import { loaded, memFs, messages, rulesOf, sortedRules } from './helpers.js';

const dir = 'test/migrate/fixtures';
const fromFile = (name: string) => importKeepalived(`${dir}/${name}`, { fs: nodeFileSystem });
/** An import of one in-memory keepalived.conf. */
const from = (text: string) => importKeepalived('k.conf', { fs: memFs({ 'k.conf': text }) });
/** A virtual server with the given lines and one NAT real server. */
const vs = (lines: string, real = 'real_server 10.1.1.1 80 {\n}') =>
  from(`virtual_server 10.0.0.1 80 {\n protocol TCP\n lb_kind NAT\n${lines}\n${real}\n}\n`);

describe.each([
  ['fwmark-pair.conf', 'fwmark-pair.expected.rules'],
  ['nat-dr.conf', 'nat-dr.expected.rules'],
  ['group.conf', 'group.expected.rules'],
  ['ipv6.conf', 'ipv6.expected.rules'],
  ['includes/keepalived.conf', 'includes/keepalived.expected.rules'],
])('%s', (file, expected) => {
  it('makes the table keepalived programs, in a config lvsd accepts without a warning', () => {
    expect(rulesOf(fromFile(file))).toEqual(
      sortedRules(readFileSync(`${dir}/${expected}`, 'utf8')),
    );
  });

  it('gives the same text every time', () => {
    expect(loaded(fromFile(file)).yaml).toBe(loaded(fromFile(file)).yaml);
  });
});

describe('the LVS documentation director pair (fwmark, persistence, MISC_CHECK)', () => {
  const result = fromFile('fwmark-pair.conf');
  const { yaml } = loaded(result);

  it('names the service from the comment above it and keeps the persistence netmask', () => {
    expect(yaml).toContain(
      '  # test/migrate/fixtures/fwmark-pair.conf:51: virtual_server fwmark 1\n  www:\n    fwmark: 1\n',
    );
    expect(yaml).toContain('    persistence: { timeout: 1800, netmask: 255.255.255.0 }\n');
  });

  it('runs misc_path as argv, with misc_timeout and keepalived timing', () => {
    expect(yaml).toContain(
      '          command: [/usr/bin/curl, "-fsS", "-o", /dev/null, "--max-time", "5", http://192.168.10.2/]\n',
    );
    expect(yaml).toContain(
      '          interval: 10s\n          timeout: 6s\n          rise: 1\n          fall: 1\n',
    );
  });

  it('warns about the notification settings and VRRP authentication, with their lines', () => {
    const keepalivedItself =
      'is not imported: it concerns keepalived itself (notifications, scripts, its processes), ' +
      'not the IPVS table or VRRP';
    expect(messages(result, 'warning')).toEqual([
      `fwmark-pair.conf:7: global_defs router_id ${keepalivedItself}`,
      `fwmark-pair.conf:8: global_defs notification_email ${keepalivedItself}`,
      `fwmark-pair.conf:11: global_defs notification_email_from ${keepalivedItself}`,
      `fwmark-pair.conf:12: global_defs smtp_server ${keepalivedItself}`,
      expect.stringMatching(
        /^fwmark-pair\.conf:29: authentication is not imported: lvsd offers no VRRPv2 authentication/,
      ),
    ]);
    expect(yaml).toContain(
      '    # WARNING test/migrate/fixtures/fwmark-pair.conf:29: authentication is not imported',
    );
  });

  it('imports both instances, their sync group and the sync daemon that follows VI_GW', () => {
    expect(yaml).toContain(
      'kernel:\n  sync:\n    - { state: backup, interface: eth1, syncid: 51 }\n',
    );
    expect(yaml).toContain(
      '    VI_GW:\n      interface: eth1\n      vrid: 52\n      version: 2\n      priority: 150\n' +
        '      advert_interval: 1s\n      vips: [192.168.10.254/24]\n      sync_daemon: true\n',
    );
    expect(yaml).toContain(
      '  sync_groups:\n    # test/migrate/fixtures/fwmark-pair.conf:16: vrrp_sync_group VG1\n',
    );
    expect(yaml).toContain('    VG1: [VI_1, VI_GW]\n');
  });
});

describe('NAT and DR with thresholds', () => {
  const { yaml } = loaded(fromFile('nat-dr.conf'));

  it('maps HTTP_GET with inhibit_on_failure, retry and the url', () => {
    expect(
      yaml,
    ).toContain(`      - address: 192.168.10.2:8080  # test/migrate/fixtures/nat-dr.conf:13
        weight: 2
        upper: 500
        lower: 400
        check:
          # keepalived has no rise: one success brings a real server back (rise: 1)
          # retry 2: keepalived retries 1s apart (delay_before_retry); lvsd counts fall: 3 failures, interval apart
          # no http_protocol: keepalived sends HTTP/1.0 requests (http_version: "1.0")
          type: http
          interval: 5s
          timeout: 2s
          rise: 1
          fall: 3
          initial: up
          on_failure: inhibit
          http_version: "1.0"
          path: /
          status: [200]
`);
  });

  it('keeps a connect_timeout as long as delay_loop below it, and says so', () => {
    expect(yaml).toContain(
      '# keepalived waits up to 3s (connect_timeout) every delay_loop 3s; lvsd needs timeout < interval: 2s',
    );
  });

  it('the sorry server, quorum and hysteresis', () => {
    expect(yaml).toContain(
      '    sorry_server: 192.168.10.9:8080\n    quorum: 2\n    quorum_hysteresis: 1\n',
    );
  });
});

describe('names', () => {
  it('a short comment names the service; a longer one is its description; else the address', () => {
    const result = from(`# Web farm
virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 10.1.1.1 80 {\n }\n}
# The mail relays: two on the old rack, see ticket 42
virtual_server 10.0.0.1 25 {\n protocol TCP\n real_server 10.1.1.2 25 {\n }\n}
virtual_server 10.0.0.1 53 {\n protocol UDP\n real_server 10.1.1.3 53 {\n }\n}\n`);
    expect(result.services.map((s) => [s.name, s.description])).toEqual([
      ['web-farm', undefined],
      ['tcp-10-0-0-1-25', 'The mail relays: two on the old rack, see ticket 42'],
      ['udp-10-0-0-1-53', undefined],
    ]);
  });
});

describe('a virtual_server_group', () => {
  it('one service per address of the range, per address and per fwmark, each with the reals', () => {
    const result = fromFile('group.conf');
    expect(result.services.map((s) => s.name)).toEqual([
      'mail-tcp-192-168-1-130-143',
      'mail-tcp-192-168-1-131-143',
      'mail-tcp-192-168-1-132-143',
      'mail-tcp-192-168-1-140-993',
      'mail-fwm-3',
    ]);
  });

  it('without persistence_granularity, as keepalived 2.x programs group entries', () => {
    const result = from(`virtual_server_group G {\n 10.0.0.1 80\n}
virtual_server group G {\n protocol TCP\n persistence_timeout 60
 persistence_granularity 255.255.255.0\n real_server 10.1.1.1 80 {\n }\n}\n`);
    expect(rulesOf(result)).toEqual(
      sortedRules('-A -t 10.0.0.1:80 -s wlc -p 60\n-a -t 10.0.0.1:80 -r 10.1.1.1:80 -m -w 1'),
    );
    expect(messages(result, 'warning')).toEqual([
      expect.stringMatching(
        /^k\.conf:4: persistence_granularity is not programmed for virtual_server_group entries/,
      ),
    ]);
  });

  it('address ranges: last octet, full range, network', () => {
    const result =
      from(`virtual_server_group G {\n 10.0.0.254-10.0.1.1 80\n 10.0.2.8/31 80\n 2001:db8::a-b 80\n}
virtual_server group G {\n protocol TCP\n lb_kind TUN\n real_server 10.1.1.1 80 {\n }\n}\n`);
    expect(result.services.map((s) => ('address' in s.service ? s.service.address : ''))).toEqual([
      '10.0.0.254',
      '10.0.0.255',
      '10.0.1.0',
      '10.0.1.1',
      '10.0.2.8',
      '10.0.2.9',
      '2001:db8::a',
      '2001:db8::b',
    ]);
  });
});

describe("keepalived's defaults and corrections", () => {
  it('no protocol: UDP, as keepalived 2.x says and does', () => {
    const result = from('virtual_server 10.0.0.1 53 {\n real_server 10.1.1.1 53 {\n }\n}\n');
    expect(rulesOf(result)).toEqual(
      sortedRules('-A -u 10.0.0.1:53 -s wlc\n-a -u 10.0.0.1:53 -r 10.1.1.1:53 -m -w 1'),
    );
    expect(messages(result, 'warning')).toEqual([
      'k.conf:1: no protocol set: keepalived 2.x defaults to UDP (and says so); add protocol TCP if TCP was meant',
    ]);
  });

  it('port 0 without persistence gets persistence 360; ops on TCP is reset', () => {
    const result = from(
      'virtual_server 10.0.0.1 0 {\n protocol TCP\n ops\n real_server 10.1.1.1 {\n }\n}\n',
    );
    expect(rulesOf(result)).toEqual(
      sortedRules('-A -t 10.0.0.1:0 -s wlc -p 360\n-a -t 10.0.0.1:0 -r 10.1.1.1:0 -m -w 1'),
    );
    expect(messages(result, 'warning')).toEqual([
      'k.conf:1: one packet scheduling requires UDP: keepalived resets ops',
      'k.conf:1: zero port only valid for persistent services: keepalived sets persistence_timeout 360',
    ]);
  });

  it('ports: NAT reals without one take the service port, DR reals are reset to it, fwmark DR reals have none', () => {
    const result = from(`virtual_server 10.0.0.1 80 {\n protocol TCP\n lb_kind DR
 real_server 10.1.1.1 8080 {\n }\n real_server 10.1.1.2 {\n  lvs_method NAT\n }\n}
virtual_server fwmark 5 {\n lb_kind DR\n real_server 10.1.1.3 443 {\n }\n}\n`);
    expect(rulesOf(result)).toEqual(
      sortedRules(`-A -t 10.0.0.1:80 -s wlc
-a -t 10.0.0.1:80 -r 10.1.1.1:80 -g -w 1
-a -t 10.0.0.1:80 -r 10.1.1.2:80 -m -w 1
-A -f 5 -s wlc
-a -f 5 -r 10.1.1.3:0 -g -w 1`),
    );
    expect(messages(result, 'warning')).toEqual([
      "k.conf:4: virtual server and server 10.1.1.1 ports don't match: keepalived " +
        'resets it to 80 (DR cannot change ports)',
      'k.conf:12: fwmark virtual server, server 10.1.1.3 has port 443 specified: ' +
        "keepalived clears it (DR keeps the packet's port)",
    ]);
  });

  it('sh-port before lb_algo sh is ignored, as keepalived reads flags against the scheduler so far', () => {
    const result = vs(' sh-port\n lb_algo sh\n sh-fallback');
    expect(rulesOf(result)[0]).toBe('-A -t 10.0.0.1:80 -s sh -b sh-fallback');
    expect(messages(result, 'warning')).toEqual([
      'k.conf:4: sh-port only applies to the sh scheduler (set lb_algo first): keepalived ignores it',
    ]);
  });

  it('a duplicate real server is dropped, an empty virtual server ignored', () => {
    const result = from(`virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 10.1.1.1 80 {\n }
 real_server 10.1.1.1 80 {\n weight 5\n }\n}
virtual_server 10.0.0.2 80 {\n protocol TCP\n}\n`);
    expect(rulesOf(result)).toEqual(
      sortedRules('-A -t 10.0.0.1:80 -s wlc\n-a -t 10.0.0.1:80 -r 10.1.1.1:80 -m -w 1'),
    );
    expect(messages(result, 'warning')).toEqual([
      'k.conf:5: real server 10.1.1.1 80 is duplicated: keepalived removes the second, so does the import',
      'k.conf:9: virtual_server 10.0.0.2 80 has no real servers: keepalived ignores it, and so does the import',
    ]);
  });

  it("weight on the virtual server is the real servers' default; one keyword a line", () => {
    const result = vs(
      ' weight 4',
      'real_server 10.1.1.1 80 {\n weight 2 uthreshold 100\n}\nreal_server 10.1.1.2 80 {\n}',
    );
    expect(rulesOf(result)).toEqual(
      sortedRules(`-A -t 10.0.0.1:80 -s wlc
-a -t 10.0.0.1:80 -r 10.1.1.1:80 -m -w 2
-a -t 10.0.0.1:80 -r 10.1.1.2:80 -m -w 4`),
    );
    expect(messages(result, 'warning')).toEqual([
      "k.conf:6: 'uthreshold 100' after weight 2 is ignored: keepalived reads one keyword a line",
    ]);
  });

  it('quorum above the total weight is lowered; hysteresis kept below quorum', () => {
    const result = vs(' sorry_server 10.9.9.9 80\n quorum 10\n hysteresis 20');
    expect(result.services[0]?.sorryServer).toBe('10.9.9.9:80');
    expect(result.services[0]?.quorum).toBeUndefined();
    expect(result.services[0]?.notes).toContain(
      'NOTE quorum 10 exceeds the total weight 1: keepalived reduces it to 1',
    );
  });

  it('alpha: the service starts every real down; inhibit_on_failure: weight 0', () => {
    const { yaml } = loaded(
      vs(' alpha\n inhibit_on_failure', 'real_server 10.1.1.1 80 {\n TCP_CHECK {\n }\n}'),
    );
    expect(yaml).toContain('    alpha: true\n');
    expect(yaml).toMatch(/initial: down\n\s+on_failure: inhibit\n/);
  });

  it('lthreshold above uthreshold: the kernel refuses the real (ERANGE), keepalived goes on without it', () => {
    const result = vs(
      '',
      'real_server 10.1.1.1 80 {\n lthreshold 400\n}\nreal_server 10.1.1.2 80 {\n}',
    );
    expect(messages(result, 'warning')).toEqual([
      'k.conf:5: real server 10.1.1.1: lthreshold 400 is above uthreshold 0 (none): the kernel refuses it ' +
        '(ERANGE), so keepalived never adds it; not imported (set uthreshold above lthreshold)',
    ]);
    expect(rulesOf(result)).toEqual([
      '-A -t 10.0.0.1:80 -s wlc',
      '-a -t 10.0.0.1:80 -r 10.1.1.2:80 -m -w 1',
    ]);
  });

  it('a scheduler lvsd does not know skips the virtual server, loudly', () => {
    const result = vs(' lb_algo twos');
    expect(result.services).toEqual([]);
    expect(messages(result, 'warning')).toEqual([
      'k.conf:1: virtual_server 10.0.0.1 80 is not imported: lvsd does not know the twos scheduler',
    ]);
  });
});

describe('what lvsd cannot express becomes a warning at its line', () => {
  it('notify scripts, quorum scripts, SNMP, ha_suspend, SMTP alerts, omega, unknown keywords', () => {
    const result = vs(
      ' quorum_up "/bin/up"\n quorum_down /bin/down\n ha_suspend\n omega\n snmp_name web\n smtp_alert\n bogus 1',
      'real_server 10.1.1.1 80 {\n notify_up /bin/up\n notify_down /bin/down\n smtp_alert off\n}',
    );
    expect(messages(result, 'warning')).toEqual([
      'k.conf:4: quorum_up /bin/up is not imported: lvsd runs no notify scripts ' +
        '(quorum changes are logged as health.quorum events)',
      'k.conf:5: quorum_down /bin/down is not imported: lvsd runs no notify scripts ' +
        '(quorum changes are logged as health.quorum events)',
      'k.conf:6: ha_suspend is not imported: lvsd checks whether or not the address is up',
      'k.conf:7: omega is not imported: omega only decides whether quorum_down / ' +
        'notify_down scripts run on shutdown, and lvsd runs none',
      'k.conf:8: snmp_name web is not imported: lvsd has no SNMP (its metrics are on /metrics)',
      'k.conf:9: smtp_alert is not imported: lvsd sends no mail (transitions are logged and counted in /metrics)',
      'k.conf:10: unknown virtual_server keyword bogus (keepalived reports it too); not imported',
      'k.conf:12: notify_up /bin/up is not imported: lvsd runs no notify scripts ' +
        '(transitions are logged as health.transition events)',
      'k.conf:13: notify_down /bin/down is not imported: lvsd runs no notify scripts ' +
        '(transitions are logged as health.transition events)',
    ]);
    const { yaml } = loaded(result);
    expect(yaml).toContain('  # WARNING k.conf:4: quorum_up /bin/up is not imported');
  });

  it('BFD, static addresses, track files at the top level', () => {
    const result = from(
      'bfd_instance b1 {\n}\nstatic_ipaddress {\n 10.0.0.1/24 dev eth0\n}\ntrack_file f {\n}\n',
    );
    expect(messages(result, 'warning')).toEqual([
      'k.conf:1: bfd_instance b1 is not imported: lvsd has no BFD',
      'k.conf:3: static_ipaddress is not imported: lvsd holds addresses only as ' +
        'service vips; add them there if lvsd should',
      'k.conf:6: track_file f is not imported: lvsd has no track files (FILE_CHECK weights)',
    ]);
  });

  it('FILE_CHECK and BFD_CHECK', () => {
    const result = vs(
      '',
      'real_server 10.1.1.1 80 {\n TCP_CHECK {\n }\n FILE_CHECK {\n }\n BFD_CHECK {\n }\n}',
    );
    expect(messages(result, 'warning')).toEqual([
      "k.conf:8: FILE_CHECK is not imported: the import does not carry track_file over; lvsd's " +
        'type: file check reads a file too: write one by hand',
      'k.conf:10: BFD_CHECK is not imported: lvsd has no BFD',
    ]);
    expect(loaded(result).yaml).toContain('      type: tcp\n');
  });

  it('several checkers on a real server: an all check, timed as the first, one weight', () => {
    const result = vs(
      ' delay_loop 5',
      'real_server 10.1.1.1 80 {\n TCP_CHECK {\n connect_timeout 2\n }\n HTTP_GET {\n delay_loop 10\n' +
        ' url {\n path /a\n }\n url {\n path /b\n }\n }\n MISC_CHECK {\n misc_path "/bin/c 1"\n' +
        ' misc_dynamic\n misc_timeout 2\n retry 1\n }\n MISC_CHECK {\n misc_path /bin/d\n misc_dynamic\n }\n}',
    );
    expect(messages(result, 'warning')).toEqual([
      'k.conf:24: MISC_CHECK is not imported: it reports a weight (misc_dynamic) as MISC_CHECK above ' +
        'does, and lvsd reads one weight a real',
    ]);
    const { yaml } = loaded(result);
    expect(yaml).toContain(
      "        # HTTP_GET's own timing is not imported (interval 10s, timeout 5s): lvsd runs the parts " +
        'of an all check together, timed as TCP_CHECK\n',
    );
    expect(yaml.replace(/ *# HTTP_GET's own timing.*\n/, '')).toContain(`    check:
      # keepalived has no rise: one success brings a real server back (rise: 1)
      # retry 1: keepalived retries 1s apart (delay_before_retry); lvsd counts fall: 2 failures, interval apart
      # several checkers: keepalived takes the real server out when any fails, as lvsd when any part fails
      type: all
      interval: 5s
      timeout: 2s
      rise: 1
      fall: 2
      initial: up
      on_failure: remove
      checks:
        - type: tcp
        # no http_protocol: keepalived sends HTTP/1.0 requests (http_version: "1.0")
        - type: http
          http_version: "1.0"
          urls:
            - { path: /a }
            - { path: /b }
        - type: exec
          command: [/bin/c, "1"]
          dynamic_weight: exit_status
    reals:
`);
  });
});

describe('keywords with no effect in lvsd are notes above the service', () => {
  it('hashed, warmup, log_all_failures, fast_recovery', () => {
    const result = vs(
      ' hashed\n warmup 5',
      'real_server 10.1.1.1 80 {\n HTTP_GET {\n  log_all_failures\n  fast_recovery\n  url {\n   path /\n  }\n }\n}',
    );
    expect(result.diagnostics).toEqual([]);
    const { yaml } = loaded(result);
    expect(yaml).toContain('  # NOTE hashed: the kernel hashes every service; nothing to set\n');
    expect(yaml).toContain('  # NOTE log_all_failures: lvsd logs every transition');
    expect(yaml).toContain(
      '  # NOTE fast_recovery: lvsd requests all urls of a check at each interval',
    );
    expect(yaml).toContain(
      '      # warmup: lvsd starts each check after a random part of its interval',
    );
  });
});

describe('checkers', () => {
  const check = (checker: string, lines = '') => {
    const result = vs(` delay_loop 10${lines}`, `real_server 10.1.1.1 80 {\n${checker}\n}`);
    return { result, yaml: loaded(result).yaml };
  };

  it('SSL_GET: https without certificate verification, virtualhost as Host and SNI, the SSL block', () => {
    const { yaml } = check(
      'SSL_GET {\n enable_sni\n url {\n path /health\n status_code 200-299 301\n ' +
        'digest 9b3a0c85a887a256d6939da88aabd8cd\n virtualhost www.example.com\n }\n}',
    );
    expect(yaml).toContain(`      path: /health
      host: www.example.com
      status: [200-299, 301]
      digest: md5:9b3a0c85a887a256d6939da88aabd8cd
      verify: false
      sni: www.example.com
`);
  });

  it("HTTP_GET: the virtual server's virtualhost, regex as body, http_protocol as http_version", () => {
    const { yaml, result } = check(
      'HTTP_GET {\n http_protocol 1.0C\n url {\n path /\n regex "ok|fine"\n }\n}',
      '\n virtualhost shop.example.com',
    );
    expect(yaml).toContain(
      '      http_version: "1.0"\n      path: /\n      host: shop.example.com\n      body: "ok|fine"\n',
    );
    expect(messages(result, 'warning')).toEqual([]);
    const v11 = check('HTTP_GET {\n http_protocol 1.1\n url {\n path /\n }\n}').yaml;
    expect(v11).not.toContain('http_version');
    expect(v11).not.toContain('HTTP/1.0');
  });

  it('regex_no_match as body_no_match, regex_options caseless and multiline as the check flags', () => {
    const { yaml, result } = check(
      'HTTP_GET {\n url {\n path /\n regex "down|maint"\n regex_no_match\n' +
        ' regex_options caseless multiline dotall\n regex_min_offset 4\n }\n}',
    );
    expect(yaml).toContain(
      '      body_no_match: "down|maint"\n      ignore_case: true\n      multiline: true\n',
    );
    expect(messages(result, 'warning')).toEqual([
      "k.conf:11: regex_options dotall is not imported: lvsd's patterns are JavaScript regular " +
        'expressions with ignore_case (caseless) and multiline only',
      'k.conf:12: regex_min_offset 4 is not imported: lvsd matches its pattern against the whole body',
    ]);
    const alone = check('HTTP_GET {\n url {\n path /\n regex_no_match\n }\n}');
    expect(alone.yaml).not.toContain('body');
    expect(messages(alone.result, 'warning')).toEqual([
      'k.conf:7: regex_no_match or regex_options without regex: keepalived ignores them',
    ]);
  });

  it("PCRE's leading (?i) becomes ignore_case; a pattern JavaScript cannot read is warned and left out", () => {
    const { yaml, result } = check('HTTP_GET {\n url {\n path /\n regex "(?i)ready"\n }\n}');
    expect(yaml).toContain('      body: ready\n      ignore_case: true\n');
    expect(messages(result, 'warning')).toEqual([]);
    const pcre = check('HTTP_GET {\n url {\n path /\n regex "a++b"\n regex_no_match\n }\n}');
    expect(pcre.yaml).not.toContain('body');
    expect(messages(pcre.result, 'warning')).toEqual([
      'k.conf:7: regex a++b of url / is not imported: not a valid JavaScript regular expression: ' +
        'nothing to repeat; the url is checked without it',
    ]);
  });

  it('several urls: all of them as urls, each with its status, digest and pattern', () => {
    const { yaml, result } = check(
      'HTTP_GET {\n url {\n path /health\n status_code 200\n }\n url {\n path /ready\n' +
        ' digest 9b3a0c85a887a256d6939da88aabd8cd\n }\n url {\n path /v\n regex "^v[0-9]"\n' +
        ' virtualhost other.example.com\n }\n}',
      '\n virtualhost shop.example.com',
    );
    expect(yaml).toContain(`      host: shop.example.com
      urls:
        - { path: /health, status: [200] }
        - { path: /ready, digest: md5:9b3a0c85a887a256d6939da88aabd8cd }
        - { path: /v, body: "^v[0-9]" }
`);
    expect(yaml).not.toContain('      path:');
    expect(messages(result, 'warning')).toEqual([
      'k.conf:16: virtualhost other.example.com of url /v is not imported: lvsd sends one Host header ' +
        'for all urls of a check (shop.example.com)',
    ]);
  });

  it("SMTP_CHECK and DNS_CHECK with keepalived's defaults (DNS: SOA of ., retry 3)", () => {
    expect(check('SMTP_CHECK {\n helo_name lb1.example.com\n}').yaml).toContain(
      '      ehlo: lb1.example.com\n',
    );
    const dns = check('DNS_CHECK {\n}').yaml;
    expect(dns).toContain('      fall: 4\n');
    expect(dns).toContain('      name: .\n      qtype: SOA\n');
  });

  it('UDP_CHECK: with require_reply a udp check (hex payload, reply pattern), without it no check', () => {
    const { yaml } = check(
      'UDP_CHECK {\n payload ab 1 0203\n require_reply 4x 0\n max_reply_length 10\n}',
    );
    expect(yaml).toContain('      payload_hex: ab010203\n');
    expect(yaml).toContain(
      '      expect: "^[\\\\x40\\\\x41\\\\x42\\\\x43\\\\x44\\\\x45\\\\x46\\\\x47' +
        '\\\\x48\\\\x49\\\\x4a\\\\x4b\\\\x4c\\\\x4d\\\\x4e\\\\x4f]\\\\x00(?=[\\\\s\\\\S]{0,10}$)"\n',
    );
    const silent = check('UDP_CHECK {\n}');
    expect(silent.yaml).not.toContain('check:');
    expect(messages(silent.result, 'warning')[0]).toMatch(
      /^k\.conf:6: UDP_CHECK without require_reply counts silence as up/,
    );
  });

  it('PING_CHECK: an icmp check with its timing; a port is warned and left out', () => {
    const { yaml, result } = check('PING_CHECK {\n connect_timeout 2\n connect_ip 10.1.1.9\n}');
    expect(yaml).toContain(
      '      type: icmp\n      interval: 10s\n      timeout: 2s\n      rise: 1\n      fall: 2\n' +
        '      initial: up\n      address: 10.1.1.9\n      on_failure: remove\n',
    );
    expect(messages(result, 'warning')).toEqual([]);
    const port = check('PING_CHECK {\n connect_port 80\n bind_port 99\n}');
    expect(port.yaml).not.toContain('port: 80');
    expect(port.yaml).not.toContain('source_port');
    expect(messages(port.result, 'warning')).toEqual([
      'k.conf:6: connect_port 80 of PING_CHECK is not imported: an echo request has no port',
      'k.conf:6: bind_port 99 of PING_CHECK is not imported: an echo request has no port',
    ]);
  });

  it('MISC_CHECK: misc_path split as keepalived splits it; misc_dynamic, user and group', () => {
    const { yaml, result } = check(
      'MISC_CHECK {\n misc_path "/usr/local/bin/check \'two words\' a\\\\ b" ignored\n misc_dynamic\n' +
        ' user nobody nogroup\n}',
    );
    expect(yaml).toContain(
      '      command: [/usr/local/bin/check, "two words", "a b"]\n' +
        '      dynamic_weight: exit_status\n      user: nobody\n      group: nogroup\n',
    );
    expect(messages(result, 'warning')).toEqual([
      "k.conf:7: misc_path takes one word: keepalived runs '/usr/local/bin/check " +
        "'two words' a\\ b' and drops the rest; quote the command line",
    ]);
  });

  it('connect_ip, connect_port, bindto, bind_port and bind_if: address, port, source, source_port, interface', () => {
    const { yaml, result } = check(
      'TCP_CHECK {\n connect_ip 10.2.2.2\n connect_port 8443\n bindto 10.0.0.9\n bind_port 999\n' +
        ' bind_if eth1\n fwmark 3\n}',
    );
    expect(yaml).toContain(
      '      port: 8443\n      address: 10.2.2.2\n      source: 10.0.0.9\n      source_port: 999\n' +
        '      interface: eth1\n',
    );
    expect(messages(result, 'warning')).toEqual([
      "k.conf:12: fwmark 3 is not imported: lvsd's checks do not mark their packets",
    ]);
  });

  it('a fwmark real server: an icmp or exec check needs no port', () => {
    const result = from(
      'virtual_server fwmark 1 {\n lb_kind DR\n real_server 10.1.1.1 {\n  PING_CHECK {\n  }\n }\n' +
        ' real_server 10.1.1.2 {\n  MISC_CHECK {\n   misc_path /bin/true\n  }\n }\n}\n',
    );
    expect(messages(result, 'warning')).toEqual([]);
    const { yaml } = loaded(result);
    expect(yaml).toContain('      type: icmp\n');
    expect(yaml).toContain('      type: exec\n');
  });

  it('a fwmark real server checked without connect_port has no port to check: not imported', () => {
    const result = from(
      'virtual_server fwmark 1 {\n lb_kind DR\n real_server 10.1.1.1 {\n  TCP_CHECK {\n  }\n }\n}\n',
    );
    expect(messages(result, 'warning')).toEqual([
      'k.conf:4: TCP_CHECK of 10.1.1.1 needs connect_port: the real server has no port here; not imported',
    ]);
    loaded(result);
    const both = from(
      'virtual_server fwmark 1 {\n lb_kind DR\n real_server 10.1.1.1 {\n  PING_CHECK {\n  }\n' +
        '  TCP_CHECK {\n  }\n  TCP_CHECK {\n  connect_port 22\n  }\n }\n}\n',
    );
    expect(messages(both, 'warning')).toEqual([
      'k.conf:6: TCP_CHECK of 10.1.1.1 needs connect_port: the real server has no port here; not imported',
    ]);
    expect(loaded(both).yaml).toContain(
      '      checks:\n        - type: icmp\n        - type: tcp\n          port: 22\n',
    );
  });
});

describe('errors stop the import and name their line', () => {
  it('in the main file and in included ones', () => {
    const result = fromFile('errors/keepalived.conf');
    expect(messages(result, 'error')).toEqual([
      'keepalived.conf:3: include no-such-file.conf: no such file (test/migrate/fixtures/errors/no-such-file.conf)',
      "keepalived.conf:5: virtual server '10.0.0.500' is not an IP address (keepalived takes numeric addresses)",
      "keepalived.conf:9: invalid lvs_scheduler 'nosuch'",
      "keepalived.conf:13: real server weight '70000' must be a whole number from 0 to 65535",
      "broken.conf:1: 'virtual_server' block is not closed: '}' missing before the end of the file",
      "broken.conf:3: 'real_server' block is not closed: '}' missing before the end of the file",
    ]);
  });

  it('a group that does not exist', () => {
    expect(
      messages(from('virtual_server group NOPE {\n real_server 10.1.1.1 80 {\n }\n}\n'), 'error'),
    ).toEqual(['k.conf:1: virtual_server group NOPE: no virtual_server_group NOPE is defined']);
  });
});
