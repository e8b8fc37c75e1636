/**
 * A LAN of network namespaces for host tests that need no IPVS (VRRP, raw sockets): a
 * bridge in a namespace of its own and one namespace per node, each with eth0 on the
 * bridge, 192.0.2.N/24 and 2001:db8::N/64 (documentation ranges: nothing leaves the
 * namespaces). Names carry a prefix so parallel runs on one machine do not collide.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

export const REPO = new URL('../..', import.meta.url).pathname;

/** Why host namespace tests cannot run here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, raw sockets)';
  if (!existsSync('/usr/sbin/ip') && !existsSync('/sbin/ip') && !existsSync('/usr/bin/ip'))
    return 'needs iproute2 (ip)';
  if (!existsSync(`${REPO}dist/ffi/raw-socket.js`)) return 'needs the build (npm run build)';
  return null;
}

export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

export interface Lan {
  prefix: string;
  /** Namespace name of a node. */
  ns(node: string): string;
  /** 192.0.2.N of a node (N = its position + 1). */
  v4(node: string): string;
  v6(node: string): string;
  /** Runs a command inside a node's namespace. */
  exec(node: string, cmd: string, args: string[]): string;
  spawn(node: string, cmd: string, args: string[]): ChildProcess;
  /** Runs a command in the bridge's namespace (tcpdump on br0 sees every frame). */
  spawnBridge(cmd: string, args: string[]): ChildProcess;
  /** Output of `ip -o addr show dev eth0` in a node. */
  addresses(node: string): string;
  destroy(): void;
}

export function makeLan(prefix: string, nodes: string[]): Lan {
  const bridgeNs = `${prefix}-br`;
  const ns = (node: string) => `${prefix}-${node}`;
  const index = (node: string) => nodes.indexOf(node) + 1;
  const destroy = () => {
    for (const name of [bridgeNs, ...nodes.map(ns)])
      try {
        sh('ip', ['netns', 'del', name]);
      } catch {
        // not there
      }
  };
  destroy();
  sh('ip', ['netns', 'add', bridgeNs]);
  sh('ip', ['-n', bridgeNs, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
  sh('ip', ['-n', bridgeNs, 'link', 'set', 'br0', 'up']);
  for (const node of nodes) {
    const name = ns(node);
    const i = index(node);
    sh('ip', ['netns', 'add', name]);
    // New interfaces in the node skip duplicate address detection: link-locals are usable at once.
    for (const key of ['all', 'default'])
      sh('ip', ['netns', 'exec', name, 'sysctl', '-qw', `net.ipv6.conf.${key}.accept_dad=0`]);
    sh('ip', [
      '-n',
      bridgeNs,
      'link',
      'add',
      `p${i}`,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      name,
    ]);
    sh('ip', ['-n', bridgeNs, 'link', 'set', `p${i}`, 'master', 'br0', 'up']);
    sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    sh('ip', [
      '-n',
      name,
      'link',
      'set',
      'eth0',
      'address',
      `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`,
    ]);
    sh('ip', ['-n', name, 'addr', 'add', `192.0.2.${i}/24`, 'dev', 'eth0']);
    sh('ip', ['-n', name, 'addr', 'add', `2001:db8::${i}/64`, 'dev', 'eth0', 'nodad']);
    sh('ip', ['-n', name, 'link', 'set', 'eth0', 'up']);
  }
  return {
    prefix,
    ns,
    v4: (node) => `192.0.2.${index(node)}`,
    v6: (node) => `2001:db8::${index(node)}`,
    exec: (node, cmd, args) => sh('ip', ['netns', 'exec', ns(node), cmd, ...args]),
    spawn: (node, cmd, args) =>
      spawn('ip', ['netns', 'exec', ns(node), cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
    spawnBridge: (cmd, args) =>
      spawn('ip', ['netns', 'exec', bridgeNs, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
    addresses: (node) => sh('ip', ['-n', ns(node), '-o', 'addr', 'show', 'dev', 'eth0']),
    destroy,
  };
}
