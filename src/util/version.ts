/** lvsd's version, from the package.json it was installed with. */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function lvsdVersion(): string {
  if (cached) return cached;
  try {
    const url = new URL('../../package.json', import.meta.url);
    cached = (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    cached = '0.0.0';
  }
  return cached;
}
