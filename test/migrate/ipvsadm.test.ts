/**
 * `lvsd import ipvsadm`: ipvsadm-save output and director scripts, read as ipvsadm and the
 * kernel read them, written as an lvsd config that lvsd's loader accepts and that makes
 * the same table again.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { importIpvsadm } from '../../src/migrate/ipvsadm.js';
import { parseIpvsadmArgs } from '../../src/migrate/ipvsadm-options.js';
import { shellItems } from '../../src/migrate/shell-words.js';
import { loaded, messages, rulesOf, sortedRules } from './helpers.js';

const fixture = (name: string) => readFileSync(`test/migrate/fixtures/${name}`, 'utf8');
const run = (text: string, file = 'rules') => importIpvsadm(text, { file });

describe('ipvsadm-save / ipvsadm -Sn output', () => {
  it('every option ipvsadm -Sn prints (and -x / -y) makes the same rules again', async () => {
    const text = fixture('save.rules');
    const result = await run(text, 'save.rules');
    expect(result.diagnostics).toEqual([]);
    expect(rulesOf(result)).toEqual(sortedRules(text));
  });

  it('names services from their address and port, and says where each came from', async () => {
    const { yaml } = loaded(await run(fixture('save.rules'), 'save.rules'));
    expect(yaml).toContain('  # save.rules:1: -A -t 10.0.0.1:80 -s rr\n  tcp-10-0-0-1-80:\n');
    expect(yaml).toContain('  fwm-20-ipv6:\n');
    expect(yaml).toContain('  tcp-2001-db8--80-80:\n');
    expect(yaml).toContain(
      '      - { address: 192.168.11.2:8080, weight: 3, upper: 100, lower: 50 }  # save.rules:3\n',
    );
    expect(yaml).toContain('    persistence: { timeout: 600, netmask: 255.255.255.0 }\n');
    expect(yaml).toContain('    tunnel: { type: gue, port: 6080, checksum: csum }\n');
  });

  it('gives the same text for the same input', async () => {
    const text = fixture('save.rules');
    const [a, b] = [loaded(await run(text)).yaml, loaded(await run(text)).yaml];
    expect(a).toBe(b);
  });
});

describe('a director script', () => {
  it('runs the lines in order: -E rewrites the service, -e the real, -d and -D remove', async () => {
    const result = await run(fixture('director.sh'), 'director.sh');
    expect(messages(result, 'error')).toEqual([]);
    expect(rulesOf(result)).toEqual(
      sortedRules(`
        -A -t 10.0.0.1:80 -s wrr
        -a -t 10.0.0.1:80 -r 192.168.10.2:80 -m -w 5
        -a -t 10.0.0.1:80 -r 192.168.10.3:80 -m -w 3 -x 200 -y 150
        -A -t 10.0.0.1:25 -s wlc
        -a -t 10.0.0.1:25 -r 192.168.20.2:25 -g -w 1
        -A -u 10.0.0.1:53 -s rr -o
        -a -u 10.0.0.1:53 -r 192.168.30.2:53 -g -w 1`),
    );
  });

  it('names the lines that changed a service or a real after it was added', async () => {
    const { yaml } = loaded(await run(fixture('director.sh'), 'director.sh'));
    expect(yaml).toContain(
      '  # director.sh:13: $IPVSADM --add-service --tcp-service $VIP:80 --scheduler rr --persistent 600\n' +
        '  # changed at director.sh:28: ipvsadm -E -t $VIP:80 -s wrr\n  web:\n',
    );
    expect(yaml).toContain(
      '      # changed at director.sh:29: ipvsadm -e -t $VIP:80 -r $WEB1:80 -m -w 5\n' +
        '      - { address: 192.168.10.2:80, weight: 5 }  # director.sh:14\n',
    );
  });

  it('names a service from the comment above it, keeping a longer one as its description', async () => {
    const { yaml } = loaded(await run(fixture('director.sh'), 'director.sh'));
    expect(yaml).toContain('\n  web:\n');
    expect(yaml).toContain('\n  dns:\n');
    expect(yaml).toContain(
      '\n  tcp-10-0-0-1-25:\n    description: "The mail relays, checked by hand"\n',
    );
  });

  it('imports timeouts and sync daemons into kernel:', async () => {
    const { yaml, config } = loaded(await run(fixture('director.sh'), 'director.sh'));
    expect(yaml).toContain('kernel:\n  timeouts: { tcp: 900, tcpfin: 120, udp: 60 }\n');
    expect(config.kernel.timeouts).toEqual({ tcp: 900, tcpFin: 120, udp: 60 });
    expect(config.kernel.daemons).toEqual([{ state: 'master', interface: 'eth1', syncId: 7 }]);
  });

  it('names every line it does not import', async () => {
    const result = await run(fixture('director.sh'), 'director.sh');
    expect(messages(result, 'warning')).toEqual([
      expect.stringMatching(/^director\.sh:34: iptables .*: a firewall rule, not imported/),
      'director.sh:37: ipvsadm -Ln: ipvsadm --list changes no rule; nothing to import',
    ]);
    expect(loaded(result).yaml).toContain('# WARNING director.sh:34: iptables -t mangle');
  });
});

describe('errors name the line and say what ipvsadm would say', () => {
  const cases: Array<[string, string]> = [
    [
      '-a -t 10.0.0.1:80 -r 192.168.1.2',
      'rules:1: -a -t 10.0.0.1:80 -r 192.168.1.2: Service not defined',
    ],
    ['-A -t 10.0.0.1:80\n-A -t 10.0.0.1:80', 'rules:2: -A -t 10.0.0.1:80: Service already exists'],
    [
      '-A -t 10.0.0.1:0 -s rr',
      'rules:1: -A -t 10.0.0.1:0 -s rr: Zero port specified for non-persistent service',
    ],
    [
      '-A -t 10.0.0.1:80 -o',
      'rules:1: -A -t 10.0.0.1:80 -o: One-Packet Scheduling is only for UDP virtual services',
    ],
    [
      '-A -t 10.0.0.1:80 -s rr -b sh-port',
      "rules:1: -A -t 10.0.0.1:80 -s rr -b sh-port: incompatible scheduler flag 'sh-port' for scheduler rr",
    ],
    [
      '-A -t www.example.com:80',
      expect.stringContaining(
        "'www.example.com:80' is not a numeric address[:port]: lvsd does not resolve host names",
      ) as unknown as string,
    ],
    [
      '-A -f 1\n-a -f 1 -r [2001:db8::1] -g',
      "rules:2: -a -f 1 -r [2001:db8::1] -g: '[2001:db8::1]': ipvsadm takes a bracketed IPv6 " +
        'address only with a port ([v6]:port); write 2001:db8::1',
    ],
    ['-A -t 10.0.0.1:80 --bogus', 'rules:1: -A -t 10.0.0.1:80 --bogus: unknown option --bogus'],
    [
      '-A -t 10.0.0.1:80 -r 10.1.1.1',
      "rules:1: -A -t 10.0.0.1:80 -r 10.1.1.1: Illegal '--real-server' option with the '--add-service' command",
    ],
    [
      'ipvsadm -A -t $VIP:80',
      'rules:1: $VIP is not set in this file: set it above (VIP=...) or write the value',
    ],
    ["ipvsadm -A -t '10.0.0.1:80", "rules:1: unterminated ' quote"],
    [
      '-A -t 10.0.0.1:80 -s nosuch',
      'rules:1: -A -t 10.0.0.1:80 -s nosuch: Scheduler not found: ip_vs_nosuch',
    ],
    [
      '-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.1.1.1 -m -x 10 -y 20',
      expect.stringContaining(
        'rules:2: -a -t 10.0.0.1:80 -r 10.1.1.1 -m -x 10 -y 20: Invalid thresholds',
      ) as unknown as string,
    ],
    [
      '-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.1.1.1 -i --tun-type gue',
      'rules:2: -a -t 10.0.0.1:80 -r 10.1.1.1 -i --tun-type gue: You need to supply ' +
        "the 'tun-port' option for the 'gue' tunnel type",
    ],
    [
      '-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.1.1.1 -m --tun-type gre',
      'rules:2: -a -t 10.0.0.1:80 -r 10.1.1.1 -m --tun-type gre: Tunnel options conflict with forward method',
    ],
    [
      '-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r [2001:db8::1]:80 -m',
      'rules:2: -a -t 10.0.0.1:80 -r [2001:db8::1]:80 -m: Different address family ' +
        'is allowed only for tunneling servers',
    ],
    [
      '-A -t 10.0.0.1:80 -p 20 -M 255.0.255.0',
      expect.stringContaining(
        'illegal virtual server persistent mask specified: 255.0.255.0',
      ) as unknown as string,
    ],
  ];
  it.each(cases)('%s', async (text, message) => {
    expect(messages(await run(text), 'error')).toEqual([message]);
  });
});

describe('what lvsd cannot say is a warning, not a silent change', () => {
  it('a scheduler flag without meaning for its scheduler', async () => {
    const result = await run('-A -t 10.0.0.1:80 -s rr -b flag-1\n-a -t 10.0.0.1:80 -r 10.1.1.1');
    expect(messages(result, 'warning')).toEqual([
      'rules:1: scheduler flag flag-1 has no meaning for the rr scheduler and lvsd cannot set it; it is left out',
    ]);
    expect(loaded(result).yaml).toContain('  # WARNING rules:1: scheduler flag flag-1');
  });
});

describe('ipvsadm options, as popt reads them', () => {
  it('bundled short options, attached values, --opt=value and the optional -p', () => {
    const args = parseIpvsadmArgs(['-Ao', '-uVIP:53', '-srr', '-p', '--pe=sip']);
    expect(args.command).toBe('add-service');
    expect([...args.options]).toEqual([
      ['ops', true],
      ['udp-service', 'VIP:53'],
      ['scheduler', 'rr'],
      ['persistent', true],
      ['pe', 'sip'],
    ]);
    expect(parseIpvsadmArgs(['-A', '-t', 'x', '-p', '600']).options.get('persistent')).toBe('600');
  });

  it('port names are looked up, as ipvsadm -S without -n prints them', async () => {
    const portNames = (name: string, protocol: string) =>
      name === 'http' && protocol === 'tcp' ? 80 : null;
    const result = await importIpvsadm(
      '-A -t 10.0.0.1:http -s rr\n-a -t 10.0.0.1:http -r 10.1.1.1:http -m',
      {
        file: 'rules',
        portNames,
      },
    );
    expect(rulesOf(result)).toEqual(
      sortedRules('-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.1.1.1:80 -m -w 1'),
    );
  });
});

describe('the shell, as far as director scripts use it', () => {
  it('continuations, quotes, variables with defaults, comments', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell's ${B:-2}
    const items = shellItems('A=1\n# note\nx "$A b" \'$A\' ${B:-2} \\\n  c # tail\n');
    expect(items).toEqual([
      { kind: 'blank', line: 1 },
      { kind: 'comment', line: 2, text: 'note' },
      {
        kind: 'command',
        line: 3,
        words: ['x', '1 b', '$A', '2', 'c'],
        redirects: [],
        text: expect.any(String),
      },
      { kind: 'blank', line: 5 },
    ]);
  });

  it('does not run command substitutions', () => {
    expect(shellItems('ipvsadm -A -t $(hostname -i):80')).toEqual([
      {
        kind: 'error',
        line: 1,
        message: expect.stringContaining('command substitution'),
        text: 'ipvsadm -A -t $(hostname -i):80',
      },
    ]);
  });

  it('commands joined by ; && || |, and redirections set aside', () => {
    const commands = shellItems('ipvsadm -C >/dev/null 2>&1 || true; a 2> err && b &>x | c <in\n')
      .filter((i) => i.kind === 'command')
      .map((i) => (i.kind === 'command' ? [i.words.join(' '), i.redirects] : []));
    expect(commands).toEqual([
      ['ipvsadm -C', ['>/dev/null', '2>&1']],
      ['true', []],
      ['a', ['2>err']],
      ['b', ['&>x']],
      ['c', ['<in']],
    ]);
  });

  it('a start/stop script: ipvsadm lines with redirections in, the rest warned, -C says what it removes', async () => {
    const script = [
      '#!/bin/sh',
      'VIP=10.0.0.1',
      'echo 1 > /proc/sys/net/ipv4/ip_forward',
      'case "$1" in',
      'start)',
      '  # web',
      '  ipvsadm -A -t $VIP:80 -s rr >/dev/null 2>&1 || exit 1',
      '  ipvsadm -a -t $VIP:80 -r 10.1.1.1 -m; ipvsadm -a -t $VIP:80 -r 10.1.1.2 -m',
      '  logger "lvs started on $(hostname)"',
      '  ;;',
      'stop)',
      '  ipvsadm -C',
      '  ;;',
      'esac',
    ].join('\n');
    const result = await run(script, 'lvs.sh');
    expect(messages(result, 'error')).toEqual([]);
    expect(messages(result, 'warning')).toEqual([
      'lvs.sh:3: echo 1 > /proc/sys/net/ipv4/ip_forward: not an ipvsadm command; not imported',
      'lvs.sh:4: case "$1" in: shell control flow is not followed: the import runs every ipvsadm line ' +
        'of the file in order, whichever branch it is in',
      'lvs.sh:5: start): shell control flow is not followed: the import runs every ipvsadm line ' +
        'of the file in order, whichever branch it is in',
      expect.stringMatching(/^lvs\.sh:9: .*not an ipvsadm command; not imported \(\$\(hostname\)/),
      'lvs.sh:11: stop): shell control flow is not followed: the import runs every ipvsadm line ' +
        'of the file in order, whichever branch it is in',
      'lvs.sh:12: ipvsadm -C: removes the 1 service(s) added above, as on a director ' +
        '(a stop branch of a start/stop script? import the start part alone)',
      'lvs.sh:14: esac: shell control flow is not followed: the import runs every ipvsadm line ' +
        'of the file in order, whichever branch it is in',
    ]);
    const start = await run(script.split('\nstop)')[0] as string, 'lvs.sh');
    expect(rulesOf(start)).toEqual([
      '-A -t 10.0.0.1:80 -s rr',
      '-a -t 10.0.0.1:80 -r 10.1.1.1:80 -m -w 1',
      '-a -t 10.0.0.1:80 -r 10.1.1.2:80 -m -w 1',
    ]);
    expect(loaded(start).yaml).toContain('  web:\n');
  });

  it('ipvsadm-restore with a here-document imports its lines; other here-documents are skipped', async () => {
    const script = [
      'cat > /tmp/x <<EOF',
      '-A -t 10.9.9.9:80',
      'EOF',
      "ipvsadm-restore <<'RULES'",
      '-A -t 10.0.0.1:80 -s rr',
      '-a -t 10.0.0.1:80 -r 10.1.1.1:80 -g -w 1',
      'RULES',
      'ipvsadm -R < /etc/ipvsadm.rules',
    ].join('\n');
    const result = await run(script, 'r.sh');
    expect(rulesOf(result)).toEqual([
      '-A -t 10.0.0.1:80 -s rr',
      '-a -t 10.0.0.1:80 -r 10.1.1.1:80 -g -w 1',
    ]);
    expect(messages(result, 'warning')).toEqual([
      'r.sh:1: cat > /tmp/x <<EOF: not an ipvsadm command; not imported',
      'r.sh:8: ipvsadm -R < /etc/ipvsadm.rules: ipvsadm reads its rules from /etc/ipvsadm.rules: import that file',
    ]);
  });
});
