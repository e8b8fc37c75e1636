/**
 * lvsd's systemd unit, as text. One function writes it for `lvsd systemd-unit` (pointed at
 * the lvsd that runs the command) and for packaging/lvsd.service (pointed at the Debian
 * package's /usr/bin/lvsd); a test keeps the two equal.
 *
 * The sandbox keeps what lvsd does on a director: netlink (IPVS, addresses, nftables) with
 * CAP_NET_ADMIN, sysctls under /proc/sys/net, TCP / UDP health checks, /run/lvsd; and
 * CAP_NET_RAW, which VRRP will need. `systemd-analyze security` rates it 2.3 OK (the unit
 * it replaced: 6.4 MEDIUM); test/packaging/systemd-unit.test.ts fails if it rates worse
 * than OK, and test/kernel/systemd-unit.kernel.test.ts runs it under systemd in the lab.
 */

export interface UnitOptions {
  /** The command line that starts lvsd: an executable, or node and lvsd's script. */
  exec: readonly string[];
  /** The config file or directory. */
  config: string;
  /** Listen address for /metrics, /status and /healthz. */
  http: string;
}

/**
 * One word of a unit's command line: quoted when it holds blanks, quotes or backslashes,
 * with `%` and `$` doubled so systemd expands neither (systemd.service(5), "Command lines").
 */
export function systemdWord(word: string): string {
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (escaped !== '' && !/[\s"'\\;]/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

const commandLine = (words: readonly string[]) => words.map(systemdWord).join(' ');

export function renderUnit(options: UnitOptions): string {
  const lvsd = (...args: string[]) => commandLine([...options.exec, ...args]);
  return `# lvsd: declarative IPVS (LVS) reconciler with health checks, as a systemd service.
# Written by \`lvsd systemd-unit\`, which points ExecStart at the lvsd that runs it; the
# Debian package installs this file as /lib/systemd/system/lvsd.service. By hand:
#   lvsd systemd-unit > /etc/systemd/system/lvsd.service
#   systemctl daemon-reload && systemctl enable --now lvsd
# Reload after editing the config (lvsd also reloads by itself when the files change):
#   systemctl reload lvsd
# Stopping or restarting leaves the IPVS table in place: traffic keeps flowing, and a
# restart with the same config makes no kernel writes. See lvsd(8) and docs/daemon.md.
[Unit]
Description=lvsd IPVS load balancer reconciler
Documentation=man:lvsd(8) https://github.com/lvsd/lvsd/blob/main/docs/daemon.md
After=network-online.target
Wants=network-online.target

[Service]
# Ready once the first reconcile pass has run (a write the kernel refused is retried by
# later passes and counted, not waited for); the watchdog is fed while the event loop runs.
# Node.js has no unix datagram socket, so lvsd sends each message by running systemd-notify,
# a child process: hence NotifyAccess=all.
Type=notify
NotifyAccess=all
WatchdogSec=30s
# Refuse to start on a config that does not validate (the daemon would refuse it too, but
# this puts every error in \`systemctl status\` before anything runs).
ExecStartPre=${lvsd('validate', '-c', options.config)}
ExecStart=${lvsd('run', '-c', options.config, '--state-dir', '/run/lvsd', '--http', options.http)}
# SIGHUP reloads; an invalid config is logged and ignored, the last good one stays in force.
ExecReload=/bin/kill -HUP $MAINPID
KillSignal=SIGTERM
TimeoutStopSec=30
Restart=on-failure
RestartSec=2s
Environment=NODE_ENV=production
# A young generation of 1 MiB semi-spaces rather than up to 16: 25-30 MiB less resident
# memory at 1000 x 10 reals, for about 5 us more CPU per check (5% of a TCP check);
# bench/results/2026-12-06-checks-workers.md. A drop-in may set NODE_OPTIONS= to undo it.
Environment=NODE_OPTIONS=--max-semi-space-size=1
LimitNOFILE=65536
# JSON logs go to the journal: journalctl -u lvsd -o cat | jq
StandardOutput=journal
StandardError=journal

# /run/lvsd holds what lvsd owns and what is draining: keep it across restarts. Others may
# enter it, for BIRD (Debian runs it as the user bird) reads the route files lvsd writes there
# with mode 0644; every other file lvsd makes is closed to them by the umask.
RuntimeDirectory=lvsd
RuntimeDirectoryPreserve=yes
RuntimeDirectoryMode=0755
UMask=0027

# Privileges. IPVS, addresses and nftables are reached over netlink with CAP_NET_ADMIN;
# CAP_NET_RAW is kept for VRRP. Every other capability is dropped, for lvsd and for the
# exec health checks it starts, which run in this same sandbox: a read-only file system
# but /run/lvsd and a private /tmp, no /home. Loosen it for them with \`systemctl edit lvsd\`.
CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW
NoNewPrivileges=yes
RestrictSUIDSGID=yes
KeyringMode=private
RemoveIPC=yes

# File system: read-only but the state directory; sysctls under /proc/sys/net (ip_forward,
# the IPVS ones) stay writable, the rest of /proc/sys does not.
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
PrivateMounts=yes
ProtectKernelTunables=yes
ReadWritePaths=/proc/sys/net
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible

# Kernel interfaces: netlink, IP and unix sockets only (systemd-notify uses a unix one);
# no namespaces, realtime or personality changes; the system calls of an ordinary service.
# MemoryDenyWriteExecute= stays off: V8 compiles JavaScript to machine code at run time.
RestrictAddressFamilies=AF_NETLINK AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
`;
}
