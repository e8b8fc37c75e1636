/**
 * lvsd's logger: pino, one JSON event per line on stdout (what journald, Loki and
 * `jq` want), or pino-pretty's coloured lines when stdout is a terminal.
 *
 * The JSON lines of one turn of the event loop go out together, in one write() at its end
 * (stdoutByTurn): a mass failure logs a thousand transitions and a thousand kernel writes
 * in a few turns, and a write() per line was a third of the time its logging took in the
 * emulated lab (1.5 of 4.5 s in a profile). Writes are synchronous and the last turn's lines are written at exit
 * (an uncaught exception included), so no line is lost to an exit; only a process killed
 * outright (SIGKILL, an abort) loses the lines of the turn it was in.
 */
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

/** A turn's lines are written at once past this many bytes. */
const FLUSH_BYTES = 64 * 1024;

let stdoutStream: DestinationStream | undefined;

/** stdout, written once per turn of the event loop (see the header); one per process. */
function stdoutByTurn(): DestinationStream {
  if (stdoutStream) return stdoutStream;
  const out = pino.destination({
    dest: 1,
    sync: true,
    minLength: FLUSH_BYTES,
    maxWrite: 2 * FLUSH_BYTES,
  });
  let due = false;
  const flush = () => {
    due = false;
    out.flushSync();
  };
  process.on('exit', flush);
  stdoutStream = {
    write(line: string) {
      out.write(line);
      if (due) return;
      due = true;
      setImmediate(flush);
    },
  };
  return stdoutStream;
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
  return pino(pinoOptions, options.destination ?? stdoutByTurn());
}

/** A logger that drops everything, for library callers and tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
