/**
 * What the check schema refuses before any check runs, each with its file, line and field:
 * patterns that do not compile (with what to write instead of PCRE's inline flags), body
 * settings on HEAD, contradictions between settings, parts of an `all` check.
 */
import { describe, expect, it } from 'vitest';
import { loadConfigText, type LoadResult } from '../../src/config/index.js';
import { compilePattern, patternProblem } from '../../src/config/pattern.js';

const y = (...lines: string[]) => `${lines.join('\n')}\n`;
/** A service whose check is written on line 5, one key a line from line 6 on. */
const web = (...check: string[]) =>
  y(
    'services:',
    '  web:',
    '    address: 10.0.0.1:80',
    '    reals: [192.168.10.2]',
    '    check:',
    ...check.map((l) => `      ${l}`),
  );

function errors(result: LoadResult): string[] {
  return result.ok ? [] : result.errors.map((e) => `${e.line}: ${e.path}: ${e.message}`);
}

const bad: Array<[string, string, string]> = [
  [
    'an unterminated character class',
    web('type: http', "body: 'status: [OK'"),
    '7: services.web.check.body: not a valid JavaScript regular expression: unterminated character class',
  ],
  [
    "PCRE's (?i): says what to set instead",
    web('type: http', "body: '(?i)STATUS: ok'"),
    '7: services.web.check.body: inline flags (?i) are PCRE syntax, not JavaScript: drop them and set ' +
      'ignore_case: true',
  ],
  [
    'a bad udp expect',
    web('type: udp', "expect: '('"),
    '7: services.web.check.expect: not a valid JavaScript regular expression: unterminated group',
  ],
  [
    'a bad body_no_match in a URL',
    web('type: http', 'urls:', '  - path: /a', "    body_no_match: 'a{2,1}'"),
    '9: services.web.check.urls[0].body_no_match: not a valid JavaScript regular expression: numbers out ' +
      'of order in {} quantifier',
  ],
  [
    'HEAD with a body pattern',
    web('type: http', 'method: HEAD', "body: 'status: OK'"),
    '8: services.web.check.body: a HEAD response has no body: body cannot be checked (use method: GET)',
  ],
  [
    'HEAD with a digest',
    web('type: http', 'method: HEAD', `digest: sha256:${'0'.repeat(64)}`),
    '8: services.web.check.digest: a HEAD response has no body: digest cannot be checked (use method: GET)',
  ],
  [
    'HEAD with a body pattern in a URL',
    web('type: https', 'method: HEAD', 'urls: [{ path: /, body: ok }]'),
    '8: services.web.check.urls[0].body: a HEAD response has no body: body cannot be checked (use method: GET)',
  ],
  [
    'a digest of the wrong length',
    web('type: http', 'digest: sha256:00'),
    '7: services.web.check.digest: the hex part has the wrong length for its algorithm (md5 32, sha1 40, ' +
      'sha256 64 digits)',
  ],
  [
    'path and urls',
    web('type: http', 'path: /health', 'urls: [{ path: /a }]'),
    '7: services.web.check.path: set either path or urls, not both: with urls, each URL names its path',
  ],
  [
    'a client certificate without its key',
    web('type: https', 'cert: /etc/lvsd/client.pem'),
    '7: services.web.check.cert: a client certificate needs both cert and key',
  ],
  [
    'EDNS settings without edns',
    web('type: dns', 'name: web.test', 'dnssec_ok: true'),
    '8: services.web.check.dnssec_ok: dnssec_ok is sent in the EDNS record: set edns: true',
  ],
  [
    'an A answer that is not an address',
    web('type: dns', 'name: web.test', 'answer: web.test'),
    '8: services.web.check.answer: an A answer is an IPv4 address (192.0.2.1), not "web.test"',
  ],
  [
    'an AAAA answer that is not an IPv6 address',
    web('type: dns', 'name: web.test', 'qtype: AAAA', 'answer: 192.0.2.1'),
    '9: services.web.check.answer: an AAAA answer is an IPv6 address (2001:db8::1), not "192.0.2.1"',
  ],
  [
    'a quoted TXT answer with a quote left open',
    web('type: dns', 'name: web.test', 'qtype: TXT', `answer: '"v=spf1" "include:x'`),
    '9: services.web.check.answer: a quoted TXT answer is written as dig +short prints it, each string in ' +
      'double quotes ("v=spf1" "include:example.com", with \\" inside one): "\\"v=spf1\\" \\"include:x" is not',
  ],
  [
    'a bad answer in a part of an all check',
    web('type: all', 'checks:', '  - { type: dns, name: web.test, answer: localhost }'),
    '8: services.web.check.checks[0].answer: an A answer is an IPv4 address (192.0.2.1), not "localhost"',
  ],
  [
    'misc_dynamic with warning: up',
    web('type: exec', 'command: [/bin/true]', 'dynamic_weight: exit_status', 'warning: up'),
    '9: services.web.check.warning: with dynamic_weight: exit_status, exit 1 is down (misc_dynamic); ' +
      'warning: up contradicts it',
  ],
  [
    'a group without a user',
    web('type: exec', 'command: [/bin/true]', 'group: nogroup'),
    '8: services.web.check.group: group is set with user: set user too',
  ],
  [
    'a file check with a port',
    web('type: file', 'path: /run/lvsd/web1', 'port: 80'),
    '8: services.web.check.port: a file check reads a file: port does not apply',
  ],
  [
    'an icmp check with a port',
    web('type: icmp', 'port: 80'),
    '7: services.web.check.port: an echo request has no ports: port does not apply',
  ],
  [
    'a relative file path',
    web('type: file', 'path: web1'),
    '7: services.web.check.path: an absolute path',
  ],
  [
    'an all check inside an all check',
    web('type: all', 'checks:', '  - type: all', '    checks: [{ type: tcp }]'),
    '8: services.web.check.checks[0].type: unknown check type "all" (one of: tcp, http, https, udp, dns, ' +
      'smtp, exec, icmp, file)',
  ],
  [
    'timing on a part of an all check',
    web('type: all', 'checks:', '  - type: tcp', '    interval: 1s'),
    "9: services.web.check.checks[0].interval: unknown key 'interval'",
  ],
  [
    'two parts that report a weight',
    web(
      'type: all',
      'checks:',
      '  - { type: file, path: /run/a }',
      '  - { type: file, path: /run/b }',
    ),
    '9: services.web.check.checks[1]: only one part of an all check may report a weight (exec dynamic_weight, file)',
  ],
];

