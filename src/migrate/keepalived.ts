/**
 * `lvsd import keepalived FILE`: keepalived.conf and its includes, read (lexer), given
 * keepalived's meaning (parser), and mapped to lvsd services (map). Pure apart from the
 * file system it is handed.
 */
import { parseKeepalived } from './keepalived-parser.js';
import { lexKeepalived } from './keepalived-lexer.js';
import { mapKeepalived } from './keepalived-map.js';
import type { FileSystem } from './glob.js';
import type { ImportResult } from './types.js';

export interface KeepalivedImportOptions {
  fs: FileSystem;
  /** keepalived's -i / config id: which @id lines count. */
  configId?: string;
}

export function importKeepalived(path: string, options: KeepalivedImportOptions): ImportResult {
  const lexed = lexKeepalived(path, options);
  const config = parseKeepalived(lexed.statements, lexed.findings);
  return mapKeepalived(config, lexed.findings, lexed.files);
}
