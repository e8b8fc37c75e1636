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
 * closed first (http.ts says why). The runner's deadline makes the timeouts.
 *
 * Falls back to http.ts (Node's path) where tcp-epoll.ts does (an address that is not an
 * IP literal, a link-local address whose interface does not exist yet). https stays on
 * http.ts: TLS is Node's.
 */
import { ERRNO, POLL } from '../../ffi/libc.js';
import { type ConnectCall, type TcpConnector, tcpConnector } from '../../ffi/tcp-connect.js';
import { HttpResponseReader } from '../http-response.js';
import type { Checker, CheckOutcome, CheckSignal, PreparedCheck } from '../types.js';
import { abortError } from '../types.js';
import { type Route, routeOf } from './connect.js';
import { checkUrls, httpChecker, type UrlCheck, urlChecks, Verdict } from './http.js';
import { failureText, literal, sockaddrOf, sourceOf } from './tcp-epoll.js';

/** recv()'s buffer, one per thread: what a read returns is copied out of it (the reader keeps chunks). */
const scratch = Buffer.allocUnsafe(64 * 1024);
/** Reads per readiness report: a server streaming fast cannot hold the thread; the rest waits a harvest. */
const READS_PER_EVENT = 16;

/** Where a check connects, as the socket calls take it. */
interface Endpoint {
  route: Route;
  to: Buffer;
  from: Buffer | null;
}

/** One request on its own connection, from connect to verdict. */
class Exchange {
  private fd = -1;
  private connecting = -1;
  private unsent: Buffer;
  /** The server closed its side (recv returned 0): close with a FIN, not a reset. */
  private ended = false;
  private settled = false;
  private readonly verdict: Verdict;
  private readonly reader: HttpResponseReader;
  private readonly onAbort = () => this.settle(undefined, abortError(this.signal));

  constructor(
    private readonly connector: TcpConnector,
    private readonly endpoint: Endpoint,
    method: string,
    url: UrlCheck,
    private readonly signal: CheckSignal,
    private readonly resolve: (outcome: CheckOutcome) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    this.unsent = url.request;
    this.verdict = new Verdict(url);
    this.reader = new HttpResponseReader(method, {
      head: (head) => this.decide(this.verdict.head(head)),
      body: (chunk) => this.decide(this.verdict.body(chunk)),
      end: () => this.decide(this.verdict.end()),
    });
  }

  start(): void {
    if (this.signal.aborted) return this.reject(abortError(this.signal));
    this.signal.addEventListener('abort', this.onAbort, { once: true });
    const { to, from } = this.endpoint;
    const inFlight = this.connector.connect(
      to,
      from,
      (e, c, call, fd) => this.connected(e, c, call, fd),
      true,
    );
    if (!this.settled && this.fd < 0) this.connecting = inFlight;
  }

  private connected(errno: number, code: string, call: ConnectCall, fd: number): void {
    this.connecting = -1;
    if (errno !== 0)
      return this.settle(undefined, new Error(failureText(this.endpoint.route, call, code)));
    this.fd = fd;
    if (this.settled) return this.connector.closeSocket(fd, true);
    if (!this.write()) return;
    if (!this.connector.watch(fd, this.interest(), (events) => this.ready(events)))
      this.fail('read');
  }

  /** Readable, or writable while the request is not all sent, or an error or hang-up. */
  private interest(): number {
    return this.unsent.length > 0 ? POLL.in | POLL.out : POLL.in;
  }

  private ready(events: number): void {
    if (events & POLL.out && this.unsent.length > 0) {
      if (!this.write()) return;
      if (this.unsent.length === 0) this.connector.watch(this.fd, POLL.in, (e) => this.ready(e));
    }
    for (let i = 0; i < READS_PER_EVENT && !this.settled; i++) {
      const n = this.connector.recv(this.fd, scratch);
      if (n > 0) {
        this.guarded(() => this.reader.push(Buffer.from(scratch.subarray(0, n))));
        continue;
      }
      if (n === 0) return this.closedByServer();
      const { errno } = this.connector.lastError();
      if (errno === ERRNO.EAGAIN) return;
      if (errno !== ERRNO.EINTR) return this.fail('read');
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
    this.unsent = this.unsent.subarray(n);
    return true;
  }

  private closedByServer(): void {
    this.ended = true;
    this.guarded(() => this.reader.end());
    // The reader was done already and had decided: nothing else to say (as Node's 'close').
    this.settle(undefined, new Error('connection closed'));
  }

  /** The call failed: Node's text for it ("read ECONNRESET"). */
  private fail(call: 'read' | 'write'): void {
    const { code } = this.connector.lastError();
    this.settle(undefined, new Error(`${call} ${code}`));
  }

  private decide(outcome: CheckOutcome | undefined): void {
    if (outcome) this.settle(outcome);
  }

  private guarded(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.settle(undefined, err);
    }
  }

  private settle(outcome: CheckOutcome | undefined, err?: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.signal.removeEventListener('abort', this.onAbort);
    if (this.fd >= 0) this.connector.closeSocket(this.fd, !this.ended);
    else if (this.connecting >= 0) this.connector.cancel(this.connecting);
    if (outcome) this.resolve(outcome);
    else this.reject(err ?? new Error('connection closed'));
  }
}

function exchange(
  endpoint: Endpoint,
  method: string,
  url: UrlCheck,
  signal: CheckSignal,
): Promise<CheckOutcome> {
  const connector = tcpConnector();
  return new Promise((resolve, reject) =>
    new Exchange(connector, endpoint, method, url, signal, resolve, reject).start(),
  );
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
    const checkOne = (url: UrlCheck, signal: CheckSignal) =>
      exchange(endpoint, config.method, url, signal);
    const [only] = urls;
    if (urls.length === 1 && only) return (signal) => checkOne(only, signal);
    return (signal) => checkUrls(urls, checkOne, signal);
  },
};
