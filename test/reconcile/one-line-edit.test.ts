/**
 * A one-line edit of a 1000 x 10 YAML config is exactly one netlink write: the file is
 * edited on disk, loaded as lvsd loads it, turned into desired state and reconciled against
 * the fake kernel behind the kernel client's own encoder (bench/ipvs-wire-fake.ts), which
 * counts the netlink messages that would have been sent and keeps their bytes. The one
 * message is then decoded as the kernel would read it.
 * (Its speed is a benchmark, bench/reconcile-edit.ts, not a timed test.)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WireFake } from '../../bench/ipvs-wire-fake.js';
import {
  REAL_PORT,
  realOf,
  vipOf,
  yamlRealLine,
  yamlTable,
} from '../../bench/reconcile-generate.js';
import { loadConfig } from '../../src/config/index.js';
import { formatDiagnostics } from '../../src/config/diagnostics.js';
import { CmdAttr, IpvsCmd } from '../../src/ipvs/constants.js';
import { parseGenl } from '../../src/netlink/genl.js';
import { decodeDest, decodeService } from '../ipvs/helpers.js';
import { findAttribute, splitMessages } from '../netlink/helpers.js';
import { desiredState } from '../../src/reconcile/desired.js';
import { reconcile } from './pass.js';
import { MemorySysctls } from '../../src/sysctl/memory.js';

const shape = { services: 1000, destsPerService: 10 };
const noSysctls = new MemorySysctls();

describe('a one-line edit of a 1000 x 10 config', () => {
  let dir: string;
  let file: string;
  let kernel: WireFake;
  let lines: string[];

  /** Writes the config, loads it from disk, reconciles; the netlink messages it took. */
  async function applyFile(
    text: string,
  ): Promise<{ messages: number; sent: Buffer[]; failed: number }> {
    await writeFile(file, text);
    const loaded = await loadConfig(file, { host: null });
    if (!loaded.ok) throw new Error(formatDiagnostics(loaded.errors));
    kernel.resetCounters();
    const result = await reconcile(kernel, {
      desired: desiredState(loaded.config),
      stateDir: join(dir, 'state'),
      prune: 'managed',
      drainTimeoutMs: loaded.config.reconcile.drainTimeoutMs,
      dryRun: false,
      sysctls: noSysctls,
      addresses: null,
      markRules: null,
    });
    return {
      messages: kernel.messages,
      sent: [...kernel.sent],
      failed: result.report?.failed ?? 0,
    };
  }

  /** The single genl message sent: command and attributes. */
  function onlyMessage(sent: Buffer[]) {
    expect(sent).toHaveLength(1);
    const messages = splitMessages(sent[0]!);
    expect(messages).toHaveLength(1);
    return parseGenl(messages[0]!.data);
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lvsd-one-line-'));
    file = join(dir, 'lvsd.yaml');
    kernel = new WireFake();
    kernel.keepSent = true;
    lines = yamlTable(shape).split('\n');
    // drain_timeout 0: a removed real goes at once (with a drain it is one weight-0 write too).
    lines.splice(1, 0, 'reconcile: { drain_timeout: 0s }');
    const first = await applyFile(lines.join('\n'));
    expect(first.failed).toBe(0);
    expect(first.messages).toBe(shape.services * (1 + shape.destsPerService));
    expect((await applyFile(lines.join('\n'))).messages).toBe(0);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Line index of real j of service i (one line was inserted above the services). */
  const realLine = (i: number, j: number) => yamlRealLine(shape, i, j) + 1;

  it('one weight: exactly one SET_DEST carrying the new weight', async () => {
    const at = realLine(617, 4);
    expect(lines[at]).toBe(`      - { address: ${realOf(4)}:${REAL_PORT}, weight: 1 }`);
    lines[at] = lines[at]!.replace('weight: 1', 'weight: 7');
    const edit = await applyFile(lines.join('\n'));
    expect(edit.failed).toBe(0);
    expect(edit.messages).toBe(1);
    const genl = onlyMessage(edit.sent);
    expect(genl.cmd).toBe(IpvsCmd.SET_DEST);
    const service = decodeService(findAttribute(genl.attrs, CmdAttr.SERVICE)!);
    expect(service).toMatchObject({ protocol: 'tcp', address: vipOf(617), port: 80 });
    expect(decodeDest(findAttribute(genl.attrs, CmdAttr.DEST)!, 'ipv4')).toMatchObject({
      address: realOf(4),
      port: REAL_PORT,
      weight: 7,
      forwarding: 'nat',
    });
    expect((await applyFile(lines.join('\n'))).messages).toBe(0);
  });

  it('one scheduler: exactly one SET_SERVICE', async () => {
    const at = realLine(3, 0) - 3;
    expect(lines[at]).toBe('    scheduler: wlc');
    lines[at] = '    scheduler: sed';
    const edit = await applyFile(lines.join('\n'));
    expect(edit.messages).toBe(1);
    const genl = onlyMessage(edit.sent);
    expect(genl.cmd).toBe(IpvsCmd.SET_SERVICE);
    expect(decodeService(findAttribute(genl.attrs, CmdAttr.SERVICE)!)).toMatchObject({
      address: vipOf(3),
      scheduler: 'sed',
    });
  });

  it('one real removed: exactly one DEL_DEST; put back: exactly one NEW_DEST', async () => {
    const at = realLine(999, 9);
    const removed = lines.splice(at, 1)[0]!;
    const removal = await applyFile(lines.join('\n'));
    expect(removal.messages).toBe(1);
    expect(onlyMessage(removal.sent).cmd).toBe(IpvsCmd.DEL_DEST);
    lines.splice(at, 0, removed);
    const addition = await applyFile(lines.join('\n'));
    expect(addition.messages).toBe(1);
    const genl = onlyMessage(addition.sent);
    expect(genl.cmd).toBe(IpvsCmd.NEW_DEST);
    expect(decodeDest(findAttribute(genl.attrs, CmdAttr.DEST)!, 'ipv4')).toMatchObject({
      address: realOf(9),
      port: REAL_PORT,
      weight: 1,
    });
  });
});
