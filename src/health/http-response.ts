/**
 * A reader of one HTTP/1.x response (RFC 9112), fed the bytes of a connection as they
 * come: the status line and headers, then the body framed by Content-Length, chunked
 * transfer coding, or the end of the connection. Written by hand, as dns-packet.ts is,
 * because Node's HTTP client always sends HTTP/1.1 (keepalived's http_protocol 1.0 cannot be
 * asked of it) and owns its socket: a check must own the socket to close it the moment its
 * verdict is known. Pure: no I/O, no timers.
 *
 * It runs once per http check, thousands of times a second on the check worker, where what
 * a check allocates is what the collector costs (issue 15): the head is walked by offsets in
 * one string, only the two headers that frame the body are taken out of it, and the reason
 * and the other headers are made only when asked for. The bytes pushed may be a view of a
 * buffer the caller reuses: the reader copies what it keeps past the call.
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

const EMPTY = Buffer.alloc(0);
const NONE: Framing = Object.freeze({ kind: 'none' });
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const HTTP_PREFIX = Buffer.from('HTTP/', 'latin1');

export class HttpResponseReader {
  private buffered: Buffer = EMPTY;
  private stage: 'head' | 'body' | 'done' = 'head';
  private framing: Framing = NONE;

  /** `method` decides whether a body follows (none after HEAD). */
  constructor(
    private readonly method: string,
    private readonly events: ResponseEvents,
  ) {}

  get done(): boolean {
    return this.stage === 'done';
  }

  /**
   * Takes the next bytes of the connection; throws on a malformed response. `chunk` need
   * only last the call (body events get views of it, valid while they run): what is left
   * unread is copied.
   */
  push(chunk: Buffer): void {
    const joined = this.buffered.length > 0;
    this.buffered = joined ? Buffer.concat([this.buffered, chunk]) : chunk;
    try {
      while (this.stage !== 'done' && this.buffered.length > 0) {
        const progressed = this.stage === 'head' ? this.readHead() : this.readBody();
        if (!progressed) return;
      }
    } finally {
      if (this.stage === 'done') this.buffered = EMPTY;
      else if (!joined && this.buffered.length > 0) this.buffered = Buffer.from(this.buffered);
    }
  }

  /** The caller has its answer: no more events, whatever else comes. */
  stop(): void {
    this.stage = 'done';
    this.buffered = EMPTY;
  }

  /** Ready for the next response, as a new reader would be (one reader serves many checks). */
  reset(): void {
    this.stage = 'head';
    this.buffered = EMPTY;
    this.framing = NONE;
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
    const end = this.buffered.indexOf(HEAD_END);
    if (end < 0) {
      if (this.buffered.length > MAX_HEAD_BYTES)
        throw new Error(`response head longer than ${MAX_HEAD_BYTES} bytes`);
      if (this.buffered.length >= 5 && this.buffered.compare(HTTP_PREFIX, 0, 5, 0, 5) !== 0)
        throw new Error(
          `not an HTTP response: ${JSON.stringify(this.buffered.toString('latin1', 0, 40))}`,
        );
      return false;
    }
    const head = new Head(this.buffered.toString('latin1', 0, end));
    this.buffered = this.buffered.subarray(end + 4);
    // 1xx responses (100 Continue, 103 Early Hints) come before the real one.
    if (head.status >= 100 && head.status < 200 && head.status !== 101) return true;
    this.framing = framingOf(this.method, head);
    this.events.head(head);
    if (this.stage === 'done') return false; // stopped by the head's listener
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

/** String.prototype.trim's white space among latin1 characters. */
function isSpace(code: number): boolean {
  return (code >= 9 && code <= 13) || code === 32 || code === 0xa0;
}

const NAME_LENGTH = 'content-length';
const NAME_CODING = 'transfer-encoding';

/** Whether text[from, to) is `name` (lower case ASCII letters and '-') in any case. */
function namedAt(text: string, from: number, to: number, name: string): boolean {
  if (to - from !== name.length) return false;
  for (let i = 0; i < name.length; i++) {
    const c = text.charCodeAt(from + i);
    const n = name.charCodeAt(i);
    if (c !== n && !(n >= 97 && n <= 122 && c === n - 32)) return false;
  }
  return true;
}

/** The number written by the three ASCII digits at `at`, or -1. */
function threeDigits(text: string, at: number): number {
  let n = 0;
  for (let i = at; i < at + 3; i++) {
    const d = text.charCodeAt(i) - 48;
    if (!(d >= 0 && d <= 9)) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** A status line's reason holds no line break (the text is cut at CRLF only). */
function breakIn(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) return true;
  }
  return false;
}

/**
 * A response head, from its text (the status line and header lines, without the blank line
 * that ends it). The status line and every header line are checked at once; the headers
 * that frame the body are taken out (repeats joined with ", ", as `headers` joins them),
 * the other headers and the reason only when read.
 */
class Head implements ResponseHead {
  readonly version: string;
  readonly status: number;
  /** Where the reason starts in the text (-1: none), and where the status line ends. */
  private readonly reasonAt: number;
  private readonly lineEnd: number;
  contentLength: string | undefined = undefined;
  transferEncoding: string | undefined = undefined;
  private parsed: Map<string, string> | undefined;

  constructor(private readonly text: string) {
    let lineEnd = text.indexOf('\r\n');
    if (lineEnd < 0) lineEnd = text.length;
    this.lineEnd = lineEnd;
    const minor = text.charCodeAt(7);
    const status = threeDigits(text, 9);
    const valid =
      text.startsWith('HTTP/1.') &&
      (minor === 48 || minor === 49) &&
      text.charCodeAt(8) === 32 &&
      status >= 0 &&
      (lineEnd === 12 || (lineEnd > 12 && text.charCodeAt(12) === 32)) &&
      !breakIn(text, 13, lineEnd);
    if (!valid)
      throw new Error(
        `not an HTTP/1.x status line: ${JSON.stringify(text.slice(0, Math.min(lineEnd, 80)))}`,
      );
    this.version = minor === 48 ? '1.0' : '1.1';
    this.status = status;
    this.reasonAt = lineEnd > 12 ? 13 : -1;
    this.readFraming();
  }

  get reason(): string {
    return this.reasonAt < 0 ? '' : this.text.slice(this.reasonAt, this.lineEnd);
  }

  /** Every header, names in lower case (made on first use). */
  get headers(): Map<string, string> {
    if (this.parsed) return this.parsed;
    const headers = new Map<string, string>();
    const text = this.text;
    this.eachHeader((nameFrom, nameTo, valueFrom, valueTo) => {
      const name = text.slice(nameFrom, nameTo).toLowerCase();
      headers.set(name, joined(headers.get(name), trimmedIn(text, valueFrom, valueTo)));
    });
    this.parsed = headers;
    return headers;
  }

  /** Keeps the framing headers' values. */
  private readFraming(): void {
    const text = this.text;
    this.eachHeader((nameFrom, nameTo, valueFrom, valueTo) => {
      if (namedAt(text, nameFrom, nameTo, NAME_LENGTH))
        this.contentLength = joined(this.contentLength, trimmedIn(text, valueFrom, valueTo));
      else if (namedAt(text, nameFrom, nameTo, NAME_CODING))
        this.transferEncoding = joined(this.transferEncoding, trimmedIn(text, valueFrom, valueTo));
    });
  }

  /**
   * Walks the header lines, checking each (a name before a colon): `visit` gets the name
   * without the white space around it and the value as it stands after the colon.
   */
  private eachHeader(
    visit: (nameFrom: number, nameTo: number, valueFrom: number, valueTo: number) => void,
  ): void {
    const text = this.text;
    if (this.lineEnd >= text.length) return;
    let at = this.lineEnd + 2;
    for (;;) {
      let end = text.indexOf('\r\n', at);
      if (end < 0) end = text.length;
      const colon = text.indexOf(':', at);
      if (colon < 0 || colon >= end || colon === at)
        throw new Error(
          `bad header line ${JSON.stringify(text.slice(at, Math.min(end, at + 80)))}`,
        );
      let nameFrom = at;
      let nameTo = colon;
      while (nameFrom < nameTo && isSpace(text.charCodeAt(nameFrom))) nameFrom++;
      while (nameTo > nameFrom && isSpace(text.charCodeAt(nameTo - 1))) nameTo--;
      visit(nameFrom, nameTo, colon + 1, end);
      if (end >= text.length) return;
      at = end + 2;
    }
  }
}

/** text[from, to) as String.prototype.trim leaves it. */
function trimmedIn(text: string, from: number, to: number): string {
  while (from < to && isSpace(text.charCodeAt(from))) from++;
  while (to > from && isSpace(text.charCodeAt(to - 1))) to--;
  return text.slice(from, to);
}

function joined(before: string | undefined, value: string): string {
  return before === undefined ? value : `${before}, ${value}`;
}

/** How the body is delimited (RFC 9112 section 6.3). */
function framingOf(method: string, head: Head): Framing {
  if (method === 'HEAD' || head.status === 204 || head.status === 304) return NONE;
  const coding = head.transferEncoding;
  if (coding !== undefined) {
    const last = coding.split(',').pop()?.trim().toLowerCase();
    return last === 'chunked' ? { kind: 'chunked', state: 'size', left: 0 } : { kind: 'close' };
  }
  const length = head.contentLength;
  if (length !== undefined) {
    // A repeated header arrives joined ("5, 5"): the values must agree.
    const only = length.includes(',') ? agreed(length) : length;
    if (only === undefined || !/^\d+$/.test(only))
      throw new Error(`bad Content-Length ${JSON.stringify(length)}`);
    const left = Number(only);
    return left === 0 ? NONE : { kind: 'length', left };
  }
  return { kind: 'close' };
}

/** The one value of a repeated header's joined values, or undefined when they differ. */
function agreed(joinedValues: string): string | undefined {
  const values = new Set(joinedValues.split(',').map((v) => v.trim()));
  return values.size === 1 ? [...values][0] : undefined;
}
