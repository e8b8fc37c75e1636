/**
 * Every rule, good and bad, as tables. A bad case names the line, column, path and the
 * message (or a distinctive part of it). Every case runs through both parsing paths
 * (the fast reader and `yaml`) and must give identical diagnostics.
 */
import { describe, expect, it } from 'vitest';
import { load, y } from './load-both.js';

interface Bad {
  name: string;
  text: string;
  line: number;
  column: number;
  path: string;
  message: string | RegExp;
  host?: string | null;
}

const web = (...body: string[]) => y('services:', '  web:', ...body.map((l) => `    ${l}`));

const bad: Bad[] = [
  // --- unknown keys: a typo must not pass silently
  {
    name: 'typo in a service key',
    text: web('address: 10.0.0.1:80', 'shceduler: rr', 'reals: [192.168.10.2]'),
    line: 4,
    column: 5,
    path: 'services.web.shceduler',
    message: "unknown key 'shceduler' — did you mean 'scheduler'?",
  },
  {
    name: 'typo at the top level',
    text: y('servics:', '  web: {}'),
    line: 1,
    column: 1,
    path: 'servics',
    message: "unknown key 'servics' — did you mean 'services'?",
  },
  {
    name: 'typo in a real',
    text: web('address: 10.0.0.1:80', 'reals:', '  - { address: 192.168.10.2, wieght: 3 }'),
    line: 5,
    column: 34,
    path: 'services.web.reals[0].wieght',
    message: "unknown key 'wieght' — did you mean 'weight'?",
  },
  {
    name: 'typo in a check',
    text: web(
      'address: 10.0.0.1:80',
      'reals: [192.168.10.2]',
      'check:',
      '  type: tcp',
      '  intervall: 2s',
    ),
    line: 7,
    column: 7,
    path: 'services.web.check.intervall',
    message: "unknown key 'intervall' — did you mean 'interval'?",
  },
  {
    name: 'a port key people bring from ipvsadm',
    text: web('address: 10.0.0.1', 'port: 80', 'reals: [192.168.10.2]'),
    line: 4,
    column: 5,
    path: 'services.web.port',
    message: /unknown key 'port'.*the port goes in address/,
  },
  {
    name: "keepalived's lb_kind",
    text: web('address: 10.0.0.1:80', 'lb_kind: NAT', 'reals: [192.168.10.2]'),
    line: 4,
    column: 5,
    path: 'services.web.lb_kind',
    message: /keepalived's lb_kind is 'forwarding' here/,
  },
  {
    name: 'a service key on a real',
    text: web('address: 10.0.0.1:80', 'reals:', '  - { address: 192.168.10.2, scheduler: rr }'),
    line: 5,
    column: 34,
    path: 'services.web.reals[0].scheduler',
    message: /'scheduler' is a service setting and cannot be set here/,
  },
  {
    name: 'typo in a sysctl name',
    text: y('kernel:', '  sysctl:', '    ip_forwarding: true'),
    line: 3,
    column: 5,
    path: 'kernel.sysctl.ip_forwarding',
    message: "unknown key 'ip_forwarding' — did you mean 'ip_forward'?",
  },
  {
    name: 'typo in a host override',
    text: y('services: {}', 'hosts:', '  lb1:', '    kernal: {}'),
    line: 4,
    column: 5,
    path: 'hosts.lb1.kernal',
    message: "unknown key 'kernal' — did you mean 'kernel'?",
    host: null,
  },
  // --- enums, with suggestions and ipvsadm's vocabulary
  {
    name: 'scheduler typo',
    text: web('address: 10.0.0.1:80', 'scheduler: wrl', 'reals: [192.168.10.2]'),
    line: 4,
    column: 16,
    path: 'services.web.scheduler',
    message: /'wrl' is not a valid scheduler — did you mean 'wrr'\?/,
  },
  {
    name: 'fullnat',
    text: web('address: 10.0.0.1:80', 'forwarding: fullnat', 'reals: [192.168.10.2]'),
    line: 4,
    column: 17,
    path: 'services.web.forwarding',
    message: /fullnat is not supported by mainline Linux/,
  },
  {
    name: "ipvsadm's masq",
    text: web('address: 10.0.0.1:80', 'forwarding: masq', 'reals: [192.168.10.2]'),
    line: 4,
    column: 17,
    path: 'services.web.forwarding',
    message: "'masq' is ipvsadm's word; lvsd writes forwarding: nat",
  },
  {
    name: 'protocol icmp',
    text: web('address: 10.0.0.1:80', 'protocol: icmp', 'reals: [192.168.10.2]'),
    line: 4,
    column: 15,
    path: 'services.web.protocol',
    message: /'icmp' is not a valid protocol.*one of: tcp, udp, sctp/,
  },
  {
    name: 'conn_reuse_mode 3',
    text: y('kernel:', '  sysctl:', '    conn_reuse_mode: 3'),
    line: 3,
    column: 22,
    path: 'kernel.sysctl.conn_reuse_mode',
    message: 'expected 0 or 1 or 2, got the number 3',
  },
  // --- numbers and types
  {
    name: 'weight above 16 bits',
    text: web('address: 10.0.0.1:80', 'reals:', '  - { address: 192.168.10.2, weight: 70000 }'),
    line: 5,
    column: 42,
    path: 'services.web.reals[0].weight',
    message: '70000 is above the maximum 65535: the kernel keeps weights in 16 bits',
  },
  {
    name: 'negative weight',
    text: web('address: 10.0.0.1:80', 'weight: -1', 'reals: [192.168.10.2]'),
    line: 4,
    column: 13,
    path: 'services.web.weight',
    message: '-1 is below the minimum 0',
  },
  {
    name: 'fractional weight',
    text: web('address: 10.0.0.1:80', 'weight: 1.5', 'reals: [192.168.10.2]'),
    line: 4,
    column: 13,
    path: 'services.web.weight',
    message: 'expected a whole number, got the number 1.5',
  },
  {
    name: 'quoted weight',
    text: web('address: 10.0.0.1:80', 'weight: "3"', 'reals: [192.168.10.2]'),
    line: 4,
    column: 13,
    path: 'services.web.weight',
    message: 'expected a number, got text "3"',
  },
  {
    name: 'syncid above 8 bits',
    text: y('kernel:', '  sync: { state: master, interface: eth1, syncid: 300 }'),
    line: 2,
    column: 51,
    path: 'kernel.sync.syncid',
    message: '300 is above the maximum 255: sync IDs are 8 bits',
  },
  {
    name: 'quorum 0',
    text: web('address: 10.0.0.1:80', 'reals: [192.168.10.2]', 'quorum: 0'),
    line: 5,
    column: 13,
    path: 'services.web.quorum',
    message: /0 is below the minimum 1/,
  },
  {
    name: 'persistence of the wrong type',
    text: web('address: 10.0.0.1:80', 'persistence: 5', 'reals: [192.168.10.2]'),
    line: 4,
    column: 18,
    path: 'services.web.persistence',
    message: 'expected true or false or a mapping (key: value), got the number 5',
  },
  {
    name: 'reals not a list',
    text: web('address: 10.0.0.1:80', 'reals: 192.168.10.2'),
    line: 4,
    column: 12,
    path: 'services.web.reals',
    message: 'expected a list, got text "192.168.10.2"',
  },
  {
    name: 'services as a list',
    text: y('services:', '  - web'),
    line: 2,
    column: 3,
    path: 'services',
    message: 'expected a mapping (key: value), got a list',
  },
  {
    name: 'enabled as text',
    text: web('address: 10.0.0.1:80', 'enabled: no', 'reals: [192.168.10.2]'),
    line: 4,
    column: 14,
    path: 'services.web.enabled',
    message: 'expected true or false, got text "no"',
  },
  {
    name: 'check: true',
    text: web('address: 10.0.0.1:80', 'reals: [192.168.10.2]', 'check: true'),
    line: 5,
    column: 12,
    path: 'services.web.check',
    message: /expected a mapping \(key: value\) or false, got true/,
  },
  // --- durations
  {
    name: 'timeout not in whole seconds',
    text: y('kernel:', '  timeouts: { tcp: 500ms }'),
    line: 2,
    column: 20,
    path: 'kernel.timeouts.tcp',
    message: /500ms is not a whole number of seconds/,
  },
  {
    name: 'timeout 0',
    text: y('kernel:', '  timeouts: { udp: 0 }'),
    line: 2,
    column: 20,
    path: 'kernel.timeouts.udp',
    message: 'must be at least 1s',
  },
  {
    name: 'not a duration',
    text: y('reconcile:', '  drain_timeout: 2 minutes'),
    line: 2,
    column: 18,
    path: 'reconcile.drain_timeout',
    message: /"2 minutes" is not a duration: write 2s, 500ms, 1m/,
  },
  // --- service identity
  {
    name: 'neither address nor fwmark',
    text: web('scheduler: rr', 'reals: [192.168.10.2]'),
    line: 2,
    column: 3,
    path: 'services.web',
    message: /a service needs address .* or fwmark/,
  },
  {
    name: 'address and fwmark',
    text: web('address: 10.0.0.1:80', 'fwmark: 1', 'reals: [192.168.10.2]'),
    line: 4,
    column: 5,
    path: 'services.web.fwmark',
    message: /address and fwmark exclude each other/,
  },
  {
    name: 'a host name instead of an address',
    text: web('address: www.example.com:80', 'reals: [192.168.10.2]'),
    line: 3,
    column: 14,
    path: 'services.web.address',
    message: /'www.example.com:80' is not an IP address: IPVS balances IP addresses/,
  },
  {
    name: 'unquoted IPv6 with a port',
    text: web('address: [2001:db8::1]:80', 'reals: ["[2001:db8::2]:80"]'),
    line: 3,
    column: 27,
    path: '',
    message: /YAML syntax: .*quote an IPv6 address with a port/,
  },
  {
    name: 'unquoted IPv6 in brackets',
    text: web('address: [2001:db8::1]', 'reals: ["2001:db8::2"]'),
    line: 3,
    column: 14,
    path: 'services.web.address',
    message: /an unquoted \[2001:db8::1\] is a YAML list/,
  },
  {
    name: 'family contradicts the address',
    text: web('address: 10.0.0.1:80', 'family: ipv6', 'reals: [192.168.10.2]'),
    line: 4,
    column: 13,
    path: 'services.web.family',
    message: /family ipv6 contradicts the address 10.0.0.1:80, which is ipv4/,
  },
  {
    name: 'fwmark with a protocol',
    text: web('fwmark: 5', 'protocol: udp', 'persistence: true', 'reals: [192.168.10.2]'),
    line: 4,
    column: 5,
    path: 'services.web.protocol',
    message: /a fwmark service has no protocol/,
  },
  {
    name: 'same service under two names',
    text: y(
      'services:',
      '  web: { address: "[2001:db8::1]:80", reals: ["2001:db8::2"] }',
      '  www: { address: "[2001:db8:0:0::1]:80", reals: ["2001:db8::3"] }',
    ),
    line: 3,
    column: 3,
    path: 'services.www',
    message:
      "same virtual service as 'web' (TCP [2001:db8::1]:80): " +
      'IPVS keeps one service per protocol, address and port, so the two would fight over it',
  },
  {
    name: 'same fwmark twice',
    text: y(
      'services:',
      '  a: { fwmark: 7, reals: [192.168.10.2] }',
      '  b: { fwmark: 7, family: ipv4, reals: [192.168.10.3] }',
    ),
    line: 3,
    column: 3,
    path: 'services.b',
    message: /same virtual service as 'a' \(FWM 7\)/,
  },
  // --- port 0, persistence
  {
    name: 'port 0 without persistence',
    text: web('address: 10.0.0.1', 'reals: [192.168.10.2]'),
    line: 3,
    column: 14,
    path: 'services.web.address',
    message:
      /10.0.0.1 has no port \(port 0: all ports\), which IPVS accepts only for a persistent service/,
  },
  {
    name: 'dotted mask on an IPv6 service',
    text: web(
      'address: "[2001:db8::1]:443"',
      'persistence: { netmask: 255.255.255.0 }',
      'reals: ["2001:db8::2"]',
    ),
    line: 4,
    column: 29,
    path: 'services.web.persistence.netmask',
    message: /an IPv6 service takes a prefix length \(netmask: 64\)/,
  },
  {
    name: 'non-contiguous mask',
    text: web(
      'address: 10.0.0.1:443',
      'persistence: { netmask: 255.0.255.0 }',
      'reals: [192.168.10.2]',
    ),
    line: 4,
    column: 29,
    path: 'services.web.persistence.netmask',
    message: /255.0.255.0 is not an IPv4 netmask/,
  },
  {
    name: 'IPv6 prefix on IPv4',
    text: web('address: 10.0.0.1:443', 'persistence: { netmask: 64 }', 'reals: [192.168.10.2]'),
    line: 4,
    column: 29,
    path: 'services.web.persistence.netmask',
    message: 'prefix length 64 does not fit an ipv4 service (0..32)',
  },
  // --- forwarding and ports
  {
    name: 'DR cannot map ports',
    text: web('address: 10.0.0.1:80', 'forwarding: dr', 'reals: [192.168.1.100:8080]'),
    line: 5,
    column: 13,
    path: 'services.web.reals[0]',
    message:
      'DR forwarding cannot map ports: the real keeps the destination port of the packet, ' +
      'so 192.168.1.100:8080 cannot serve port 80; drop the port or use nat',
  },
  {
    name: 'TUN cannot map ports',
    text: web(
      'address: 10.0.0.1:80',
      'reals:',
      '  - { address: 192.168.1.100:81, forwarding: tun }',
    ),
    line: 5,
    column: 20,
    path: 'services.web.reals[0].address',
    message: /TUN forwarding cannot map ports/,
  },
  {
    name: 'DR real with a port on a fwmark service',
    text: web('fwmark: 3', 'forwarding: dr', 'reals: [192.168.1.100:80]'),
    line: 5,
    column: 13,
    path: 'services.web.reals[0]',
    message: /DR forwarding cannot map ports: the real receives the packet's own destination port/,
  },
  {
    name: 'fwmark reals with different ports',
    text: web('fwmark: 3', 'forwarding: nat', 'reals: [192.168.1.100:80, 192.168.1.101]'),
    line: 5,
    column: 31,
    path: 'services.web.reals[1]',
    message:
      /the reals of a fwmark service carry no port or one port for all: reals\[0\] has port 80, this one none/,
  },
  {
    name: 'mixed families with NAT',
    text: web('address: 10.0.0.1:80', 'forwarding: nat', 'reals: ["[2001:db8::2]:80"]'),
    line: 5,
    column: 13,
    path: 'services.web.reals[0]',
    message:
      /is ipv6 but the service is ipv4: IPVS reaches a real of the other family only through a tunnel/,
  },
  {
    name: 'sorry server mapping ports under DR',
    text: web('address: 10.0.0.1:80', 'reals: [192.168.10.2]', 'sorry_server: 192.168.10.9:8080'),
    line: 5,
    column: 19,
    path: 'services.web.sorry_server',
    message: /DR forwarding cannot map ports/,
  },
  {
    name: 'duplicate reals',
    text: web(
      'address: 10.0.0.1:80',
      'forwarding: nat',
      'reals: [192.168.10.2, "192.168.10.2:80"]',
    ),
    line: 5,
    column: 27,
    path: 'services.web.reals[1]',
    message:
      '192.168.10.2:80 is listed twice (reals[0] and reals[1]): IPVS keys reals by address and port',
  },
  // --- thresholds
  {
    name: 'lower above upper',
    text: web(
      'address: 10.0.0.1:80',
      'reals:',
      '  - { address: 192.168.10.2, upper: 500, lower: 800 }',
    ),
    line: 5,
    column: 53,
    path: 'services.web.reals[0].lower',
    message: /lower threshold 800 is above upper threshold 500/,
  },
  {
    name: 'lower without upper (inherited from the service)',
    text: web('address: 10.0.0.1:80', 'lower: 10', 'reals: [192.168.10.2]'),
    line: 4,
    column: 12,
    path: 'services.web.lower',
    message: /lower threshold 10 without an upper threshold/,
  },
  // --- scheduling
  {
    name: 'ops on TCP',
    text: web('address: 10.0.0.1:80', 'ops: true', 'reals: [192.168.10.2]'),
    line: 4,
    column: 10,
    path: 'services.web.ops',
    message: /one-packet scheduling \(ops\) is for UDP services only, as in ipvsadm/,
  },
  {
    name: 'sh flag on rr',
    text: web(
      'address: 10.0.0.1:80',
      'scheduler: rr',
      'scheduler_flags: [sh-port]',
      'reals: [192.168.10.2]',
    ),
    line: 5,
    column: 22,
    path: 'services.web.scheduler_flags',
    message: 'sh-port is a flag of the sh scheduler; this service uses rr, which ignores it',
  },
  // --- tunnels
  {
    name: 'gue without a port',
    text: web(
      'address: 10.0.0.1:80',
      'forwarding: tun',
      'tunnel: { type: gue }',
      'reals: [192.168.10.2]',
    ),
    line: 5,
    column: 5,
    path: 'services.web.tunnel',
    message: /a gue tunnel needs port/,
  },
  {
    name: 'tunnel settings on NAT',
    text: web(
      'address: 10.0.0.1:80',
      'forwarding: nat',
      'reals:',
      '  - { address: 192.168.10.2, tunnel: { type: gre } }',
    ),
    line: 6,
    column: 34,
    path: 'services.web.reals[0].tunnel',
    message: 'tunnel settings apply to forwarding tun only; this real uses nat',
  },
  {
    name: 'remcsum with gre',
    text: web(
      'address: 10.0.0.1:80',
      'forwarding: tun',
      'tunnel: { type: gre, checksum: remcsum }',
      'reals: [192.168.10.2]',
    ),
    line: 5,
    column: 36,
    path: 'services.web.tunnel.checksum',
    message: /remcsum .* exists for gue only, not gre/,
  },
  // --- checks
  {
    name: 'unknown check type',
    text: web('address: 10.0.0.1:80', 'reals: [192.168.10.2]', 'check: { type: htp }'),
    line: 5,
    column: 20,
    path: 'services.web.check.type',
    message: /unknown check type "htp" — did you mean 'http'\?/,
  },

  {
    name: 'check without a type',
    text: web('address: 10.0.0.1:80', 'reals: [192.168.10.2]', 'check: { port: 80 }'),
    line: 5,
    column: 5,
    path: 'services.web.check.type',
    message: /a check needs a type/,
  },
  {
    name: 'tcp check with no port to check',
    text: web('fwmark: 9', 'reals: [192.168.10.2, 192.168.10.3]', 'check: { type: tcp }'),
    line: 5,
    column: 5,
    path: 'services.web.check',
    message: /a tcp check needs a port, and real 192.168.10.2 and 1 more has none/,
  },
  {
    name: 'a defaults check with no port to check',
    text: y(
      'defaults: { check: { type: http } }',
      'services:',
      '  web: { fwmark: 9, reals: [192.168.10.2] }',
    ),
    line: 3,
    column: 3,
    path: 'services.web',
    message: /a http check \(inherited from defaults\) needs a port/,
  },
  {
    name: 'a real check with no port to check',
    text: web('fwmark: 9', 'reals:', '  - { address: 192.168.10.2, check: { type: smtp } }'),
    line: 5,
    column: 34,
    path: 'services.web.reals[0].check',
    message: /a smtp check needs a port, and real 192.168.10.2 has none/,
  },
  {
    name: 'http status out of range',
    text: web(
      'address: 10.0.0.1:80',
      'reals: [192.168.10.2]',
      'check: { type: http, status: [700] }',
    ),
    line: 5,
    column: 35,
    path: 'services.web.check.status[0]',
    message: /700 is above the maximum 599|a status code/,
  },
  // --- vip, vips, sync
  {
    name: 'vip on a fwmark service',
    text: web('fwmark: 3', 'vip: eth0', 'reals: [192.168.10.2]'),
    line: 4,
    column: 5,
    path: 'services.web.vip',
    message: /a fwmark service has no address to hold/,
  },
  {
    name: 'two master daemons',
    text: y(
      'kernel:',
      '  sync:',
      '    - { state: master, interface: eth1 }',
      '    - { state: master, interface: eth2 }',
    ),
    line: 4,
    column: 16,
    path: 'kernel.sync[1].state',
    message: /a second master daemon .*at most one master and one backup/,
  },
  {
    name: 'sync group not multicast',
    text: y('kernel:', '  sync: { state: backup, interface: eth1, mcast_group: 10.1.1.1 }'),
    line: 2,
    column: 56,
    path: 'kernel.sync.mcast_group',
    message: /10.1.1.1 is not a multicast address/,
  },
  {
    name: 'vips listed twice',
    text: y(
      'vips:',
      '  - { address: 10.0.0.9/32, interface: lvsd0 }',
      '  - { address: 10.0.0.9, interface: lvsd0 }',
    ),
    line: 3,
    column: 5,
    path: 'vips[1]',
    message: '10.0.0.9 on lvsd0 is listed twice (vips[0] and vips[1])',
  },
  {
    name: 'vip prefix too long',
    text: y('vips:', '  - { address: 10.0.0.9/33, interface: lvsd0 }'),
    line: 2,
    column: 16,
    path: 'vips[0].address',
    message: /'\/33' is not a prefix length for ipv4/,
  },
  // --- YAML itself, hosts
  {
    name: 'duplicate key',
    text: web('address: 10.0.0.1:80', 'address: 10.0.0.2:80', 'reals: [192.168.10.2]'),
    line: 4,
    column: 5,
    path: '',
    message: /YAML syntax: Map keys must be unique/,
  },
  {
    name: 'a host with no entry',
    text: y('services: {}', 'hosts:', '  lb1: {}', '  lb2: {}'),
    line: 2,
    column: 1,
    path: 'hosts',
    message: "host 'lb3' has no entry under hosts — did you mean 'lb1'? (entries: lb1, lb2)",
    host: 'lb3',
  },
  {
    name: 'a host override with a bad value',
    text: y(
      'services:',
      '  web: { address: 10.0.0.1:80, reals: [192.168.10.2] }',
      'hosts:',
      '  lb1:',
      '    services:',
      '      web: { weight: 99999 }',
    ),
    line: 6,
    column: 22,
    path: 'services.web.weight',
    message: /99999 is above the maximum 65535/,
    host: 'lb1',
  },
];

