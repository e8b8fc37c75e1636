/**
 * The generated files the packages ship (scripts/gen-packaging.js writes them; a test
 * compares them with what the code writes now): the systemd unit for the Debian package's
 * /usr/bin/lvsd, and the man page.
 */
import { DEFAULT_CONFIG_PATH } from '../config/index.js';
import { DEFAULT_HTTP_ADDRESS } from '../daemon/http.js';
import { manPage } from './manpage.js';
import { fullProgram } from './program.js';
import { describeProgram } from './tree.js';
import { renderUnit } from './unit-file.js';

/** Where the Debian package puts lvsd (a link to /usr/lib/lvsd/bin/lvsd.js). */
export const PACKAGED_LVSD = '/usr/bin/lvsd';

export function packagedUnit(): string {
  return renderUnit({
    exec: [PACKAGED_LVSD],
    config: DEFAULT_CONFIG_PATH,
    http: DEFAULT_HTTP_ADDRESS,
  });
}

export async function packagedManPage(): Promise<string> {
  return manPage(describeProgram(await fullProgram()));
}
