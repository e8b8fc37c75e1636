/**
 * The http check without net.Socket (issue 15: an HTTP check at keepalived's HTTP_GET
 * cost): the check worker's http checker. The connect is tcp-epoll.ts's (ffi/tcp-connect.ts,
 * asked to keep the socket open); the request is written with send(), the response read
 * with recv() as the connector's epoll set reports it readable, and fed to the same
 * response reader and verdict as http.ts's, so the request's bytes, the verdicts and their
 * texts are the same whichever path ran the check. Node's error texts are kept too: the
 * connect's (tcp-epoll.ts's failureText), "read ECONNRESET", "write EPIPE".
 *
 * The socket is closed the moment the verdict is known, with a reset unless the server
 * closed first (http.ts says why): its FIN read, or reported by epoll with the response
 * (EPOLLRDHUP), which spares the setsockopt() of the reset. The runner's deadline makes
 * the timeouts.
 *
 * Falls back to http.ts (Node's path) where tcp-epoll.ts does (an address that is not an
 * IP literal, a link-local address whose interface does not exist yet). https stays on
 * http.ts: TLS is Node's.
 */
import { ERRNO, POLL } from '../../ffi/libc.js';
import {
  type ConnectCall,
  type ConnectDone,
  type SocketEvents,
  type TcpConnector,
  tcpConnector,
} from '../../ffi/tcp-connect.js';
import { HttpResponseReader } from '../http-response.js';
import type { Checker, CheckOutcome, CheckSignal, PreparedCheck } from '../types.js';
import { abortError, errorText } from '../types.js';
import { type Route, routeOf } from './connect.js';
import { checkUrls, httpChecker, type UrlCheck, urlChecks, Verdict } from './http.js';
import { failureText, literal, sockaddrOf, sourceOf } from './tcp-epoll.js';

/** recv()'s buffer, one per thread: the reader copies what it keeps of a read. */
const scratch = Buffer.allocUnsafe(64 * 1024);
/** Reads per readiness report: a server streaming fast cannot hold the thread; the rest waits a harvest. */
const READS_PER_EVENT = 16;

/** Where a check connects, as the socket calls take it. */
interface Endpoint {
  route: Route;
  to: Buffer;
  from: Buffer | null;
}

const NO_BYTES = Buffer.alloc(0);

/**
 * One URL's requests, each on its own connection, from connect to verdict. Its reader,
 * verdict and callbacks are made once per prepared check and reset for each run: at
 * thousands of checks a second what a check allocates is the collector's work, and under
 * emulation the collector's threads cost as much as a tenth of a check (issue 15).
 */
class Exchange {
  private fd = -1;
  private connecting = -1;
  private unsent: Buffer = NO_BYTES;
  /** The server closed its side (its FIN read or reported): close with a FIN, not a reset. */
  private ended = false;
  /** A run is under way (from run() to its settling). */
  busy = false;
  private signal: CheckSignal | undefined;
  private resolve: (outcome: CheckOutcome) => void = () => undefined;
  private reject: (err: unknown) => void = () => undefined;
  private readonly verdict: Verdict;
  private readonly reader: HttpResponseReader;
  private readonly onAbort = () => this.settle(undefined, abortError(this.signal as CheckSignal));
  private readonly onConnected: ConnectDone = (errno, code, call, fd) =>
    this.connected(errno, code, call, fd);
  private readonly onEvents: SocketEvents = (events) => this.ready(events);

  constructor(
    private readonly connector: TcpConnector,
    private readonly endpoint: Endpoint,
    method: string,
    private readonly url: UrlCheck,
  ) {
    this.verdict = new Verdict(url);
    this.reader = new HttpResponseReader(method, {
      head: (head) => this.decide(this.verdict.head(head)),
      body: (chunk) => this.decide(this.verdict.body(chunk)),
      end: () => this.decide(this.verdict.end()),
    });
  }

  run(signal: CheckSignal): Promise<CheckOutcome> {
    return new Promise((resolve, reject) => this.start(signal, resolve, reject));
  }

  private start(
    signal: CheckSignal,
    resolve: (outcome: CheckOutcome) => void,
    reject: (err: unknown) => void,
  ): void {
    if (signal.aborted) return reject(abortError(signal));
    this.busy = true;
    this.signal = signal;
    this.resolve = resolve;
    this.reject = reject;
    this.fd = -1;
    this.connecting = -1;
    this.ended = false;
    this.unsent = this.url.request;
    this.verdict.reset();
    this.reader.reset();
    signal.addEventListener('abort', this.onAbort, { once: true });
    const { to, from } = this.endpoint;
    const inFlight = this.connector.connect(to, from, this.onConnected, true);
    if (this.busy && this.fd < 0) this.connecting = inFlight;
  }

  private connected(errno: number, code: string, call: ConnectCall, fd: number): void {
    this.connecting = -1;
    if (errno !== 0) return this.failed(failureText(this.endpoint.route, call, code));
    this.fd = fd;
    if (!this.busy) return this.connector.closeSocket(fd, true);
    if (!this.write()) return;
    if (!this.connector.watch(fd, this.interest(), this.onEvents)) this.fail('read');
  }

