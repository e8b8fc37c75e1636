/**
 * Where a resolved object was declared, found only when asked: placing 10,000 reals in
 * their file's text costs a second read of it, and a valid config is rarely asked.
 */
import type { DataPath } from './diagnostics.js';
import { type Provenance, trace } from './merge.js';
import type { SourceRef } from './resolved.js';

export function locateProv(
  prov: Provenance,
  path: DataPath,
  at: 'key' | 'value',
): { file: string; line: number; column: number } {
  const { source, path: inFile } = trace(prov, path);
  const { line, column } = source.locate(inFile, at);
  return { file: source.file, line, column };
}

/**
 * Which load's text refs are placed in: one load's own (a cell made for it), or for the
 * daemon's loads the last good load's (memo.ts), so that a service object recalled from
 * the last load is placed where this load's text has it.
 */
export interface ProvCell {
  prov: Provenance | null;
}

/** A SourceRef whose line and column are found only when read (finding them may parse the file again). */
export class LazySourceRef implements SourceRef {
  private position: { file: string; line: number; column: number } | null = null;
  /** The provenance `position` was found in: the cell may have moved on since. */
  private positionIn: Provenance | null = null;
  constructor(
    private readonly cell: ProvCell,
    /** The path in the loaded data (services.NAME.reals.0): the same in the next load's data. */
    readonly path: DataPath,
  ) {}
  private get prov(): Provenance {
    if (!this.cell.prov) throw new Error('a source ref was read before its load finished');
    return this.cell.prov;
  }
  private located() {
    const prov = this.prov;
    if (this.positionIn !== prov || !this.position) {
      this.position = locateProv(prov, this.path, 'key');
      this.positionIn = prov;
    }
    return this.position;
  }
  get file(): string {
    return trace(this.prov, this.path).source.file;
  }
  get line(): number {
    return this.located().line;
  }
  get column(): number {
    return this.located().column;
  }
  toJSON(): SourceRef {
    return { file: this.file, line: this.line, column: this.column };
  }
}
