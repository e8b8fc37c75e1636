/**
 * lvsd's logger: pino, one JSON event per line on stdout (what journald, Loki and
 * `jq` want), or pino-pretty's coloured lines when stdout is a terminal. Both streams are
 * synchronous, so the last lines before an exit are never lost and a test can read them.
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
    timestamp: pino.stdTimeFunctions.isoTime,
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
  return pino(pinoOptions, options.destination ?? pino.destination({ dest: 1, sync: true }));
}

/** A logger that drops everything, for library callers and tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
