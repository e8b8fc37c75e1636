/**
 * Colours for what people read in a terminal (plans, reports, real-server checks): green
 * adds, yellow changes, red removals, as terraform prints them.
 */
export interface Palette {
  add(text: string): string;
  change(text: string): string;
  remove(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

const ansi = (code: number) => (text: string) => `\u001b[${code}m${text}\u001b[0m`;
export const colours: Palette = {
  add: ansi(32),
  change: ansi(33),
  remove: ansi(31),
  dim: ansi(2),
  bold: ansi(1),
};
export const plain: Palette = {
  add: (t) => t,
  change: (t) => t,
  remove: (t) => t,
  dim: (t) => t,
  bold: (t) => t,
};

/** Colour only for a terminal, and never when NO_COLOR is set (no-color.org). */
export function paletteFor(stream: NodeJS.WriteStream): Palette {
  return stream.isTTY && !process.env.NO_COLOR ? colours : plain;
}
