/**
 * The tcp check without net.Socket (issue 15: a check at keepalived's cost): the check
 * worker's tcp checker. Same verdicts and texts as tcp.ts ("connected", and Node's error
 * texts: "connect ECONNREFUSED 10.0.0.2:80", "bind EADDRNOTAVAIL 10.9.9.9"); the runner's
 * deadline makes the timeouts, as for every check. The source address and port are bound
 * and a link-local address takes its interface as scope id, as on Node's path.
 *
 * Falls back to tcp.ts (Node's path) for an address that is not an IP literal: Node looks
 * names up (getaddrinfo, on libuv's thread pool), which a synchronous call here must not do;
 * and for a link-local address whose interface does not exist when the check is prepared.
 */
import net from 'node:net';
import { encodeSockaddr, interfaceIndex } from '../../ffi/raw-socket.js';
import { type ConnectCall, tcpConnector } from '../../ffi/tcp-connect.js';
import type { Checker, CheckOutcome, CheckSignal, PreparedCheck } from '../types.js';
import { abortError } from '../types.js';
import { type Route, routeOf } from './connect.js';
import { tcpChecker } from './tcp.js';

const CONNECTED: CheckOutcome = Object.freeze({ ok: true, message: 'connected' });

/** An address as the socket calls take it: "fe80::1%eth1" is fe80::1 with eth1's index as scope id. */
export function sockaddrOf(address: string, port: number): Buffer {
  const at = address.indexOf('%');
  if (at < 0) return encodeSockaddr(address, port);
  return encodeSockaddr(address.slice(0, at), port, interfaceIndex(address.slice(at + 1)));
}

/** An address without its scope ("fe80::1%eth1" is fe80::1). */
const bare = (address: string) => address.replace(/%.*$/, '');

/** The any-address of the target's family: what a socket bound to a port alone has. */
const wildcardOf = (route: Route) => (net.isIPv6(bare(route.address)) ? '::' : '0.0.0.0');

/** Whether every address of the route is an IP literal (a scope suffix allowed). */
export function literal(route: Route): boolean {
  return (
    net.isIP(bare(route.address)) !== 0 && (!route.source || net.isIP(bare(route.source)) !== 0)
  );
}

/**
 * The error texts of Node's net.connect (its ExceptionWithHostPort), so a check says the
 * same whichever path ran it: "connect CODE address:port", then " - Local (source:port)"
 * when both are set, or, when connect() itself failed, the socket's own address (Node asks
 * getsockname: the source or the wildcard, port 0 as none was taken); "bind CODE
 * address[:port]" (the wildcard address for a port alone).
 */
export function failureText(route: Route, call: ConnectCall, code: string): string {
  const wildcard = wildcardOf(route);
  if (call === 'bind')
    return `bind ${code} ${route.source ?? wildcard}${route.sourcePort ? `:${route.sourcePort}` : ''}`;
  let local = '';
  if (call === 'connect-now')
    local = ` - Local (${route.source ? bare(route.source) : wildcard}:${route.sourcePort ?? 0})`;
  else if (route.source && route.sourcePort)
    local = ` - Local (${route.source}:${route.sourcePort})`;
  const syscall = call === 'connect-now' ? 'connect' : call;
  return `${syscall} ${code} ${route.address}:${route.port}${local}`;
}

/** The source sockaddr of the route: its address, or the wildcard of the target's family, with its port. */
export function sourceOf(route: Route): Buffer | null {
  if (!route.source && !route.sourcePort) return null;
  return sockaddrOf(route.source ?? wildcardOf(route), route.sourcePort ?? 0);
}

/**
 * A connect that is over before connect() returns (a local real: the handshake is done by
 * then) is answered with its outcome itself, no promise (PreparedCheck says why); one in
 * flight with a promise that its signal can cancel.
 */
function connectCheck(route: Route): PreparedCheck {
  const to = sockaddrOf(route.address, route.port);
  const from = sourceOf(route);
  const connector = tcpConnector();
  let now: CheckOutcome | undefined;
  const answerNow = (errno: number, code: string, call: ConnectCall) => {
    now = errno === 0 ? CONNECTED : { ok: false, message: failureText(route, call, code) };
  };
  return (signal: CheckSignal) => {
    if (signal.aborted) return Promise.reject(abortError(signal));
    now = undefined;
    const fd = connector.connect(to, from, answerNow);
    // Answered at once (connected, refused, or failed to wait: then fd is still >= 0).
    const answered = now as CheckOutcome | undefined;
    if (answered) return answered;
    return new Promise<CheckOutcome>((resolve, reject) => {
      const onAbort = () => {
        connector.cancel(fd);
        reject(abortError(signal));
      };
      connector.redirect(fd, (errno, code, call) => {
        signal.removeEventListener('abort', onAbort);
        // A failure is an outcome, not an Error: an Error's stack is the dearer part of a
        // failed check under emulation (http-epoll.ts says how much).
        if (errno === 0) resolve(CONNECTED);
        else resolve({ ok: false, message: failureText(route, call, code) });
      });
      signal.addEventListener('abort', onAbort, { once: true });
    });
  };
}

export const tcpEpollChecker: Checker<'tcp'> = {
  type: 'tcp',
  prepare(config, target, prepareOther) {
    const route = routeOf(config, target);
    if (!literal(route)) return tcpChecker.prepare(config, target, prepareOther);
    try {
      return connectCheck(route);
    } catch {
      // No interface of that name (yet): Node looks the scope up at each connect, so the
      // check works once the interface appears, and fails meanwhile with Node's reason.
      return tcpChecker.prepare(config, target, prepareOther);
    }
  },
};
