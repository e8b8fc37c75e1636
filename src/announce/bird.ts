/**
 * BIRD 2 as lvsd's routing daemon. lvsd owns two include files of static routes (IPv4 and
 * IPv6: a BIRD static protocol has one channel), which bird.conf includes inside its static
 * protocols; BIRD's BGP sessions export them. Every change:
 *
 * 1. renders the routes (`route 192.0.2.10/32 blackhole;`, with
 *    `{ bgp_community.add((65535,0)); }` while draining) and writes the files atomically;
 * 2. `configure check` over the control socket: BIRD parses its whole config with them;
 * 3. `configure`: the static protocols are reconfigured in place (routes diffed, sessions
 *    kept).
 *
 * When BIRD refuses 2 or 3 the previous files are put back (and configured again after a
 * failed 3) and the error is returned as a value: the routes in force stay the last good
 * ones. When BIRD cannot be reached the new files stay, for BIRD to read when it starts.
 *
 * The routes are blackholes in BIRD's table only: bird.conf must not export this static
 * protocol to the kernel (docs/fleet.md); the VIP itself is a local address on lo.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomically } from '../util/json-file.js';
import type { Announcement } from './machine.js';
import { BirdSocket, type Reply } from './bird-socket.js';
import type { ApplyOutcome, PeerSession, RoutingDaemon } from './routing-daemon.js';

/** RFC 8326 GRACEFUL_SHUTDOWN: routers that honour it set local_pref 0 on the route. */
export const GRACEFUL_SHUTDOWN = '(65535,0)';

/** BIRD reads its includes as its own user (Debian: bird), so the route files are 0644. */
const READABLE_BY_BIRD = 0o644;

export interface BirdOptions {
  socket: string;
  include: string;
  include6: string;
  /** A reply slower than this fails the command (default 5 s). */
  timeoutMs?: number;
}

/** The include file's text for the routes of one family. */
export function renderRoutes(routes: readonly Announcement[]): string {
  const lines = ['# Written by lvsd (announce:). Do not edit: it is rewritten on every change.'];
  for (const r of routes)
    lines.push(
      r.gracefulShutdown
        ? `route ${r.prefix} blackhole { bgp_community.add(${GRACEFUL_SHUTDOWN}); };`
        : `route ${r.prefix} blackhole;`,
    );
  return `${lines.join('\n')}\n`;
}

export class BirdDaemon implements RoutingDaemon {
  readonly name = 'bird';
  private readonly socket: BirdSocket;

  constructor(private readonly options: BirdOptions) {
    this.socket = new BirdSocket(options.socket, options.timeoutMs ?? 5000);
  }

  async announce(
    routes: readonly Announcement[],
    options: { force?: boolean } = {},
  ): Promise<ApplyOutcome> {
    const files = [
      {
        path: this.options.include,
        text: renderRoutes(routes.filter((r) => !r.prefix.includes(':'))),
      },
      {
        path: this.options.include6,
        text: renderRoutes(routes.filter((r) => r.prefix.includes(':'))),
      },
    ];
    const previous = await Promise.all(files.map((f) => readOrNull(f.path)));
    if (!options.force && files.every((f, i) => f.text === previous[i]))
      return { ok: true, changed: false };
    try {
      for (const f of files) await writeFileAtomically(f.path, f.text, READABLE_BY_BIRD);
    } catch (err) {
      await this.restore(files, previous);
      return { ok: false, error: `cannot write ${files[0]?.path}: ${(err as Error).message}` };
    }
    // A refusal is BIRD's word on the new files: the old ones go back. An unreachable BIRD
    // (not started yet, restarting) keeps the new ones: they are what it must read when it
    // comes up, and the old ones may be a killed lvsd's stale routes.
    const step = async (command: string): Promise<{ refused: boolean; error: string } | null> => {
      try {
        const reply = await this.socket.command(command);
        return reply.ok ? null : { refused: true, error: replyError(command, reply) };
      } catch (err) {
        return { refused: false, error: `${command}: ${(err as Error).message}` };
      }
    };
    const checked = await step('configure check');
    if (checked) {
      if (checked.refused) await this.restore(files, previous);
      return { ok: false, error: checked.error };
    }
    const configured = await step('configure');
    if (configured) {
      if (configured.refused) {
        await this.restore(files, previous);
        await step('configure');
      }
      return { ok: false, error: configured.error };
    }
    return { ok: true, changed: true };
  }

