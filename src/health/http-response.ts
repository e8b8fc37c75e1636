/**
 * A reader of one HTTP/1.x response (RFC 9112), fed the bytes of a connection as they
 * come: the status line and headers, then the body framed by Content-Length, chunked
 * transfer coding, or the end of the connection. Written by hand, as dns-packet.ts is,
 * because Node's HTTP client always sends HTTP/1.1 (keepalived's http_protocol 1.0 cannot be
 * asked of it) and owns its socket: a check must own the socket to close it the moment its
 * verdict is known. Pure: no I/O, no timers.
 */

export interface ResponseHead {
  /** "1.0" or "1.1". */
  version: string;
  status: number;
  reason: string;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Map<string, string>;
}

export interface ResponseEvents {
  head(head: ResponseHead): void;
  body(chunk: Buffer): void;
  end(): void;
}

/** Status line and headers may take this much; more is not a response a check accepts. */
export const MAX_HEAD_BYTES = 64 * 1024;

type Framing =
  | { kind: 'none' }
  | { kind: 'length'; left: number }
  | { kind: 'chunked'; state: 'size' | 'data' | 'data-end' | 'trailer'; left: number }
  | { kind: 'close' };

export class HttpResponseReader {
  private buffered: Buffer = Buffer.alloc(0);
  private stage: 'head' | 'body' | 'done' = 'head';
  private framing: Framing = { kind: 'none' };

  /** `method` decides whether a body follows (none after HEAD). */
  constructor(
    private readonly method: string,
    private readonly events: ResponseEvents,
  ) {}

  get done(): boolean {
    return this.stage === 'done';
  }

  /** Takes the next bytes of the connection; throws on a malformed response. */
  push(chunk: Buffer): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    while (this.stage !== 'done' && this.buffered.length > 0) {
      const progressed = this.stage === 'head' ? this.readHead() : this.readBody();
      if (!progressed) return;
    }
  }

  /** The connection ended: completes a body that runs to the end, else throws. */
  end(): void {
    if (this.stage === 'done') return;
    if (this.stage === 'body' && this.framing.kind === 'close') return this.finish();
    throw new Error(
      this.stage === 'head'
        ? 'connection closed before a complete response head'
        : 'connection closed before the end of the body',
    );
  }

  private finish(): void {
    this.stage = 'done';
    this.events.end();
  }

  private readHead(): boolean {
    const end = this.buffered.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.buffered.length > MAX_HEAD_BYTES)
        throw new Error(`response head longer than ${MAX_HEAD_BYTES} bytes`);
      if (this.buffered.length >= 5 && !this.buffered.subarray(0, 5).equals(Buffer.from('HTTP/')))
        throw new Error(
          `not an HTTP response: ${JSON.stringify(this.buffered.toString('latin1', 0, 40))}`,
        );
      return false;
    }
    const head = parseHead(this.buffered.toString('latin1', 0, end));
    this.buffered = this.buffered.subarray(end + 4);
    // 1xx responses (100 Continue, 103 Early Hints) come before the real one.
    if (head.status >= 100 && head.status < 200 && head.status !== 101) return true;
    this.framing = framingOf(this.method, head);
    this.events.head(head);
    this.stage = 'body';
    if (this.framing.kind === 'none') this.finish();
    return true;
  }

  private readBody(): boolean {
    const f = this.framing;
    if (f.kind === 'close') {
      this.emit(this.buffered.length);
      return true;
    }
    if (f.kind === 'length') {
      const n = Math.min(f.left, this.buffered.length);
      f.left -= n;
      this.emit(n);
      if (f.left === 0) this.finish();
      return true;
    }
    if (f.kind === 'chunked') return this.readChunked(f);
    return false;
  }

  private emit(n: number): void {
    if (n > 0) this.events.body(this.buffered.subarray(0, n));
    this.buffered = this.buffered.subarray(n);
  }

  private readChunked(f: Extract<Framing, { kind: 'chunked' }>): boolean {
    if (f.state === 'data') {
      const n = Math.min(f.left, this.buffered.length);
      f.left -= n;
      this.emit(n);
      if (f.left === 0) f.state = 'data-end';
      return true;
    }
    const eol = this.buffered.indexOf('\r\n');
    if (eol < 0) {
      if (this.buffered.length > MAX_HEAD_BYTES) throw new Error('chunk line too long');
      return false;
    }
    const line = this.buffered.toString('latin1', 0, eol);
    this.buffered = this.buffered.subarray(eol + 2);
    if (f.state === 'data-end') {
      if (line !== '') throw new Error('chunk data longer than its size');
      f.state = 'size';
    } else if (f.state === 'size') {
      const size = /^([0-9a-fA-F]{1,8})[ \t]*(;.*)?$/.exec(line);
      if (!size) throw new Error(`bad chunk size line ${JSON.stringify(line.slice(0, 40))}`);
      f.left = Number.parseInt(size[1] as string, 16);
      f.state = f.left === 0 ? 'trailer' : 'data';
    } else if (line === '') this.finish();
    return true;
  }
}

function parseHead(text: string): ResponseHead {
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
  return { version: match[1] as string, status: Number(match[2]), reason: match[3] ?? '', headers };
}

/** How the body is delimited (RFC 9112 section 6.3). */
function framingOf(method: string, head: ResponseHead): Framing {
  if (method === 'HEAD' || head.status === 204 || head.status === 304) return { kind: 'none' };
  const coding = head.headers.get('transfer-encoding');
  if (coding !== undefined) {
    const last = coding.split(',').pop()?.trim().toLowerCase();
    return last === 'chunked' ? { kind: 'chunked', state: 'size', left: 0 } : { kind: 'close' };
  }
  const length = head.headers.get('content-length');
  if (length !== undefined) {
    // A repeated header arrives joined ("5, 5"): the values must agree.
    const values = new Set(length.split(',').map((v) => v.trim()));
    const only = values.size === 1 ? [...values][0] : undefined;
    if (only === undefined || !/^\d+$/.test(only))
      throw new Error(`bad Content-Length ${JSON.stringify(length)}`);
    const left = Number(only);
    return left === 0 ? { kind: 'none' } : { kind: 'length', left };
  }
  return { kind: 'close' };
}