describe('bad configs: every problem at file:line:column with its path and reason', () => {
  it('has at least 40 cases', () => expect(bad.length).toBeGreaterThanOrEqual(40));

  it.each(bad)('$name', ({ text, line, column, path, message, host }) => {
    const result = load(text, host === undefined ? {} : { host });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const match = result.errors.find(
      (d) =>
        d.path === path &&
        (typeof message === 'string' ? d.message === message : message.test(d.message)),
    );
    expect(
      match,
      `errors were:\n${result.errors.map((d) => `${d.line}:${d.column} ${d.path}: ${d.message}`).join('\n')}`,
    ).toBeDefined();
    expect({ file: match?.file, line: match?.line, column: match?.column }).toEqual({
      file: 'lvsd.yaml',
      line,
      column,
    });
  });
});

interface Warned {
  name: string;
  text: string;
  path: string;
  message: RegExp;
}

const warned: Warned[] = [
  {
    name: 'no reals',
    text: web('address: 10.0.0.1:80'),
    path: 'services.web',
    message: /no reals and no sorry_server/,
  },
  {
    name: 'every weight 0',
    text: web('address: 10.0.0.1:80', 'weight: 0', 'reals: [192.168.10.2, 192.168.10.3]'),
    path: 'services.web.reals',
    message: /every real has weight 0/,
  },
  {
    name: 'quorum out of reach',
    text: web(
      'address: 10.0.0.1:80',
      'reals: [192.168.10.2]',
      'sorry_server: 192.168.10.9',
      'quorum: 5',
    ),
    path: 'services.web.quorum',
    message: /quorum 5 is above the sum of all weights \(1\)/,
  },
  {
    name: 'hysteresis without quorum',
    text: web('address: 10.0.0.1:80', 'reals: [192.168.10.2]', 'quorum_hysteresis: 1'),
    path: 'services.web.quorum_hysteresis',
    message: /no effect without quorum/,
  },
  {
    name: 'sip engine on TCP',
    text: web('address: 10.0.0.1:5060', 'persistence: { engine: sip }', 'reals: [192.168.10.2]'),
    path: 'services.web.persistence.engine',
    message: /the sip engine reads Call-IDs from SIP over UDP/,
  },
  {
    name: 'check timeout not below interval (capped; test/config/safety.test.ts has the rest)',
    text: web(
      'address: 10.0.0.1:80',
      'reals: [192.168.10.2]',
      'check: { type: tcp, interval: 1s, timeout: 2s }',
    ),
    path: 'services.web.check.timeout',
    message: /^timeout 2s is not shorter than interval 1s: .* so lvsd caps it at 1s/,
  },
  {
    name: 'quorum without sorry server',
    text: web('address: 10.0.0.1:80', 'reals: [192.168.10.2]', 'quorum: 1'),
    path: 'services.web.quorum',
    message: /quorum without sorry_server changes nothing/,
  },
];

