import { execFile, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogger, isLogLevel, isoTimeField, TurnWriter } from '../../src/util/log.js';
import { topLevelKeys } from './helpers.js';

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}

describe('logger', () => {
  it('writes one JSON event per line with the level name, an ISO time and the fields', () => {
    const out = sink();
    const log = createLogger({ level: 'info', format: 'json', destination: out.stream });
    log.info({ event: 'config_reloaded', hash: 'abc' }, 'configuration reloaded');
    log.debug({ event: 'hidden' }, 'below the level');
    const lines = out.text().trim().split('\n');
    expect(lines).toHaveLength(1);
    const event = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(event).toMatchObject({
      level: 'info',
      name: 'lvsd',
      event: 'config_reloaded',
      hash: 'abc',
      msg: 'configuration reloaded',
    });
    expect(new Date(String(event.time)).toISOString()).toBe(event.time);
  });

  it("writes pino's own bytes for every kind of event, flat or not", () => {
    const fast = sink();
    const plain = sink();
    const options = { level: 'debug', base: { name: 'lvsd' }, timestamp: isoTimeField };
    const formatters = { level: (label: string) => ({ level: label }) };
    const logs = [
      createLogger({ level: 'debug', format: 'json', destination: fast.stream }),
      pino({ ...options, formatters }, plain.stream),
    ];
    const long = 'x'.repeat(150);
    const events: Array<[Record<string, unknown> | Error, unknown]> = [
      [
        { event: 'health.transition', real: '10.0.0.1:80', durationMs: 0, sinceMs: 29374 },
        'a -> b',
      ],
      [
        { quote: 'say "hi"', slash: 'a\\b', line: 'one\ntwo', control: '\u0001', empty: '' },
        'q "x"',
      ],
      [{ accents: 'réel', emoji: 'up ✅', separator: 'a\u2028b', long }, long],
      [
        {
          n: -1.5,
          big: 1e21,
          nan: Number.NaN,
          inf: Number.POSITIVE_INFINITY,
          yes: true,
          no: false,
        },
        'n',
      ],
      [
        { skipped: undefined, triggers: ['health', 'drift'], numbers: [1, 2], 'k"ey': 'v' },
        undefined,
      ],
      [{ nested: { a: 1 }, list: [{ b: 2 }] }, "objects are pino's"],
      [{ err: new Error('refused') }, 'an error'],
      [new Error('thrown'), undefined],
      [{ event: 'x' }, 42],
    ];
    for (const log of logs) {
      const child = log.child({ component: 'health' });
      for (const [obj, msg] of events) {
        log.warn(obj, msg as string);
        child.info(obj, msg as string);
      }
    }
    // The JSON logger builds its own lines (the raw pino one is the reference).
    expect(Object.hasOwn(logs[0]!, pino.symbols.asJsonSym)).toBe(true);
    const untimed = (text: string) => text.replace(/,"time":"[^"]*"/g, '');
    expect(untimed(fast.text())).toBe(untimed(plain.text()));
    expect(fast.text().split('\n')).toHaveLength(events.length * 2 + 1);
  });

  it('pretty-prints one line per event, without colour when not on a terminal', () => {
    const out = sink();
    const log = createLogger({ level: 'debug', format: 'pretty', destination: out.stream });
    log.warn({ event: 'drift_repair', action: 'add' }, 'repaired drift');
    const text = out.text();
    expect(text.trim().split('\n')).toHaveLength(1);
    expect(text).toMatch(/WARN.*repaired drift.*"event":"drift_repair"/);
    expect(text).not.toContain('\u001b[');
  });

  it('writes the time as toISOString does, across seconds and for every width of milliseconds', () => {
    const start = Date.UTC(2026, 11, 31, 23, 59, 58);
    for (const at of [0, 1, 9, 10, 99, 100, 999, 1000, 1001, 1999, 2000, 2005, 86_400_123]) {
      const now = start + at;
      expect(isoTimeField(now)).toBe(`,"time":"${new Date(now).toISOString()}"`);
    }
    // Back to an earlier second (the clock stepped back): formatted again, not reused.
    expect(isoTimeField(start + 5)).toBe(`,"time":"${new Date(start + 5).toISOString()}"`);
  });

  it('knows its levels', () => {
    expect(isLogLevel('debug')).toBe(true);
    expect(isLogLevel('verbose')).toBe(false);
  });
});

