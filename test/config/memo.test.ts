/**
 * The daemon's loads recall the services written as in the last good load (config/memo.ts).
 * The guard: over random edits, a load with the memo gives exactly what a full load of the
 * same text gives (config, positions of every service and real, errors, warnings).
 */
import { describe, expect, it } from 'vitest';
import { type LoadResult, loadConfigText } from '../../src/config/index.js';
import { ServiceMemo } from '../../src/config/memo.js';

interface Real {
  host: number;
  weight: number;
}
interface Svc {
  name: string;
  vip: number;
  scheduler: string | null;
  enabled: boolean;
  quorum: boolean;
  unknownKey: boolean;
  reals: Real[];
}
interface Model {
  comments: number;
  defaultScheduler: string | null;
  services: Svc[];
}

/** A small PRNG, so that a failure can be replayed from its seed. */
function random(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return { next, int: (n: number) => Math.floor(next() * n) };
}

function render(m: Model): string {
  const lines: string[] = [];
  for (let i = 0; i < m.comments; i++) lines.push(`# comment ${i}`);
  if (m.defaultScheduler) lines.push('defaults:', `  scheduler: ${m.defaultScheduler}`);
  lines.push('services:');
  for (const s of m.services) {
    lines.push(`  ${s.name}:`, `    address: 10.0.0.${s.vip}:80`);
    if (s.scheduler) lines.push(`    scheduler: ${s.scheduler}`);
    if (!s.enabled) lines.push('    enabled: false');
    if (s.quorum) lines.push('    quorum: 1');
    if (s.unknownKey) lines.push('    wieght: 3');
    lines.push('    reals:');
    for (const r of s.reals)
      lines.push(`      - { address: 192.168.1.${r.host}, weight: ${r.weight} }`);
  }
  return `${lines.join('\n')}\n`;
}

function edit(m: Model, rnd: ReturnType<typeof random>, serial: number): void {
  const svc = m.services[rnd.int(m.services.length)] as Svc;
  switch (rnd.int(11)) {
    case 0: // a weight, sometimes out of range (a shape error)
      (svc.reals[rnd.int(svc.reals.length)] as Real).weight = rnd.int(8) === 0 ? 70000 : rnd.int(5);
      break;
    case 1: // a line above everything: every position moves
      m.comments = rnd.int(4);
      break;
    case 2:
      m.services.splice(rnd.int(m.services.length + 1), 0, {
        name: `n${serial}`,
        vip: 50 + rnd.int(200),
        scheduler: null,
        enabled: true,
        quorum: false,
        unknownKey: false,
        reals: [{ host: 1 + rnd.int(200), weight: 1 }],
      });
      break;
    case 3:
      if (m.services.length > 1) m.services.splice(m.services.indexOf(svc), 1);
      break;
    case 4: // sometimes the address of another service (an error across services)
      svc.vip = rnd.int(3) === 0 ? (m.services[0] as Svc).vip : 50 + rnd.int(200);
      break;
    case 5:
      m.defaultScheduler = [null, 'rr', 'wrr'][rnd.int(3)] as string | null;
      break;
    case 6:
      svc.enabled = !svc.enabled;
      break;
    case 7: // a warning (quorum without sorry_server)
      svc.quorum = !svc.quorum;
      break;
    case 8: // an unknown key (a shape error with a suggestion)
      svc.unknownKey = rnd.int(3) === 0;
      break;
    case 9:
      svc.reals.push({ host: 1 + rnd.int(200), weight: 1 });
      break;
    default:
      svc.scheduler = [null, 'rr', 'sh'][rnd.int(3)] as string | null;
  }
}

function start(rnd: ReturnType<typeof random>): Model {
  const services: Svc[] = [];
  for (let i = 0; i < 6; i++) {
    const reals = Array.from({ length: 1 + rnd.int(3) }, (_, j) => ({ host: j + 1, weight: 1 }));
    services.push({
      name: `s${i}`,
      vip: i + 1,
      scheduler: null,
      enabled: true,
      quorum: false,
      unknownKey: false,
      reals,
    });
  }
  return { comments: 0, defaultScheduler: null, services };
}

/** What a load says, positions included (refs are read as JSON: file, line, column). */
const seen = (r: LoadResult) => JSON.parse(JSON.stringify(r));

describe('loading with the memo of the last good load', () => {
  it('gives what a full load gives, over random edits', () => {
    let failures = 0;
    let recalled = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const rnd = random(seed);
      const model = start(rnd);
      const memo = new ServiceMemo();
      for (let step = 0; step < 25; step++) {
        const text = render(model);
        const withMemo = loadConfigText(text, 'lvsd.yaml', { memo, host: null });
        const full = loadConfigText(text, 'lvsd.yaml', { host: null });
        expect(seen(withMemo), `seed ${seed}, step ${step}:\n${text}`).toEqual(seen(full));
        if (!full.ok) failures++;
        edit(model, rnd, step);
        for (let more = rnd.int(3); more > 0; more--) edit(model, rnd, 100 + step * 3 + more);
        recalled += withMemo.ok ? 1 : 0;
      }
    }
    // Both kinds of load were compared: the edits make some configs invalid, most not.
    expect(failures).toBeGreaterThan(20);
    expect(recalled).toBeGreaterThan(200);
  });

  it('recalls the services written the same (the same objects) and resolves the edited one', () => {
    const rnd = random(7);
    const model = start(rnd);
    const memo = new ServiceMemo();
    const first = loadConfigText(render(model), 'lvsd.yaml', { memo, host: null });
    (model.services[2] as Svc).reals[0] = { host: 1, weight: 4 };
    model.comments = 2;
    const second = loadConfigText(render(model), 'lvsd.yaml', { memo, host: null });
    if (!first.ok || !second.ok) throw new Error('both configs are valid');
    const same = second.config.services.map((s, i) => s === first.config.services[i]);
    expect(same).toEqual([true, true, false, true, true, true]);
    // Two comment lines above: the recalled service is placed in the new text.
    expect(second.config.services[0]?.source.line).toBe(4);
    expect(second.config.services[0]?.reals[0]?.source.line).toBe(7);
  });

  it('an invalid load changes nothing kept: the next good load still recalls', () => {
    const model = start(random(3));
    const memo = new ServiceMemo();
    const first = loadConfigText(render(model), 'lvsd.yaml', { memo, host: null });
    (model.services[1] as Svc).reals[0] = { host: 1, weight: 70000 };
    const badText = render(model);
    const bad = loadConfigText(badText, 'lvsd.yaml', { memo, host: null });
    const line = badText.split('\n').findIndex((l) => l.includes('weight: 70000')) + 1;
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors[0]).toMatchObject({ line, path: 'services.s1.reals[0].weight' });
    (model.services[1] as Svc).reals[0] = { host: 1, weight: 2 };
    const good = loadConfigText(render(model), 'lvsd.yaml', { memo, host: null });
    if (!first.ok || !good.ok) throw new Error('both configs are valid');
    expect(good.config.services[0]).toBe(first.config.services[0]);
    expect(good.config.services[1]).not.toBe(first.config.services[1]);
  });
});
