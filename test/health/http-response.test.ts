/** The HTTP/1.x response reader: framing by length, chunks and close, fed whole or byte by byte. */
import { describe, expect, it } from 'vitest';
import { HttpResponseReader, type ResponseHead } from '../../src/health/http-response.js';

interface Read {
  head?: ResponseHead;
  body: string;
  ended: boolean;
}

function read(method: string, wire: string, chunking: 'whole' | 'bytes', close = false): Read {
  const out: Read = { body: '', ended: false };
  const reader = new HttpResponseReader(method, {
    head: (head) => (out.head = head),
    body: (chunk) => (out.body += chunk.toString('latin1')),
    end: () => (out.ended = true),
  });
  const bytes = Buffer.from(wire, 'latin1');
  if (chunking === 'whole') reader.push(bytes);
  else for (let i = 0; i < bytes.length; i++) reader.push(bytes.subarray(i, i + 1));
  if (close) reader.end();
  return out;
}

const cases: Array<
  [string, string, string, boolean, { status: number; body: string; ended: boolean }]
> = [
  [
    'content-length',
    'GET',
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello',
    false,
    { status: 200, body: 'hello', ended: true },
  ],
  [
    'chunked with an extension and trailers',
    'GET',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n',
    false,
    { status: 200, body: 'hello world', ended: true },
  ],
  [
    'until close (HTTP/1.0)',
    'GET',
    'HTTP/1.0 200 OK\r\n\r\nall of it',
    true,
    { status: 200, body: 'all of it', ended: true },
  ],
  [
    'HEAD has no body whatever the length says',
    'HEAD',
    'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n',
    false,
    { status: 200, body: '', ended: true },
  ],
  [
    '204 has no body',
    'GET',
    'HTTP/1.1 204 No Content\r\n\r\n',
    false,
    { status: 204, body: '', ended: true },
  ],
  [
    '100 Continue comes before the response',
    'POST',
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok',
    false,
    { status: 201, body: 'ok', ended: true },
  ],
  [
    'a repeated, agreeing Content-Length',
    'GET',
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok',
    false,
    { status: 200, body: 'ok', ended: true },
  ],
  [
    'a body still coming is not ended',
    'GET',
    'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhal',
    false,
    { status: 200, body: 'hal', ended: false },
  ],
];

describe('HttpResponseReader', () => {
  for (const [name, method, wire, close, want] of cases)
    for (const chunking of ['whole', 'bytes'] as const)
      it(`${name} (${chunking})`, () => {
        const got = read(method, wire, chunking, close);
        expect({ status: got.head?.status, body: got.body, ended: got.ended }).toEqual(want);
      });

  it('reads the version, the reason and the headers (names in lower case)', () => {
    const got = read(
      'GET',
      'HTTP/1.0 503 Service Unavailable\r\nRetry-After: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\n',
      'whole',
    );
    expect(got.head).toMatchObject({ version: '1.0', status: 503, reason: 'Service Unavailable' });
    expect(Object.fromEntries(got.head?.headers ?? [])).toEqual({
      'retry-after': '5',
      'x-a': '1, 2',
    });
  });

  const bad: Array<[string, string, boolean, RegExp]> = [
    ['not HTTP at all', 'SSH-2.0-OpenSSH_9.2\r\n', false, /not an HTTP response: "SSH-2\.0/],
    ['a bad status line', 'HTTP/2 200\r\n\r\n', false, /not an HTTP\/1\.x status line/],
    [
      'a bad chunk size',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      false,
      /bad chunk size line "zz"/,
    ],
    [
      'lengths that disagree',
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n',
      false,
      /bad Content-Length "2, 3"/,
    ],
    [
      'closed in the middle of a body',
      'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhal',
      true,
      /closed before the end of the body/,
    ],
    [
      'closed before the head ends',
      'HTTP/1.1 200 OK\r\nX: 1',
      true,
      /closed before a complete response head/,
    ],
  ];
  for (const [name, wire, close, message] of bad)
    it(`throws on ${name}`, () => {
      expect(() => read('GET', wire, 'whole', close)).toThrow(message);
    });

  it('a head longer than 64 KiB is refused, not buffered without end', () => {
    expect(() => read('GET', `HTTP/1.1 200 OK\r\nX: ${'a'.repeat(70_000)}`, 'whole')).toThrow(
      /longer than 65536 bytes/,
    );
  });
});