describe('suspicious but legal: warnings, and the config still loads', () => {
  it.each(warned)('$name', ({ text, path, message }) => {
    const result = load(text);
    expect(result.ok).toBe(true);
    expect(
      result.warnings.find((d) => d.path === path && message.test(d.message)),
      JSON.stringify(result.warnings),
    ).toBeDefined();
  });
});

const good: Array<{ name: string; text: string }> = [
  {
    name: 'DR real without a port inherits the service port',
    text: web('address: 10.0.0.1:80', 'forwarding: dr', 'reals: [192.168.1.100]'),
  },
  {
    name: 'DR real with the service port',
    text: web('address: 10.0.0.1:80', 'forwarding: dr', 'reals: [192.168.1.100:80]'),
  },
  {
    name: 'NAT maps ports',
    text: web('address: 10.0.0.1:80', 'forwarding: nat', 'reals: [192.168.1.100:8080]'),
  },
  {
    name: 'fwmark reals without ports',
    text: web('fwmark: 3', 'reals: [192.168.1.100, 192.168.1.101]'),
  },
  {
    name: 'fwmark NAT reals with one port for all',
    text: web('fwmark: 3', 'forwarding: nat', 'reals: [192.168.1.100:8080, 192.168.1.101:8080]'),
  },
  {
    name: 'port 0 with persistence',
    text: web('address: 10.0.0.1', 'persistence: true', 'reals: [192.168.1.100]'),
  },
  {
    name: 'IPv6 persistence prefix',
    text: web(
      'address: "[2001:db8::1]:443"',
      'persistence: { netmask: 64 }',
      'reals: ["2001:db8::2"]',
    ),
  },
  {
    name: 'IPv4 persistence prefix as a number',
    text: web('address: 10.0.0.1:443', 'persistence: { netmask: 24 }', 'reals: [192.168.10.2]'),
  },
  {
    name: 'mixed families through a tunnel',
    text: web('address: 10.0.0.1:80', 'forwarding: tun', 'reals: ["2001:db8::2"]'),
  },
  {
    name: 'lower equal to upper',
    text: web('address: 10.0.0.1:80', 'reals: [{ address: 192.168.10.2, upper: 100, lower: 100 }]'),
  },
  {
    name: 'ops on UDP',
    text: web('address: 10.0.0.1:53', 'protocol: udp', 'ops: true', 'reals: [192.168.10.2]'),
  },
  { name: 'ops on a fwmark service', text: web('fwmark: 4', 'ops: true', 'reals: [192.168.10.2]') },
  {
    name: 'sh flags on sh',
    text: web(
      'address: 10.0.0.1:80',
      'scheduler: sh',
      'scheduler_flags: [sh-fallback, sh-port]',
      'reals: [192.168.10.2]',
    ),
  },
  {
    name: 'mh flags on mh',
    text: web(
      'address: 10.0.0.1:80',
      'scheduler: mh',
      'scheduler_flags: [mh-port]',
      'reals: [192.168.10.2]',
    ),
  },
  {
    name: 'sip engine on UDP',
    text: web(
      'address: 10.0.0.1:5060',
      'protocol: udp',
      'persistence: { engine: sip, timeout: 1m }',
      'reals: [192.168.10.2]',
    ),
  },
  {
    name: 'gue with a port and csum',
    text: web(
      'address: 10.0.0.1:80',
      'forwarding: tun',
      'tunnel: { type: gue, port: 6080, checksum: remcsum }',
      'reals: [192.168.10.2]',
    ),
  },
  {
    name: 'tcp check with a port on a fwmark service',
    text: web('fwmark: 9', 'reals: [192.168.10.2]', 'check: { type: tcp, port: 443 }'),
  },
  {
    name: 'exec check needs no port',
    text: web('fwmark: 9', 'reals: [192.168.10.2]', 'check: { type: exec, command: [/bin/true] }'),
  },
  { name: 'sync as none', text: y('kernel:', '  sync: none') },
  { name: 'empty file', text: '' },
  { name: 'comments only', text: '# nothing yet\n' },
  {
    name: 'a tunnel in defaults is ignored by NAT reals',
    text: y(
      'defaults: { tunnel: { type: gre } }',
      'services:',
      '  web: { address: 10.0.0.1:80, forwarding: nat, reals: [192.168.10.2] }',
    ),
  },
  {
    name: 'empty values count as absent (every real commented out)',
    text: y(
      'services:',
      '  web:',
      '    address: 10.0.0.1:80',
      '    sorry_server: 192.168.10.9',
      '    reals:',
      '      # - 192.168.10.2',
      'vips:',
      'kernel:',
    ),
  },
  {
    name: 'a disabled service is not checked',
    text: web('enabled: false', 'address: not-an-address'),
  },
];

describe('good configs load without errors', () => {
  it.each(good)('$name', ({ text }) => {
    const result = load(text);
    expect(result.ok ? [] : result.errors).toEqual([]);
  });
});