  async sessions(): Promise<PeerSession[]> {
    const reply = await this.socket.command('show protocols all');
    if (!reply.ok) throw new Error(replyError('show protocols all', reply));
    const sessions = parseProtocols(reply).filter((p) => p.protocol === 'BGP');
    // BFD is its own protocol in BIRD; without one the command fails, and no session has BFD.
    const bfd = await this.socket.command('show bfd sessions').catch(() => null);
    const upPeers = bfd?.ok ? bfdUpPeers(bfd) : new Set<string>();
    for (const s of sessions) s.bfd = s.neighbor !== null && upPeers.has(s.neighbor);
    return sessions;
  }

  async close(): Promise<void> {
    this.socket.close();
  }

  private async restore(
    files: ReadonlyArray<{ path: string }>,
    previous: ReadonlyArray<string | null>,
  ): Promise<void> {
    for (const [i, f] of files.entries()) {
      const old = previous[i];
      // A file that was not there comes back empty: bird.conf includes it, so it must exist.
      await writeFileAtomically(f.path, old ?? renderRoutes([]), READABLE_BY_BIRD).catch(
        () => undefined,
      );
    }
  }
}

function replyError(command: string, reply: Reply): string {
  const detail = reply.lines
    .filter((l) => l.code >= 8000 || l.code === reply.code)
    .map((l) => l.text.trim())
    .filter(Boolean);
  return `BIRD refused '${command}': ${reply.code} ${[...new Set(detail)].join('; ') || reply.message}`;
}

/**
 * `show protocols all`: a 1002 line per protocol (name, protocol, table, state, since,
 * info), then 1006 detail lines ("  BGP state: Established", "    Hold timer: 1.2/9").
 */
export function parseProtocols(reply: Reply): PeerSession[] {
  const out: PeerSession[] = [];
  let current: PeerSession | null = null;
  for (const line of reply.lines) {
    if (line.code === 1002) {
      const [name = '', protocol = '', , state = '', ...rest] = line.text.trim().split(/\s+/);
      current = {
        name,
        protocol,
        state,
        up: state === 'up',
        bgpState: null,
        info: rest.slice(1).join(' '),
        neighbor: null,
        neighborAs: null,
        holdTime: null,
        bfd: false,
        lastError: null,
        routesExported: null,
      };
      out.push(current);
      continue;
    }
    if (!current || line.code !== 1006) continue;
    const match = /^\s*([A-Za-z][A-Za-z0-9 ]*?):\s*(.*)$/.exec(line.text);
    if (!match) continue;
    const [, key, value = ''] = match;
    if (key === 'BGP state') current.bgpState = value.trim();
    else if (key === 'Neighbor address') current.neighbor = value.trim();
    else if (key === 'Neighbor AS') current.neighborAs = Number(value) || null;
    else if (key === 'Hold timer') current.holdTime = Number(value.split('/')[1]) || null;
    else if (key === 'Last error') current.lastError = value.trim();
    else if (key === 'Routes') {
      const exported = /(\d+) exported/.exec(value);
      if (exported) current.routesExported = (current.routesExported ?? 0) + Number(exported[1]);
    }
  }
  return out;
}

/** `show bfd sessions`: 1020 lines "10.0.0.1  eth0  Up  12:00:00.000  0.100  0.300". */
export function bfdUpPeers(reply: Reply): Set<string> {
  const up = new Set<string>();
  for (const line of reply.lines) {
    const [address = '', , state] = line.text.trim().split(/\s+/);
    if (line.code === 1020 && state === 'Up') up.add(address);
  }
  return up;
}

async function readOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}