describe('check rules', () => {
  it.each(bad)('refuses %s, at its line and field', (_name, text, expected) => {
    const got = errors(loadConfigText(text, 'lvsd.yaml'));
    expect(
      got.some((e) => e.startsWith(expected.replace(/: unknown key.*/, ''))),
      got.join('\n'),
    ).toBe(true);
    expect(got.join('\n')).toContain(expected.split(': ').slice(2).join(': '));
  });

  const good: Array<[string, string]> = [
    [
      'patterns with flags',
      web('type: http', "body: '^status: ok$'", 'ignore_case: true', 'multiline: true'),
    ],
    ['HEAD on its own', web('type: http', 'method: HEAD', 'status: [200, 301]')],
    [
      'urls with their own checks',
      web(
        'type: http',
        'urls:',
        '  - { path: /a, status: [200] }',
        "  - { path: /b, body_no_match: 'FAIL' }",
      ),
    ],
    ['http_version written as a YAML number', web('type: http', 'http_version: 1.0')],
    [
      'dns with EDNS',
      web('type: dns', 'name: web.test', 'edns: true', 'edns_udp_size: 4096', 'dnssec_ok: true'),
    ],
    [
      'dns answers as dig +short prints them',
      web(
        'type: all',
        'checks:',
        '  - { type: dns, name: a.test, answer: 192.0.2.1 }',
        '  - { type: dns, name: a.test, qtype: AAAA, answer: "2001:DB8::1" }',
        `  - { type: dns, name: a.test, qtype: TXT, answer: '"say \\"hi\\"" "caf\\195\\169"' }`,
        '  - { type: dns, name: a.test, qtype: TXT, answer: hello world }',
        '  - { type: dns, name: a.test, qtype: MX, answer: 10 mail.a.test }',
      ),
    ],
    [
      'exec as another user',
      web(
        'type: exec',
        'command: [/usr/lib/nagios/plugins/check_http, -I, $LVSD_CHECK_ADDRESS]',
        'user: nobody',
        'warning: up',
      ),
    ],
    ['an icmp check through an interface', web('type: icmp', 'interface: eth1', 'interval: 1s')],
    ['a file check', web('type: file', 'path: /run/lvsd/web1', 'missing: up')],
    [
      'an all check',
      web(
        'type: all',
        'interval: 3s',
        'checks:',
        '  - { type: http, path: /health }',
        '  - { type: tcp, port: 22 }',
      ),
    ],
  ];
  it.each(good)('accepts %s', (_name, text) => {
    const result = loadConfigText(text, 'lvsd.yaml');
    expect(errors(result)).toEqual([]);
  });

  it('http_version 1.0 and 1.1 as numbers or text become text', () => {
    for (const [written, read] of [
      ['1.0', '1.0'],
      ['1.1', '1.1'],
      ["'1.0'", '1.0'],
    ]) {
      const result = loadConfigText(web('type: http', `http_version: ${written}`), 'lvsd.yaml');
      expect(result.ok && result.config.services[0]?.check).toMatchObject({ http_version: read });
    }
  });

  it('a file check on a fwmark service needs no port; an all check needs one when a part connects', () => {
    const fwmark = (...check: string[]) =>
      y(
        'services:',
        '  web:',
        '    fwmark: 1',
        '    reals: [192.168.10.2]',
        '    check:',
        ...check.map((l) => `      ${l}`),
      );
    expect(errors(loadConfigText(fwmark('type: file', 'path: /run/a'), 'lvsd.yaml'))).toEqual([]);
    expect(
      errors(
        loadConfigText(
          fwmark('type: all', 'checks: [{ type: file, path: /run/a }, { type: tcp, port: 80 }]'),
          'lvsd.yaml',
        ),
      ),
    ).toEqual([]);
    expect(
      errors(loadConfigText(fwmark('type: all', 'checks: [{ type: tcp }]'), 'lvsd.yaml')).join(
        '\n',
      ),
    ).toMatch(/needs a port/);
  });
});

describe('patterns', () => {
  it('validation and the checkers compile a pattern the same way', () => {
    expect(patternProblem('^STATUS: ok$', { ignore_case: true, multiline: true })).toBeUndefined();
    expect(
      compilePattern('^STATUS: ok$', { ignore_case: true, multiline: true }).test(
        'x\nstatus: OK\ny',
      ),
    ).toBe(true);
    expect(compilePattern('^STATUS: ok$', {}).test('x\nstatus: OK\ny')).toBe(false);
    expect(patternProblem('(?im)x', {})).toBe(
      'inline flags (?im) are PCRE syntax, not JavaScript: drop them and set ignore_case: true, multiline: true',
    );
    expect(patternProblem('(?s)x', {})).toMatch(/\(\?s\) has no equivalent/);
  });
});
