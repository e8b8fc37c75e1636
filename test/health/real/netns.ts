/**
 * Real server software in a network namespace, for checker tests on the host (checkers
 * need no IPVS): one namespace joined to the host by a veth pair, 198.51.100.1 and
 * 2001:db8:c4ec::1 on the host's end, .2 and ::2 in the namespace (documentation ranges:
 * nothing leaves the pair), and 198.51.100.3 on the host's end as a second source. Names
 * carry the prefix `checkers` (this work's branch) so parallel runs of other tests on one
 * machine do not collide.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';

export const NS = 'checkers-srv';
const HOST_IF = 'chk-host';
const NS_IF = 'chk-srv';
export const HOST_V4 = '198.51.100.1';
/** A second address of the host's end: a check's `source`, which the servers can tell apart. */
export const SOURCE_V4 = '198.51.100.3';
export const SERVER_V4 = '198.51.100.2';
/** An address on the link that nobody has: pings go unanswered. */
export const NOBODY_V4 = '198.51.100.9';
export const HOST_V6 = '2001:db8:c4ec::1';
export const SERVER_V6 = '2001:db8:c4ec::2';

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function has(cmd: string): boolean {
  return ['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((dir) => existsSync(`${dir}/${cmd}`));
}

/** Why these tests cannot run here, or null when they can. Each server is asked for separately. */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  if (!has('ip') || !has('ss')) return 'needs iproute2 (ip, ss): bash test/host-packages.sh';
  return null;
}

/** Why a server program is missing (test/host-packages.sh installs it), or null. */
export function missing(program: string, pkg: string): string | null {
  return existsSync(program)
    ? null
    : `needs ${program} (Debian ${pkg}): bash test/host-packages.sh`;
}

const ignore = () => {
  try {
    sh('ip', ['netns', 'del', NS]);
  } catch {
    // not there
  }
  try {
    sh('ip', ['link', 'del', HOST_IF]);
  } catch {
    // not there
  }
};

/** Held while a run has the namespace: see lockNetns. */
const LOCK = '/tmp/lvsd-checkers-netns.lock';

/**
 * Waits for, then holds, a machine-wide lock for as long as this run has the namespace: its
 * names and addresses are fixed, and a run of these tests from another checkout at the same
 * time would delete them under this one. flock holds the lock while `cat` reads this
 * process's pipe, so it is let go by the returned function, or when this process dies.
 */
export async function lockNetns(timeoutMs = 120_000): Promise<() => void> {
  const child = spawn(
    'flock',
    ['-o', '-w', String(timeoutMs / 1000), LOCK, 'sh', '-c', 'echo locked; exec cat'],
    {
      stdio: ['pipe', 'pipe', 'ignore'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`no lock on ${LOCK} (flock exit ${code})`)));
  });
  return () => child.stdin?.end();
}

export function createNetns(): void {
  ignore();
  sh('ip', ['netns', 'add', NS]);
  sh('ip', ['netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0']);
  sh('ip', ['netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0']);
  sh('ip', ['link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF, 'netns', NS]);
  sh('ip', ['addr', 'add', `${HOST_V4}/24`, 'dev', HOST_IF]);
  sh('ip', ['addr', 'add', `${SOURCE_V4}/32`, 'dev', HOST_IF]);
  sh('ip', ['addr', 'add', `${HOST_V6}/64`, 'dev', HOST_IF, 'nodad']);
  sh('ip', ['link', 'set', HOST_IF, 'up']);
  sh('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
  sh('ip', ['-n', NS, 'addr', 'add', `${SERVER_V4}/24`, 'dev', NS_IF]);
  sh('ip', ['-n', NS, 'addr', 'add', `${SERVER_V6}/64`, 'dev', NS_IF, 'nodad']);
  sh('ip', ['-n', NS, 'link', 'set', NS_IF, 'up']);
}

export function destroyNetns(): void {
  ignore();
}

/** The link-local address of the host's end and the name of its interface (for `interface:` tests). */
export function hostLinkLocal(): { address: string; iface: string } {
  const out = sh('ip', ['-6', '-o', 'addr', 'show', 'dev', HOST_IF, 'scope', 'link']);
  const address = /inet6 (fe80::[0-9a-f:]+)\//.exec(out)?.[1];
  if (!address) throw new Error(`no link-local address on ${HOST_IF}: ${out}`);
  return { address, iface: HOST_IF };
}

export function serverLinkLocal(): string {
  const out = sh('ip', ['-n', NS, '-6', '-o', 'addr', 'show', 'dev', NS_IF, 'scope', 'link']);
  const address = /inet6 (fe80::[0-9a-f:]+)\//.exec(out)?.[1];
  if (!address) throw new Error(`no link-local address on ${NS_IF}: ${out}`);
  return address;
}

/** A server process in the namespace; its output is kept for failure messages. */
export interface Server {
  process: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export function startServer(cmd: string, args: string[]): Server {
  const child = spawn('ip', ['netns', 'exec', NS, cmd, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  return {
    process: child,
    output: () => text,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}

/** Waits until something listens on the port in the namespace (tcp or udp). */
export async function listening(port: number, proto: 'tcp' | 'udp' = 'tcp', timeoutMs = 10_000) {
  const start = Date.now();
  for (;;) {
    const flag = proto === 'tcp' ? '-Hltn' : '-Hlun';
    if (sh('ip', ['netns', 'exec', NS, 'ss', flag, `sport = :${port}`]).trim() !== '') return;
    if (Date.now() - start > timeoutMs) throw new Error(`nothing listens on ${proto} ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** TCP connections to a port of the namespace's servers, in any state but LISTEN and TIME-WAIT. */
export function serverConnections(port: number): string[] {
  const out = sh('ip', [
    'netns',
    'exec',
    NS,
    'ss',
    '-Htn',
    'state',
    'connected',
    `sport = :${port}`,
  ]);
  return out.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('TIME-WAIT'));
}

/** Connections from a local port of the host (lvsd's side) left in TIME-WAIT. */
export function hostTimeWait(sourcePort: number): string[] {
  const out = sh('ss', ['-Htn', 'state', 'time-wait', `sport = :${sourcePort}`]);
  return out.split('\n').filter((l) => l.trim() !== '');
}

/** This process's sockets (its descriptors that are sockets), by inode. */
export function ownSockets(): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const link = readlinkSync(`/proc/self/fd/${fd}`);
      if (link.startsWith('socket:')) out.add(link);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** Polls until the predicate holds or the time is up; returns whether it held. */
export async function eventually(predicate: () => boolean, timeoutMs = 2000): Promise<boolean> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}
