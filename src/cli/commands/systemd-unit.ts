/**
 * `lvsd systemd-unit`: prints lvsd's systemd unit with ExecStart pointing at the lvsd that
 * runs this command, wherever npm (or the Debian package) put it.
 */
import type { Command } from 'commander';
import { realpathSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CONFIG_PATH } from '../../config/index.js';
import { DEFAULT_HTTP_ADDRESS } from '../../daemon/http.js';
import type { CommandModule } from '../command.js';
import { renderUnit } from '../unit-file.js';

/** The PATH systemd gives services (systemd.exec(5), "Environment variables in spawned processes"). */
export const SYSTEMD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin';

/** What decides the command line: how this lvsd was started, and where things are. */
export interface Install {
  /** process.argv[1]: the file that was run (the bin link npm made, or the script). */
  invoked: string | undefined;
  /** The node binary running lvsd. */
  node: string;
  /** This package's bin/lvsd.js. */
  script: string;
  /** realpath(2), or null when the path does not resolve. */
  realpath: (path: string) => string | null;
}

function resolves(realpath: Install['realpath'], a: string, b: string): boolean {
  const ra = realpath(a);
  return ra !== null && ra === realpath(b);
}

/**
 * The link lvsd was started through (/usr/bin/lvsd, /usr/local/bin/lvsd), when systemd can
 * start it the same way: its `#!/usr/bin/env node` must find, on systemd's PATH, the node
 * running now. Otherwise node and the script by their absolute paths, which is right
 * wherever they are (an nvm node is on no PATH that systemd knows).
 */
export function lvsdCommand(install: Install): string[] {
  const { invoked, node, script, realpath } = install;
  const viaLink =
    invoked !== undefined &&
    isAbsolute(invoked) &&
    invoked !== script &&
    resolves(realpath, invoked, script);
  const envNode = SYSTEMD_PATH.split(delimiter)
    .map((dir) => join(dir, 'node'))
    .find((candidate) => realpath(candidate) !== null);
  if (viaLink && envNode && resolves(realpath, envNode, node)) return [invoked];
  return [node, realpath(script) ?? script];
}

function systemInstall(): Install {
  return {
    invoked: process.argv[1],
    node: process.execPath,
    script: fileURLToPath(new URL('../../../bin/lvsd.js', import.meta.url)),
    realpath: (path) => {
      try {
        return realpathSync(path);
      } catch {
        return null;
      }
    },
  };
}

const INSTALL = `
Install:
  lvsd systemd-unit > /etc/systemd/system/lvsd.service
  systemctl daemon-reload && systemctl enable --now lvsd`;

interface SystemdUnitOptions {
  exec?: string;
  config: string;
  http: string;
}

export const systemdUnitCommand: CommandModule = {
  register(program: Command, setExitCode) {
    program
      .command('systemd-unit')
      .description(
        'print the systemd unit for this lvsd (Type=notify, reload on SIGHUP, ' +
          'sandboxed to CAP_NET_ADMIN and CAP_NET_RAW)',
      )
      .option('--exec <file>', 'the lvsd executable the unit starts (default: this one)')
      .option('-c, --config <path>', 'config file or directory for the unit', DEFAULT_CONFIG_PATH)
      .option(
        '--http <address>',
        'listen address for /metrics, /status and /healthz',
        DEFAULT_HTTP_ADDRESS,
      )
      .addHelpText('after', INSTALL)
      .action((options: SystemdUnitOptions) => {
        const exec = options.exec ? [options.exec] : lvsdCommand(systemInstall());
        process.stdout.write(renderUnit({ exec, config: options.config, http: options.http }));
        setExitCode(0);
      });
  },
};