/** Runs a script that logs to stdout through dist/util/log.js (npm run build first). */
function logChild(script: string): Promise<{ code: number; stdout: string }> {
  const log = fileURLToPath(new URL('../../dist/util/log.js', import.meta.url));
  const source = `import { createLogger } from ${JSON.stringify(log)};\n${script}`;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', source],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
    );
  });
}

describe('the stdout logger (lines of one turn written together)', () => {
  const events = (stdout: string) =>
    stdout
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { n: number }).n);

  it('writes every line of a burst, in order, and those of the turns after it', async () => {
    const { code, stdout } = await logChild(`
      const log = createLogger({ format: 'json' });
      for (let n = 0; n < 3000; n++) log.info({ event: 'x', n }, 'a line of a burst');
      setImmediate(() => log.info({ event: 'x', n: 3000 }, 'the next turn'));
      setTimeout(() => log.info({ event: 'x', n: 3001 }, 'later'), 20);`);
    expect(code).toBe(0);
    expect(events(stdout)).toEqual(Array.from({ length: 3002 }, (_, n) => n));
  });

  it('waits out a reader slower than the burst: every line arrives, in order', async () => {
    const log = fileURLToPath(new URL('../../dist/util/log.js', import.meta.url));
    const source = `import { createLogger } from ${JSON.stringify(log)};
      const log = createLogger({ format: 'json' });
      // As a daemon's stdout may be (a pipe libuv set non-blocking): a full pipe is EAGAIN.
      process.stdout._handle.setBlocking(false);
      for (let n = 0; n < 20000; n++) log.info({ event: 'x', n, pad: 'p'.repeat(100) }, 'a burst');`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', source]);
    // Nobody reads for a while: the pipe fills (a few dozen KiB) long before the 3 MB are out.
    child.stdout.pause();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(events(Buffer.concat(chunks).toString())).toEqual(
      Array.from({ length: 20000 }, (_, n) => n),
    );
  });

  it('writes the lines of the last turn when the process exits in it, by exit or by a throw', async () => {
    const exits = await logChild(`
      const log = createLogger({ format: 'json' });
      log.info({ event: 'x', n: 0 }, 'before exit');
      log.info({ event: 'x', n: 1 }, 'before exit');
      process.exit(3);`);
    expect(exits.code).toBe(3);
    expect(events(exits.stdout)).toEqual([0, 1]);
    const throws = await logChild(`
      const log = createLogger({ format: 'json' });
      log.info({ event: 'x', n: 0 }, 'before the throw');
      throw new Error('boom');`);
    expect(throws.code).toBe(1);
    expect(events(throws.stdout)).toEqual([0]);
  });
});

describe('TurnWriter', () => {
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  it('writes the lines of a turn in one go at its end, and sooner past 64 KiB', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvsd-log-'));
    const path = join(dir, 'out');
    const fd = openSync(path, 'w');
    try {
      const out = new TurnWriter(fd);
      out.write('one\n');
      out.write('two\n');
      expect(readFileSync(path, 'utf8')).toBe('');
      await nextTurn();
      expect(readFileSync(path, 'utf8')).toBe('one\ntwo\n');
      const long = `${'x'.repeat(40 * 1024)}\n`;
      out.write(long);
      out.write(long);
      // Past 64 KiB the turn's lines go at once; what follows waits for the turn's end.
      expect(readFileSync(path, 'utf8')).toBe(`one\ntwo\n${long}${long}`);
      out.write('é three\n');
      await nextTurn();
      expect(readFileSync(path, 'utf8')).toBe(`one\ntwo\n${long}${long}é three\n`);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true });
    }
  });

  it('drops lines, never throws, once its descriptor refuses them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lvsd-log-'));
    const path = join(dir, 'out');
    closeSync(openSync(path, 'w'));
    const readOnly = openSync(path, 'r');
    try {
      const out = new TurnWriter(readOnly);
      out.write('refused\n');
      expect(() => out.flush()).not.toThrow();
      out.write('dropped\n');
      await nextTurn();
      expect(readFileSync(path, 'utf8')).toBe('');
    } finally {
      closeSync(readOnly);
      rmSync(dir, { recursive: true });
    }
  });
});

describe('topLevelKeys (the duplicate-key check of the test logger)', () => {
  it('finds a duplicated key at the top level only', () => {
    expect(topLevelKeys('{"name":"lvsd","event":"x","name":"web"}')).toEqual([
      'name',
      'event',
      'name',
    ]);
    expect(topLevelKeys('{"a":{"name":1},"b":["name",{"c":"}"}],"d":"x\\"y"}')).toEqual([
      'a',
      'b',
      'd',
    ]);
  });
});