  /**
   * Readable, or writable while the request is not all sent, or an error or hang-up; and
   * the server's FIN (EPOLLRDHUP).
   */
  private interest(): number {
    return this.unsent.length > 0 ? POLL.in | POLL.out | POLL.rdhup : POLL.in | POLL.rdhup;
  }

  private ready(events: number): void {
    if (events & POLL.rdhup) this.ended = true;
    if (events & POLL.out && this.unsent.length > 0) {
      if (!this.write()) return;
      if (this.unsent.length === 0) this.connector.watch(this.fd, this.interest(), this.onEvents);
    }
    for (let i = 0; i < READS_PER_EVENT && this.busy; i++) {
      const n = this.connector.recv(this.fd, scratch);
      if (n > 0) {
        // The reader copies what it keeps of the view: scratch is read into again.
        this.pushed(scratch.subarray(0, n));
        continue;
      }
      if (n === 0) return this.closedByServer();
      const { errno } = this.connector.lastError();
      if (errno === ERRNO.EAGAIN) return;
      if (errno !== ERRNO.EINTR) return this.fail('read');
    }
  }

  private pushed(bytes: Buffer): void {
    try {
      this.reader.push(bytes);
    } catch (err) {
      this.failed(errorText(err));
    }
  }

  /** Sends what the socket takes of the request; false when the exchange failed. */
  private write(): boolean {
    if (this.unsent.length === 0) return true;
    const n = this.connector.send(this.fd, this.unsent);
    if (n < 0) {
      const { errno } = this.connector.lastError();
      if (errno === ERRNO.EAGAIN || errno === ERRNO.EINTR) return true;
      this.fail('write');
      return false;
    }
    this.unsent = n === this.unsent.length ? NO_BYTES : this.unsent.subarray(n);
    return true;
  }

  private closedByServer(): void {
    this.ended = true;
    try {
      this.reader.end();
    } catch (err) {
      return this.failed(errorText(err));
    }
    // The reader was done already and had decided: nothing else to say (as Node's 'close').
    this.failed('connection closed');
  }

  /** The call failed: Node's text for it ("read ECONNRESET"). */
  private fail(call: 'read' | 'write'): void {
    const { code } = this.connector.lastError();
    this.failed(`${call} ${code}`);
  }

  /**
   * The check failed for this reason: an outcome, not an Error. An Error captures its stack,
   * which under the lab's emulation cost about 0.4 ms a failed check, and in a mass failure
   * every check fails at once (issue 15).
   */
  private failed(message: string): void {
    this.settle({ ok: false, message });
  }

  private decide(outcome: CheckOutcome | undefined): void {
    if (outcome) this.settle(outcome);
  }

  /** Ends the run: with its outcome, passed or failed; without one only when aborted (`err`, the abort's reason). */
  private settle(outcome: CheckOutcome | undefined, err?: unknown): void {
    if (!this.busy) return;
    this.busy = false;
    this.reader.stop();
    this.signal?.removeEventListener('abort', this.onAbort);
    this.signal = undefined;
    if (this.fd >= 0) this.connector.closeSocket(this.fd, !this.ended);
    else if (this.connecting >= 0) this.connector.cancel(this.connecting);
    this.fd = -1;
    this.connecting = -1;
    if (outcome) this.resolve(outcome);
    else this.reject(err);
  }
}

/**
 * A URL's check: its one Exchange, or a new one for a run while another is under way (the
 * scheduler never does that; a caller running the prepared check twice at once may).
 */
function urlCheck(endpoint: Endpoint, method: string, url: UrlCheck) {
  const connector = tcpConnector();
  const own = new Exchange(connector, endpoint, method, url);
  return (signal: CheckSignal): Promise<CheckOutcome> =>
    (own.busy ? new Exchange(connector, endpoint, method, url) : own).run(signal);
}

/** The endpoint of the route, or null where Node's path must make the check (see the header). */
function endpointOf(route: Route): Endpoint | null {
  if (!literal(route)) return null;
  try {
    return { route, to: sockaddrOf(route.address, route.port), from: sourceOf(route) };
  } catch {
    // No interface of that name (yet): as tcp-epoll.ts, Node's path until it appears.
    return null;
  }
}

export const httpEpollChecker: Checker<'http'> = {
  type: 'http',
  prepare(config, target, prepareOther): PreparedCheck {
    const endpoint = endpointOf(routeOf(config, target));
    if (!endpoint) return httpChecker.prepare(config, target, prepareOther);
    const urls = urlChecks(config, target);
    const checks = new Map(urls.map((url) => [url, urlCheck(endpoint, config.method, url)]));
    const [only] = urls;
    if (urls.length === 1 && only) return checks.get(only) as PreparedCheck;
    const checkOne = (url: UrlCheck, signal: CheckSignal) =>
      (checks.get(url) as (signal: CheckSignal) => Promise<CheckOutcome>)(signal);
    return (signal) => checkUrls(urls, checkOne, signal);
  },
};
