/**
 * The raw-socket module against the host kernel, in two network namespaces on a bridge:
 * IPv4 and IPv6 protocol-112 datagrams cross with the options VRRP needs (TTL / hop limit
 * 255, multicast membership, the kernel's IPv6 checksum); the receive worker delivers them
 * while the main thread's timers stay on time; without CAP_NET_RAW the error says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeLan, netnsUnavailable, REPO, sh, type Lan } from '../vrrp/netns.js';

const skip = netnsUnavailable();
const PREFIX = 'vrrpffi';

/** A node script that receives for `ms` and prints one JSON line per datagram, then the timer lateness. */
const receiver = (family: 'ipv4' | 'ipv6', ms: number) => `
import { SOL } from '${REPO}dist/ffi/libc.js';
import { RawSocket, interfaceIndex, IP, IPV6 } from '${REPO}dist/ffi/raw-socket.js';
import { Receiver } from '${REPO}dist/ffi/receiver.js';
const s = RawSocket.open({ family: '${family}', protocol: 112 });
s.bindToDevice('eth0');
const ifindex = interfaceIndex('eth0');
if ('${family}' === 'ipv4') s.joinGroup('224.0.0.18', ifindex);
else {
  s.setInt(SOL.ipv6, IPV6.checksum, 6);
  s.setInt(SOL.ipv6, IPV6.recvHoplimit, 1);
  s.joinGroup('ff02::12', ifindex);
}
const r = new Receiver((m) => console.error(m));
r.watch(s, (p) => console.log(JSON.stringify({ from: p.from, len: p.data.length,
  hex: p.data.toString('hex'), controls: p.controls.map((c) => [c.level, c.type, c.data.toString('hex')]) })));
let late = 0, ticks = 0, last = performance.now();
const tick = setInterval(() => {
  const now = performance.now(); late = Math.max(late, now - last - 10); last = now; ticks++;
}, 10);
console.log(JSON.stringify({ ready: true }));
setTimeout(async () => { clearInterval(tick); await r.unwatch(s); s.close(); await r.close();
  console.log(JSON.stringify({ late, ticks })); }, ${ms});
`;

const sender = (family: 'ipv4' | 'ipv6', to: string, count: number) => `
import { SOL } from '${REPO}dist/ffi/libc.js';
import { RawSocket, interfaceIndex, IP, IPV6 } from '${REPO}dist/ffi/raw-socket.js';
const s = RawSocket.open({ family: '${family}', protocol: 112 });
s.bindToDevice('eth0');
s.multicastInterface(interfaceIndex('eth0'));
if ('${family}' === 'ipv4') { s.setInt(SOL.ip, IP.multicastTtl, 255); s.setInt(SOL.ip, IP.tos, 0xc0); }
else { s.setInt(SOL.ipv6, IPV6.multicastHops, 255); s.setInt(SOL.ipv6, IPV6.checksum, 6); }
const advert = Buffer.from([0x31, 7, 100, 1, 0, 100, 0, 0, 192, 0, 2, 9]);
for (let i = 0; i < ${count}; i++) s.send(advert, '${to}', interfaceIndex('eth0'));
s.close();
`;

function nodeIn(lan: Lan, node: string, code: string) {
  return lan.spawn(node, process.execPath, ['--input-type=module', '-e', code]);
}

async function receive(lan: Lan, family: 'ipv4' | 'ipv6', to: string, count: number) {
  const child = nodeIn(lan, 'b', receiver(family, 1500));
  const exited = new Promise((r) => child.on('exit', r));
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (err += d));
  while (!out.includes('ready')) {
    if (child.exitCode !== null) throw new Error(err);
    await new Promise((r) => setTimeout(r, 20));
  }
  lan.exec('a', process.execPath, ['--input-type=module', '-e', sender(family, to, count)]);
  await exited;
  expect(err).toBe('');
  return out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

describe.skipIf(skip)(`raw sockets in namespaces${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let lan: Lan;
  beforeAll(() => {
    lan = makeLan(PREFIX, ['a', 'b']);
  });
  afterAll(() => lan?.destroy());

  it('IPv4: multicast with TTL 255 and TOS 0xc0 reaches the receive worker', async () => {
    const lines = await receive(lan, 'ipv4', '224.0.0.18', 5);
    const packets = lines.filter((l) => l.hex);
    expect(packets).toHaveLength(5);
    const ip = Buffer.from(packets[0].hex, 'hex');
    expect(ip[0]! >> 4).toBe(4);
    expect(ip[1]).toBe(0xc0); // TOS
    expect(ip[8]).toBe(255); // TTL
    expect(ip[9]).toBe(112);
    expect(packets[0].from).toBe('192.0.2.1');
    expect(ip.subarray(20).toString('hex')).toBe('310764010064000' + '0c0000209');
    const { late } = lines.at(-1);
    // A blocking read would hold the loop for the whole 1.5 s; scheduling noise on a busy 2-core host stays far below.
    expect(late).toBeLessThan(250);
  });

  it('IPv6: hop limit 255 in ancillary data, checksum filled in by the kernel', async () => {
    const lines = await receive(lan, 'ipv6', 'ff02::12', 3);
    const packets = lines.filter((l) => l.hex);
    expect(packets).toHaveLength(3);
    expect(packets[0].from).toMatch(/^fe80::/);
    const hop = packets[0].controls.find((c: number[]) => c[0] === 41 && c[1] === 52);
    expect(hop).toBeDefined();
    expect(Buffer.from(hop[2], 'hex').readInt32LE(0)).toBe(255);
    expect(packets[0].hex.slice(12, 16)).not.toBe('0000'); // checksum set
  });

  it('without CAP_NET_RAW the error names the capability', () => {
    const code = `import { RawSocket } from '${REPO}dist/ffi/raw-socket.js';
try { RawSocket.open({ family: 'ipv4', protocol: 112 }); } catch (e) { console.log(e.message); }`;
    const out = sh('setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      '--inh-caps=-all',
      process.execPath,
      '--input-type=module',
      '-e',
      code,
    ]);
    expect(out).toMatch(
      /socket \(ipv4, protocol 112\): Operation not permitted \(EPERM\): raw sockets need CAP_NET_RAW/,
    );
  });
});
