import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, isLogLevel } from '../../src/util/log.js';
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

  it('pretty-prints one line per event, without colour when not on a terminal', () => {
    const out = sink();
    const log = createLogger({ level: 'debug', format: 'pretty', destination: out.stream });
    log.warn({ event: 'drift_repair', action: 'add' }, 'repaired drift');
    const text = out.text();
    expect(text.trim().split('\n')).toHaveLength(1);
    expect(text).toMatch(/WARN.*repaired drift.*"event":"drift_repair"/);
    expect(text).not.toContain('\u001b[');
  });

  it('knows its levels', () => {
    expect(isLogLevel('debug')).toBe(true);
    expect(isLogLevel('verbose')).toBe(false);
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
