/**
 * `lvsd status`: asks the running daemon (`GET /status` on its HTTP listener) and prints
 * the table like `ipvsadm -Ln` with a Health column, under a few lines on the config and
 * the last reload and reconcile; `--json` prints the daemon's answer as it is.
 *
 * Exit codes: 0 shown; 1 the daemon could not be reached or answered something else;
 * 3 shown, but the last reload was refused (the daemon runs an older config than the files).
 */
import type { Command } from 'commander';
import { DEFAULT_HTTP_ADDRESS, parseListenAddress } from '../../daemon/http.js';
import { DaemonStatus, statusTable } from '../../daemon/status.js';
import { formatHostPort } from '../../ipvs/model.js';
import type { CommandModule } from '../command.js';
import { reportError } from '../errors.js';
import { renderVrrpStatus } from '../../vrrp/status.js';
import { renderAnnounceStatus } from '../../announce/status.js';
import { renderTable } from './ls.js';

export interface StatusOptions {
  http: string;
  json?: boolean;
  timeout?: string;
}

/** The URL of /status for a listen address; a wildcard listener is asked on loopback. */
export function statusUrl(address: string): string | null {
  if (/^https?:\/\//.test(address)) return `${address.replace(/\/+$/, '')}/status`;
  const parsed = parseListenAddress(address);
  if (!parsed) return null;
  const host = parsed.host === '::' || parsed.host === '0.0.0.0' ? '127.0.0.1' : parsed.host;
  return `http://${formatHostPort(host, parsed.port)}/status`;
}

export function renderStatus(status: DaemonStatus): string {
  const lines: string[] = [];
  const short = status.config.hash.slice(0, 12);
  lines.push(`lvsd ${status.version} (pid ${status.pid}) running since ${status.startedAt}`);
  lines.push(
    `config ${status.config.path} ${short}, loaded ` +
      `${status.config.loadedAt}${status.config.host ? `, host ${status.config.host}` : ''}`,
  );
  const reload = status.lastReload;
  if (reload && !reload.ok) {
    lines.push(
      `last reload REFUSED at ${reload.at} (${reload.errors.length} ` +
        `error${reload.errors.length === 1 ? '' : 's'}); the config above stays in force:`,
    );
    for (const error of reload.errors) lines.push(`  ${error}`);
  } else if (reload) {
    lines.push(`last reload ok at ${reload.at}`);
  }
  const pass = status.lastReconcile;
  if (pass) {
    const parts = [`${pass.writes} write${pass.writes === 1 ? '' : 's'}`, `${pass.failed} failed`];
    if (pass.driftRepairs)
      parts.push(`${pass.driftRepairs} drift repair${pass.driftRepairs === 1 ? '' : 's'}`);
    lines.push(
      `last reconcile at ${pass.at} (${pass.triggers.join(', ')}): ${parts.join(', ')}, ${pass.durationMs} ` +
        `ms${pass.error ? `; FAILED: ${pass.error}` : ''}`,
    );
  }
  lines.push('');
  const vrrp = renderVrrpStatus(status.vrrp);
  if (vrrp) lines.push(vrrp);
  const announce = renderAnnounceStatus(status.announce);
  if (announce) lines.push(announce);
  const { table, healthOf } = statusTable(status.services);
  const info = status.kernel ?? { version: '?', connTableSize: 0 };
  let text =
    lines.join('\n') +
    '\n' +
    renderTable(info, table, { extraColumn: { header: 'Health', value: healthOf } });
  if (status.draining.length) {
    text += '\nDraining (weight 0, waiting for connections to end):\n';
    for (const d of status.draining) {
      text +=
        `  ${d.service} -> ${d.dest}: ${d.activeConns} active, ${d.inactiveConns} inactive, deleted in ` +
        `${Math.ceil(d.remainingMs / 1000)} s at the latest\n`;
    }
  }
  return text;
}

export async function runStatus(
  options: StatusOptions,
  write: (text: string) => void = (t) => process.stdout.write(t),
  writeError: (text: string) => void = (t) => process.stderr.write(t),
): Promise<number> {
  const url = statusUrl(options.http);
  if (!url) {
    const message = `--http ${options.http}: expected HOST:PORT, [V6]:PORT or a URL`;
    reportError({ json: options.json, write, writeError }, 'status', message);
    return 2;
  }
  let body: unknown;
  try {
    const response = await fetch(url, {
      signal: AbortSignal.timeout(Number(options.timeout ?? 5000)),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}: ${(await response.text()).trim()}`);
    body = await response.json();
  } catch (err) {
    // fetch() says only "fetch failed"; the reason is in its cause.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const reason =
      cause?.code === 'ECONNREFUSED'
        ? 'connection refused (is `lvsd run` running, with its HTTP listener on?)'
        : (cause?.message ?? (err as Error).message);
    reportError({ json: options.json, write, writeError }, 'status', `${url}: ${reason}`);
    return 1;
  }
  const parsed = DaemonStatus.safeParse(body);
  if (!parsed.success) {
    const shape = parsed.error.issues[0]?.message ?? 'unknown shape';
    const message = `${url} did not answer with an lvsd status: ${shape}`;
    reportError({ json: options.json, write, writeError }, 'status', message);
    return 1;
  }
  write(options.json ? `${JSON.stringify(parsed.data, null, 2)}\n` : renderStatus(parsed.data));
  return parsed.data.lastReload && !parsed.data.lastReload.ok ? 3 : 0;
}

export const statusCommand: CommandModule = {
  register(program: Command, setExitCode) {
    program
      .command('status')
      .description(
        "the running daemon's view: the table like `ipvsadm -Ln` with each real's health, the config, last " +
          'reload and reconcile',
      )
      .option(
        '--http <address>',
        'where `lvsd run` listens (HOST:PORT or a URL)',
        DEFAULT_HTTP_ADDRESS,
      )
      .option('--json', "the daemon's status as JSON")
      .action(async (options: StatusOptions) => setExitCode(await runStatus(options)));
  },
};
