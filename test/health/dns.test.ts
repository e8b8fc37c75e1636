/**
 * The DNS checker against a tiny DNS server (UDP and TCP) whose replies are built here
 * byte by byte, independently of src/health/dns-packet.ts.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareCheck } from '../../src/health/checkers/index.js';
import { decodeReply, encodeQuery, hasAnswer, rcodeName } from '../../src/health/dns-packet.js';
import { runCheck } from '../../src/health/attempt.js';
import { check } from './fixtures.js';
import { closedPort, target } from './servers.js';

const A = 1;
const AAAA = 28;
const MX = 15;
const TXT = 16;

/** Reads the question: name (no compression in queries) and type. */
function question(query: Buffer): { name: string; type: number; end: number } {
  const labels: string[] = [];
  let offset = 12;
  while (query[offset] !== 0) {
    const n = query[offset] as number;
    labels.push(query.toString('ascii', offset + 1, offset + 1 + n));
    offset += 1 + n;
  }
  return { name: labels.join('.'), type: query.readUInt16BE(offset + 1), end: offset + 5 };
}

function rr(type: number, data: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0); // pointer to the question's name
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt32BE(60, 6);
  head.writeUInt16BE(data.length, 10);
  return Buffer.concat([head, data]);
}

function name(text: string): Buffer {
  return Buffer.concat([
    ...text.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
    Buffer.from([0]),
  ]);
}

/**
 * The zone: web.test A 192.0.2.1, AAAA 2001:db8::1, MX 10 mail.web.test, TXT;
 * missing.test NXDOMAIN; broken.test SERVFAIL.
 */
function answer(query: Buffer): Buffer {
  const q = question(query);
  let rcode = 0;
  const answers: Buffer[] = [];
  if (q.name === 'web.test') {
    if (q.type === A)
      answers.push(rr(A, Buffer.from([192, 0, 2, 1])), rr(A, Buffer.from([192, 0, 2, 2])));
    if (q.type === AAAA)
      answers.push(rr(AAAA, Buffer.from('20010db8000000000000000000000001', 'hex')));
    if (q.type === MX)
      answers.push(rr(MX, Buffer.concat([Buffer.from([0, 10]), name('mail.web.test')])));
    if (q.type === TXT)
      answers.push(
        rr(
          TXT,
          Buffer.concat([
            Buffer.from([5]),
            Buffer.from('hello'),
            Buffer.from([6]),
            Buffer.from(' world'),
          ]),
        ),
      );
  } else if (q.name === 'broken.test') rcode = 2;
  else rcode = 3;
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  header.writeUInt16BE(0x8180 | rcode, 2); // QR, RD, RA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, query.subarray(12, q.end), ...answers]);
}

let udpPort = 0;
let tcpPort = 0;
let tcpQueries = 0;
const udp = dgram.createSocket('udp4');
const tcp = net.createServer((socket) => {
  socket.on('error', () => undefined);
  socket.once('data', (data: Buffer) => {
    tcpQueries++;
    const reply = answer(data.subarray(2, 2 + data.readUInt16BE(0)));
    const length = Buffer.alloc(2);
    length.writeUInt16BE(reply.length);
    // Split in two writes: the checker must reassemble.
    socket.write(Buffer.concat([length, reply.subarray(0, 5)]));
    setTimeout(() => socket.end(reply.subarray(5)), 10);
  });
});

beforeAll(async () => {
  udp.on('message', (msg, rinfo) => udp.send(answer(msg), rinfo.port, rinfo.address));
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', () => resolve()));
  udpPort = udp.address().port;
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', () => resolve()));
  tcpPort = (tcp.address() as net.AddressInfo).port;
});
afterAll(async () => {
  udp.close();
  await new Promise((resolve) => tcp.close(resolve));
});

function dns(config: Record<string, unknown>, port: number, timeoutMs = 1000) {
  return runCheck(prepareCheck(check({ type: 'dns', ...config }), target(port)), timeoutMs);
}

