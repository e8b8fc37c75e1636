/** The HTTP/1.x response reader: framing by length, chunks and close, fed whole or byte by byte. */
import fc from 'fast-check';
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

/**
 * The head as the reader read it before it walked the head by offsets (split, a regex, a Map
 * of every header): the oracle the offset walk must agree with, error texts included.
 */
function referenceHead(text: string): ResponseHead {
  const [statusLine = '', ...lines] = text.split('\r\n');
  const match = /^HTTP\/(1\.[01]) (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!match)
    throw new Error(`not an HTTP/1.x status line: ${JSON.stringify(statusLine.slice(0, 80))}`);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`bad header line ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const before = headers.get(name);
    headers.set(name, before === undefined ? value : `${before}, ${value}`);
  }
  const head = {
    version: match[1] as string,
    status: Number(match[2]),
    reason: match[3] ?? '',
    headers,
  };
  return head;
}

function referenceFraming(head: ResponseHead): string {
  if (head.status === 204 || head.status === 304) return 'none';
  const coding = head.headers.get('transfer-encoding');
  if (coding !== undefined)
    return coding.split(',').pop()?.trim().toLowerCase() === 'chunked' ? 'chunked' : 'close';
  const length = head.headers.get('content-length');
  if (length === undefined) return 'close';
  const values = new Set(length.split(',').map((v) => v.trim()));
  const only = values.size === 1 ? [...values][0] : undefined;
  if (only === undefined || !/^\d+$/.test(only))
    throw new Error(`bad Content-Length ${JSON.stringify(length)}`);
  return Number(only) === 0 ? 'none' : 'length';
}

/** What the reader makes of a head: its fields and its framing (by the events), or its error. */
function readerHead(text: string): unknown {
  let head: ResponseHead | undefined;
  let ended = false;
  let body = false;
  const reader = new HttpResponseReader('GET', {
    head: (h) => (head = h),
    body: () => (body = true),
    end: () => (ended = true),
  });
  try {
    // One byte of body: a framed body ends (length 1 is not what we send, so "length" stays open).
    reader.push(Buffer.from(`${text}\r\n\r\nx`, 'latin1'));
  } catch (err) {
    return { error: (err as Error).message };
  }
  // 1xx (but 101): an interim response, the real one still to come.
  if (!head) return { interim: true };
  const h = head;
  const framing = ended && !body ? 'none' : 'open';
  return {
    version: h.version,
    status: h.status,
    reason: h.reason,
    headers: [...h.headers],
    framing,
  };
}

function referenceRead(text: string): unknown {
  try {
    const head = referenceHead(text);
    if (head.status >= 100 && head.status < 200 && head.status !== 101) return { interim: true };
    const framing = referenceFraming(head);
    return {
      version: head.version,
      status: head.status,
      reason: head.reason,
      headers: [...head.headers],
      framing: framing === 'none' ? 'none' : 'open',
    };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

describe('HttpResponseReader: the head by offsets agrees with a split-and-regex reading', () => {
  // Latin-1 text with the characters that matter: white space trim() takes (\xa0 too), lone
  // CR and LF, colons, commas, digits, and the framing headers' names in any case.
  const piece = fc.constantFrom(
    ' ',
    '\t',
    '\xa0',
    '\v',
    '\r',
    '\n',
    ':',
    ',',
    '0',
    '5',
    '12',
    'x',
    'OK',
    '\xe9',
    'chunked',
    'gzip',
    'Content-Length',
    'content-length',
    'CONTENT-LENGTH',
    'Content-Lengthx',
    'Transfer-Encoding',
    'transfer-encoding',
    'Transfer-Encodin',
    'Host',
  );
  const text = fc.array(piece, { maxLength: 8 }).map((parts) => parts.join(''));
  const statusLine = fc.oneof(
    fc
      .tuple(fc.constantFrom('1.0', '1.1'), fc.integer({ min: 100, max: 999 }), fc.option(text))
      .map(([v, s, reason]) => `HTTP/${v} ${s}${reason === null ? '' : ` ${reason}`}`),
    text.map((t) => `HTTP/1.1 ${t}`),
    fc.constantFrom(
      'HTTP/2 200',
      'HTTP/1.1 20',
      'HTTP/1.1 2000',
      'HTTP/1.2 200 OK',
      'HTTP/1.1  200',
    ),
  );
  const headerLine = fc.oneof(
    fc.tuple(text, text).map(([name, value]) => `${name}:${value}`),
    fc
      .tuple(
        fc.constantFrom(
          'Content-Length',
          ' content-length ',
          'Transfer-Encoding',
          'TRANSFER-ENCODING\t',
        ),
        fc.constantFrom(' 5', '0', ' 5, 5', '5,6', ' chunked', 'gzip, chunked', 'x', ''),
      )
      .map(([name, value]) => `${name}:${value}`),
    text,
  );
  const head = fc
    .tuple(statusLine, fc.array(headerLine, { maxLength: 5 }))
    .map(([line, headers]) => [line, ...headers].join('\r\n'))
    // A head ends at its first empty line: the generated one must have none of its own.
    .filter((t) => !t.includes('\r\n\r\n') && !t.endsWith('\r\n') && !t.startsWith('\r\n'));

  it('fields, framing and error texts', () => {
    fc.assert(
      fc.property(head, (t) => {
        expect(readerHead(t)).toEqual(referenceRead(t));
      }),
      { numRuns: 3000 },
    );
  });
});
