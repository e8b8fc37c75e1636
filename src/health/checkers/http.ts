/**
 * HTTP and HTTPS: one request per URL, on a fresh connection (as a new client would make),
 * with Connection: close. Up when every URL's status is in its accepted list and its body
 * matches `body`, does not match `body_no_match` and has the `digest`, when those are set.
 *
 * The checker owns its socket (the response is read by http-response.ts, not Node's HTTP
 * client) and destroys it the moment the verdict is known: a status-only check closes as
 * soon as the status line has arrived, whatever the server still means to send, so a
 * streaming or slow body never keeps a connection open past its check.
 */
import { createHash, type Hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { CheckConfig, CheckPart } from '../../config/check.js';
import { compilePattern } from '../../config/pattern.js';
import { HttpResponseReader, type ResponseHead } from '../http-response.js';
import type { Checker, CheckOutcome, CheckSignal, CheckTarget, PreparedCheck } from '../types.js';
import { abortError } from '../types.js';
import { closeConnection, connectTcp, type Route, routeOf } from './connect.js';
import { tlsFailure } from './tls-reason.js';
import { runTogether } from './together.js';

type HttpConfig = Extract<CheckConfig | CheckPart, { type: 'http' | 'https' }>;

/** Bodies are read up to this size for regex and digest checks; larger bodies fail the check. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

const DEFAULT_STATUS = ['200-299'];

/** "200", 200, "200-299" → a predicate on a status code. */
export function statusMatcher(
  accepted: ReadonlyArray<string | number>,
): (status: number) => boolean {
  const lows: number[] = [];
  const highs: number[] = [];
  for (const entry of accepted) {
    const [low, high] = String(entry).split('-').map(Number) as [number, number | undefined];
    lows.push(low);
    highs.push(high ?? low);
  }
  // A loop by index: a callback that destructured each range made an iterator a call.
  return (status) => {
    for (let i = 0; i < lows.length; i++)
      if (status >= (lows[i] as number) && status <= (highs[i] as number)) return true;
    return false;
  };
}

/** One URL to request and what its response must be. */
export interface UrlCheck {
  path: string;
  request: Buffer;
  accepts: (status: number) => boolean;
  statusText: string;
  body?: { pattern: RegExp; text: string } | undefined;
  bodyNot?: { pattern: RegExp; text: string } | undefined;
  digest?: { algorithm: string; hex: string } | undefined;
}

function hostHeader(config: HttpConfig, target: CheckTarget): string {
  if (config.host) return config.host;
  const address = net.isIPv6(target.address) ? `[${target.address}]` : target.address;
  const defaultPort = config.type === 'https' ? 443 : 80;
  return target.port === defaultPort ? address : `${address}:${target.port}`;
}

/** The request's bytes: lvsd's headers, then the check's (which may replace them). */
function requestBytes(config: HttpConfig, target: CheckTarget, path: string): Buffer {
  const headers = new Map<string, [string, string]>();
  const set = (name: string, value: string) => headers.set(name.toLowerCase(), [name, value]);
  set('Host', hostHeader(config, target));
  set('User-Agent', 'lvsd-health');
  set('Connection', 'close');
  if (config.method === 'POST' || config.method === 'PUT') set('Content-Length', '0');
  for (const [name, value] of Object.entries(config.headers ?? {})) set(name, value);
  if (config.host) set('Host', config.host);
  for (const [name, value] of headers.values())
    if (/[\r\n]/.test(name + value)) throw new Error(`header ${name} holds a line break`);
  const lines = [...headers.values()].map(([name, value]) => `${name}: ${value}\r\n`);
  const version = config.http_version;
  return Buffer.from(`${config.method} ${path} HTTP/${version}\r\n${lines.join('')}\r\n`, 'latin1');
}

export function urlChecks(config: HttpConfig, target: CheckTarget): UrlCheck[] {
  const urls = config.urls ?? [{ path: config.path ?? '/' }];
  const pattern = (text: string | undefined) =>
    text === undefined ? undefined : { pattern: compilePattern(text, config), text };
  return urls.map((url) => {
    const status = url.status ?? config.status ?? DEFAULT_STATUS;
    const digest = url.digest ?? config.digest;
    const [algorithm, hex] = digest ? (digest.split(':') as [string, string]) : ['', ''];
    return {
      path: url.path,
      request: requestBytes(config, target, url.path),
      accepts: statusMatcher(status),
      statusText: status.join(', '),
      body: pattern(url.body ?? config.body),
      bodyNot: pattern(url.body_no_match ?? config.body_no_match),
      digest: digest ? { algorithm, hex: hex.toLowerCase() } : undefined,
    };
  });
}

function tlsOptions(config: HttpConfig, target: CheckTarget): tls.ConnectionOptions | undefined {
  if (config.type !== 'https') return undefined;
  const servername = config.sni ?? config.host?.replace(/:\d+$/, '');
  return {
    // The name the certificate must cover: the SNI name, else the address.
    host: target.address,
    // SNI carries names only; an address as server name is not sent (RFC 6066 section 3).
    ...(servername && !net.isIP(servername) ? { servername } : {}),
    rejectUnauthorized: config.verify,
    ...(config.ca ? { ca: readFileSync(config.ca) } : {}),
    ...(config.cert ? { cert: readFileSync(config.cert) } : {}),
    ...(config.key ? { key: readFileSync(config.key) } : {}),
  };
}

/** The TLS handshake on a connected socket; rejects with a reason an operator can act on. */
function startTls(
  socket: net.Socket,
  options: tls.ConnectionOptions,
  signal: CheckSignal,
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tls.connect({ ...options, socket });
    // Once connected, errors (a TLS 1.3 alert after the handshake) are the exchange's.
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = () => {
      closeConnection(socket, secure);
      reject(abortError(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    secure.once('secureConnect', () => settle(() => resolve(secure)));
    secure.once('error', (err) =>
      settle(() => {
        closeConnection(socket, secure);
        reject(new Error(tlsFailure(err)));
      }),
    );
  });
}

/**
 * The outcome of an accepted status with nothing more to check, one per status code: every
 * passing status-only check returns one, and they are only read.
 */
const statusPassed = new Map<number, CheckOutcome>();
function passedWith(status: number): CheckOutcome {
  let outcome = statusPassed.get(status);
  if (!outcome) {
    outcome = Object.freeze({ ok: true, message: `status ${status}` });
    statusPassed.set(status, outcome);
  }
  return outcome;
}

/**
 * What one response must be, checked as it arrives: a verdict, or undefined to read on.
 * One verdict may judge many responses in turn (reset() between them).
 */
export class Verdict {
  private hash: Hash | undefined;
  private chunks: Buffer[] = [];
  private size = 0;
  private status = 0;

  constructor(private readonly url: UrlCheck) {}

  /** Ready for the next response. */
  reset(): void {
    this.hash = undefined;
    if (this.chunks.length > 0) this.chunks = [];
    this.size = 0;
    this.status = 0;
  }

  private get needsBody(): boolean {
    return (
      this.url.body !== undefined || this.url.bodyNot !== undefined || this.url.digest !== undefined
    );
  }

  head(head: ResponseHead): CheckOutcome | undefined {
    this.status = head.status;
    if (!this.url.accepts(head.status))
      return { ok: false, message: `status ${head.status}, expected ${this.url.statusText}` };
    if (!this.needsBody) return passedWith(head.status);
    if (this.url.digest) this.hash = createHash(this.url.digest.algorithm);
    return undefined;
  }

  body(chunk: Buffer): CheckOutcome | undefined {
    this.size += chunk.length;
    if (this.size > MAX_BODY_BYTES)
      return {
        ok: false,
        message: `status ${this.status}, body larger than ${MAX_BODY_BYTES} bytes`,
      };
    this.hash?.update(chunk);
    // A copy: the reader's chunks are views of a buffer the caller reads into again.
    if (this.url.body || this.url.bodyNot) this.chunks.push(Buffer.from(chunk));
    return undefined;
  }

  end(): CheckOutcome {
    const { digest, body, bodyNot } = this.url;
    const status = `status ${this.status}`;
    if (digest && this.hash) {
      const got = this.hash.digest('hex');
      if (got !== digest.hex)
        return {
          ok: false,
          message: `${status}, body ${digest.algorithm} ${got}, expected ${digest.hex}`,
        };
    }
    const text = body || bodyNot ? Buffer.concat(this.chunks).toString('utf8') : '';
    if (body && !body.pattern.test(text))
      return { ok: false, message: `${status}, body does not match /${body.text}/` };
    if (bodyNot?.pattern.test(text))
      return { ok: false, message: `${status}, body matches /${bodyNot.text}/ (body_no_match)` };
    return {
      ok: true,
      message: `${status}, body ${digest ? 'digest and ' : ''}${body || bodyNot ? 'pattern ' : ''}ok`,
    };
  }
}

/**
 * Sends the request on an open socket (`tcp` is the connection under it, itself for plain
 * HTTP) and reads until the verdict, then closes, with a reset unless the server has
 * closed first (closeConnection). A server still sending, or sleeping in the middle of a
 * stream, learns at once that nobody is listening and lets go of the connection; after a
 * mere FIN it would hold it in CLOSE-WAIT until it next writes.
 */
function exchange(
  socket: net.Socket,
  tcp: net.Socket,
  method: string,
  url: UrlCheck,
  signal: CheckSignal,
): Promise<CheckOutcome> {
  const secure = socket !== tcp;
  return new Promise((resolve, reject) => {
    const verdict = new Verdict(url);
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      reader.stop();
      closeConnection(tcp, socket);
      fn();
    };
    const decide = (outcome: CheckOutcome | undefined) => {
      if (outcome) settle(() => resolve(outcome));
    };
    const onAbort = () => settle(() => reject(abortError(signal)));
    const reader = new HttpResponseReader(method, {
      head: (head) => decide(verdict.head(head)),
      body: (chunk) => decide(verdict.body(chunk)),
      end: () => decide(verdict.end()),
    });
    const guarded = (fn: () => void) => {
      try {
        fn();
      } catch (err) {
        settle(() => reject(err));
      }
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('data', (chunk: Buffer) => guarded(() => reader.push(chunk)));
    socket.on('end', () => guarded(() => reader.end()));
    socket.on('error', (err) => settle(() => reject(secure ? tlsAlert(err) : err)));
    socket.on('close', () => settle(() => reject(new Error('connection closed'))));
    socket.write(url.request);
  });
}

/**
 * An error on a TLS stream after its handshake: with TLS 1.3 the server's verdict on the
 * client's certificate (the alert "certificate required") arrives after the client thinks
 * the handshake is done, with OpenSSL's internal text; said as the handshake's failures are.
 */
function tlsAlert(err: Error & { code?: string }): Error {
  return err.code?.startsWith('ERR_SSL_') ? new Error(tlsFailure(err)) : err;
}

async function checkUrl(
  route: Route,
  secure: tls.ConnectionOptions | undefined,
  method: string,
  url: UrlCheck,
  signal: CheckSignal,
): Promise<CheckOutcome> {
  const socket = await connectTcp(route, signal);
  const stream = secure ? await startTls(socket, secure, signal) : socket;
  return exchange(stream, socket, method, url, signal);
}

/**
 * Several URLs: requested at once, each on its own connection; the first failure decides,
 * and the other requests are ended with it.
 */
export async function checkUrls(
  urls: UrlCheck[],
  checkOne: (url: UrlCheck, signal: CheckSignal) => Promise<CheckOutcome>,
  signal: CheckSignal,
): Promise<CheckOutcome> {
  const result = await runTogether(urls, (url) => url.path, checkOne, signal);
  if (!result.ok) return result;
  const statuses = result.outcomes.map((o) => o.message.replace(/^status /, ''));
  return { ok: true, message: `${result.outcomes.length} URLs: ${statuses.join('; ')}` };
}

function prepareHttp(config: HttpConfig, target: CheckTarget): PreparedCheck {
  const route = routeOf(config, target);
  const secure = tlsOptions(config, target);
  const urls = urlChecks(config, target);
  const [only] = urls;
  if (urls.length === 1 && only)
    return (signal) => checkUrl(route, secure, config.method, only, signal);
  const checkOne = (url: UrlCheck, signal: CheckSignal) =>
    checkUrl(route, secure, config.method, url, signal);
  return (signal) => checkUrls(urls, checkOne, signal);
}

export const httpChecker: Checker<'http'> = { type: 'http', prepare: prepareHttp };
export const httpsChecker: Checker<'https'> = { type: 'https', prepare: prepareHttp };