describe('dns checker', () => {
  const cases: Array<[string, Record<string, unknown>, boolean, RegExp?]> = [
    ['A, NOERROR', { name: 'web.test' }, true],
    [
      'A with an expected answer (the second record)',
      { name: 'web.test', answer: '192.0.2.2' },
      true,
    ],
    [
      'A with an answer that is not there',
      { name: 'web.test', answer: '192.0.2.9' },
      false,
      /answer 192\.0\.2\.9 not in reply \(192\.0\.2\.1, 192\.0\.2\.2\)/,
    ],
    [
      'AAAA answer compared in canonical form',
      { name: 'web.test', qtype: 'AAAA', answer: '2001:DB8:0:0::1' },
      true,
    ],
    [
      'MX answer with a trailing dot',
      { name: 'web.test', qtype: 'MX', answer: '10 mail.web.test.' },
      true,
    ],
    ['TXT strings joined', { name: 'web.test', qtype: 'TXT', answer: 'hello world' }, true],
    [
      'NXDOMAIN when NOERROR is wanted',
      { name: 'missing.test' },
      false,
      /rcode NXDOMAIN, expected NOERROR/,
    ],
    ['NXDOMAIN when NXDOMAIN is wanted', { name: 'missing.test', rcode: 'NXDOMAIN' }, true],
    ['SERVFAIL', { name: 'broken.test' }, false, /rcode SERVFAIL/],
  ];
  it.each(cases)('udp: %s', async (_name, config, ok, message) => {
    const result = await dns(config, udpPort);
    expect(result.ok, result.message).toBe(ok);
    if (message) expect(result.message).toMatch(message);
  });
  it.each(cases)('tcp: %s', async (_name, config, ok, message) => {
    const result = await dns({ ...config, transport: 'tcp' }, tcpPort);
    expect(result.ok, result.message).toBe(ok);
    if (message) expect(result.message).toMatch(message);
  });
  it('tcp really goes over TCP', async () => {
    const before = tcpQueries;
    await dns({ name: 'web.test', transport: 'tcp' }, tcpPort);
    expect(tcpQueries).toBe(before + 1);
  });
  it('udp to a closed port is down at once (ICMP unreachable)', async () => {
    const result = await dns({ name: 'web.test' }, await closedPort(), 1500);
    expect(result).toMatchObject({ ok: false, timedOut: false, message: 'ICMP port unreachable' });
  });
  it('tcp to a closed port is down', async () => {
    expect((await dns({ name: 'web.test', transport: 'tcp' }, await closedPort())).message).toMatch(
      /ECONNREFUSED/,
    );
  });
});

describe('dns codec', () => {
  it('encodes a query as dig does: id, RD, one question, class IN', () => {
    const q = encodeQuery(0x1234, 'web.test.', 'AAAA');
    expect(q.toString('hex')).toBe(
      '123401000001000000000000' + '03776562' + '0474657374' + '00' + '001c0001',
    );
  });
  it('with EDNS: ARCOUNT 1 and an OPT record (root, type 41, class = UDP size, DO in the TTL)', () => {
    const q = encodeQuery(0x1234, 'web.test', 'A', { udpSize: 1232, dnssecOk: true });
    expect(q.toString('hex')).toBe(
      '123401000001000000000001' +
        '03776562' +
        '0474657374' +
        '00' +
        '00010001' +
        '00' +
        '0029' +
        '04d0' +
        '00008000' +
        '0000',
    );
    expect(
      encodeQuery(1, 'web.test', 'A', { udpSize: 4096, dnssecOk: false }).subarray(-11),
    ).toEqual(Buffer.from('0000291000000000000000', 'hex'));
  });
  it("a reply's OPT record: its size, and its extended rcode bits (BADVERS)", () => {
    const reply = answer(encodeQuery(7, 'web.test', 'A'));
    reply.writeUInt16BE(1, 10); // ARCOUNT
    // OPT: root, type 41, size 1232, extended rcode 1 (16 with the header's 0: BADVERS).
    const opt = Buffer.from('00002904d0010000000000', 'hex');
    const decoded = decodeReply(Buffer.concat([reply, opt]));
    expect(decoded).toMatchObject({ rcode: 16, ednsUdpSize: 1232 });
    expect(rcodeName(decoded.rcode)).toBe('BADVERS');
  });
  it('rejects a label longer than 63 bytes', () => {
    expect(() => encodeQuery(1, `${'a'.repeat(64)}.test`, 'A')).toThrow(/63/);
  });
  it('decodes the server reply, compressed names included', () => {
    const reply = decodeReply(answer(encodeQuery(7, 'web.test', 'MX')));
    expect(reply).toEqual({
      id: 7,
      rcode: 0,
      truncated: false,
      answers: [{ type: MX, data: '10 mail.web.test' }],
    });
  });
  it('a short or overrunning reply is an error, not a crash', () => {
    expect(() => decodeReply(Buffer.alloc(5))).toThrow(/shorter than a header/);
    const good = answer(encodeQuery(7, 'web.test', 'A'));
    expect(() => decodeReply(good.subarray(0, good.length - 2))).toThrow();
  });
  it('hasAnswer ignores case and trailing dots', () => {
    expect(hasAnswer([{ type: 5, data: 'Target.Example.com' }], 'target.example.com.')).toBe(true);
  });
});
