/**
 * lvsd's logger: pino, one JSON event per line on stdout (what journald, Loki and
 * `jq` want), or pino-pretty's coloured lines when stdout is a terminal.
 *
 * The JSON lines of one turn of the event loop go out together, in one write() at its end
 * (stdoutByTurn): a mass failure logs a thousand transitions and a thousand kernel writes
 * in a few turns, and a write() per line was a third of the time its logging took in the
 * emulated lab (1.5 of 4.5 s in a profile). Writes are synchronous and the last turn's
 * lines are written at exit (an uncaught exception included), so no line is lost to an
 * exit; only a process killed outright (SIGKILL, an abort) loses the lines of the turn it
 * was in.
 */
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

// pino-pretty (and its dependencies) load only for a terminal: under systemd, in
// containers and in the emulated kernel lab the daemon starts without them.
const loadPretty = (): typeof PinoPretty =>
  createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;

export type { Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  level?: LogLevel;
  /** 'auto' (default): pretty when stdout is a terminal, JSON otherwise. */
  format?: 'auto' | 'json' | 'pretty';
  /** Where lines go; stdout by default. Tests pass a stream they read. */
  destination?: DestinationStream;
  /** Fields on every line (e.g. { name: 'lvsd' }). */
  base?: Record<string, unknown>;
}

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/** A turn's lines are written at once past this many characters. */
const FLUSH_CHARS = 64 * 1024;

/**
 * The JSON lines of one turn of the event loop, written to `fd` in one write() at its end
 * (or sooner, past FLUSH_CHARS). Lines are kept as they come and joined once: sonic-boom's
 * own buffering (pino.destination's minLength) appends to one growing string, and measured
 * 12-19 us a line natively against 5-12 for this (bursts of 2000 and 20,000 lines).
 */
export class TurnWriter implements DestinationStream {
  private lines: string[] = [];
  private chars = 0;
  private due = false;
  /** Set once the descriptor refuses lines (EPIPE: the reader is gone): later ones are dropped, never a crash. */
  private broken = false;

  constructor(private readonly fd: number) {}

  write(line: string): void {
    if (this.broken) return;
    this.lines.push(line);
    this.chars += line.length;
    if (this.chars >= FLUSH_CHARS) return this.flush();
    if (this.due) return;
    this.due = true;
    setImmediate(this.flush);
  }

  /** Writes what this turn logged so far (synchronously). */
  readonly flush = (): void => {
    this.due = false;
    if (this.lines.length === 0) return;
    const data = Buffer.from(this.lines.join(''));
    this.lines = [];
    this.chars = 0;
    this.broken = !writeAll(this.fd, data);
  };
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes all of `data`, waiting out a full pipe (EAGAIN: the reader is slow and the
 * descriptor non-blocking). False when the descriptor takes no more (the reader is gone).
 */
function writeAll(fd: number, data: Buffer): boolean {
  let at = 0;
  while (at < data.length) {
    try {
      at += writeSync(fd, data, at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return false;
      Atomics.wait(pause, 0, 0, 2);
    }
  }
  return true;
}

let stdoutStream: TurnWriter | undefined;

/** stdout, written once per turn of the event loop (see the header); one per process. */
function stdoutByTurn(): DestinationStream {
  if (stdoutStream) return stdoutStream;
  const out = new TurnWriter(1);
  process.on('exit', out.flush);
  stdoutStream = out;
  return out;
}

let second = Number.NaN;
let secondText = '';

/**
 * pino's `"time"` field in ISO 8601 (UTC, milliseconds), as Date's toISOString writes it;
 * the date and time up to the second are formatted once a second, not once a line.
 */
export function isoTimeField(now = Date.now()): string {
  const s = Math.floor(now / 1000);
  if (s !== second) {
    second = s;
    secondText = `,"time":"${new Date(s * 1000).toISOString().slice(0, -4)}`;
  }
  const ms = now - s * 1000;
  return `${secondText}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const format = options.format ?? 'auto';
  const usePretty =
    format === 'pretty' ||
    (format === 'auto' && !options.destination && process.stdout.isTTY === true);
  const pinoOptions = {
    level,
    base: { name: 'lvsd', ...options.base },
    // ISO times read better than epoch milliseconds in `journalctl -o cat` and in Loki.
    timestamp: isoTimeField,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (usePretty) {
    const stream = loadPretty()({
      colorize: !options.destination && !process.env.NO_COLOR,
      sync: true,
      // One event, one line, in a terminal too.
      singleLine: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,name',
      ...(options.destination
        ? { destination: options.destination as unknown as NodeJS.WritableStream }
        : {}),
    });
    return pino(pinoOptions, stream);
  }
  return withFlatLines(pino(pinoOptions, options.destination ?? stdoutByTurn()));
}

type AsJson = (obj: Record<string, unknown>, msg: unknown, num: number, time: string) => string;
type PinoInternals = Record<symbol, unknown>;
const S = pino.symbols;

/**
 * pino's line, built with the engine's JSON.stringify for each key and value, where pino
 * walks each string and key in JavaScript, for events whose fields are strings, numbers,
 * booleans and arrays: every event lvsd logs but errors. A mass failure logs two lines a
 * real (its transition, its kernel write), and little of that code has run since the
 * start: V8 interprets it, and in the emulated lab pino's walk cost about 300 us a line, a
 * sixth of the daemon's work in the failure (issue 15; natively, interpreted, 15-22 us a
 * line against 4-6, and the same once compiled). Any other event (an error, an
 * object, a key with a serializer, a message that is not a string) is pino's own, as is
 * everything when an option this does not know is set. The same bytes as pino's but for
 * lone surrogates, which JSON.stringify escapes.
 */
function withFlatLines(logger: Logger): Logger {
  const inner = logger as unknown as PinoInternals;
  const formatters = inner[S.formattersSym] as { log?: unknown };
  const stringifiers = inner[S.stringifiersSym] as object;
  if (formatters.log || inner[S.nestedKeySym] || Object.keys(stringifiers).length) return logger;
  const pinoAsJson = inner[S.asJsonSym] as AsJson;
  inner[S.asJsonSym] = function flatAsJson(
    this: PinoInternals,
    obj: Record<string, unknown>,
    msg: unknown,
    num: number,
    time: string,
  ): string {
    const props = flatFields(obj, this[S.serializersSym] as Record<string, unknown>);
    if (props === null || (typeof msg !== 'string' && msg !== undefined))
      return pinoAsJson.call(this, obj, msg, num, time);
    const messageKey = this[S.messageKeySym] as string;
    const head = (this[S.lsCacheSym] as Record<number, string>)[num];
    const message = msg === undefined ? '' : `${quotedKey(messageKey)}${JSON.stringify(msg)}`;
    return `${head}${time}${this[S.chindingsSym]}${props}${message}${this[S.endSym]}`;
  };
  return logger;
}

/** `,"key":value` for each field, or null when one needs pino (see withFlatLines). */
function flatFields(
  obj: Record<string, unknown>,
  serializers: Record<string, unknown>,
): string | null {
  let out = '';
  for (const key in obj) {
    if (!Object.hasOwn(obj, key) || serializers[key]) return null;
    const value = obj[key];
    let text: string;
    switch (typeof value) {
      case 'undefined':
        continue;
      case 'string':
        text = JSON.stringify(value);
        break;
      case 'number':
        text = Number.isFinite(value) ? String(value) : 'null';
        break;
      case 'boolean':
        text = value ? 'true' : 'false';
        break;
      default:
        if (!Array.isArray(value) || !value.every(isFlatItem)) return null;
        text = JSON.stringify(value);
    }
    out += `${quotedKey(key)}${text}`;
  }
  return out;
}

/** `,"key":` by key: the keys of lvsd's events are few and come back line after line. */
const quotedKeys = new Map<string, string>();

function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = `,${JSON.stringify(key)}:`;
    if (quotedKeys.size < 1000) quotedKeys.set(key, quoted);
  }
  return quoted;
}

const isFlatItem = (item: unknown) =>
  typeof item === 'string' || (typeof item === 'number' && Number.isFinite(item));

/** A logger that drops everything, for library callers and tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
