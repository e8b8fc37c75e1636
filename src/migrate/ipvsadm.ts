/**
 * `lvsd import ipvsadm`: reads ipvsadm-save / `ipvsadm -Sn` output or the ipvsadm lines
 * of a shell script and runs them, in order, against the in-memory kernel (FakeIpvs, which
 * refuses what the kernel refuses, with ipvsadm's words), so that -E, -e, -d, -D and -C
 * mean what they mean on a director. The table left at the end is the import; each
 * service is named from the comment just above its -A line, or from its address.
 */
import { basename } from 'node:path';
import type { IpvsOp } from '../ipvs/client.js';
import { FakeIpvs } from '../ipvs/fake.js';
import type { LiveService, ServiceKey, SyncDaemon, Timeouts } from '../ipvs/model.js';
import { destId, serviceId, serviceKeyOf } from '../ipvs/model.js';
import { kernelAsk, type PortNames } from './ipvsadm-command.js';
import { parseIpvsadmArgs } from './ipvsadm-options.js';
import { NamePool, nameFromComment, nameFromService } from './names.js';
import { completeImport } from './result.js';
import { shellItems } from './shell-words.js';
import { Findings, type ImportedService, type ImportResult, type SourcePos } from './types.js';

export interface IpvsadmImportOptions {
  /** The file named in messages and comments ("<stdin>" for -). */
  file: string;
  portNames?: PortNames;
}

interface Origin {
  pos: SourcePos;
  text: string;
  comment: string | null;
}

/** Where a service or real was added, and the later lines that changed it (-E, -e). */
interface History {
  added: Origin;
  changed: Origin[];
}

/** What the script did so far, besides the table the fake kernel holds. */
class Run {
  readonly kernel = new FakeIpvs();
  readonly findings = new Findings();
  readonly services = new Map<string, History>();
  readonly dests = new Map<string, History>();
  timeouts: Partial<Timeouts> = {};
  readonly daemons = new Map<string, SyncDaemon>();
  constructor(readonly options: IpvsadmImportOptions) {}

  pos(line: number): SourcePos {
    return { file: this.options.file, line, column: 1 };
  }

  async op(op: IpvsOp, origin: Origin): Promise<void> {
    const [result] = await this.kernel.execute([op]);
    if (result && !result.ok) {
      this.findings.error(origin.pos, `${origin.text}: ${result.error.reason}`);
      return;
    }
    this.remember(op, origin);
  }

  private remember(op: IpvsOp, origin: Origin): void {
    const forget = (prefix: string) => {
      for (const key of this.dests.keys()) if (key.startsWith(prefix)) this.dests.delete(key);
    };
    const dest = 'dest' in op ? `${serviceId(op.service)} -> ${destId(op.dest)}` : '';
    if (op.op === 'add-service')
      this.services.set(serviceId(op.service), { added: origin, changed: [] });
    else if (op.op === 'edit-service')
      this.services.get(serviceId(op.service))?.changed.push(origin);
    else if (op.op === 'delete-service') {
      this.services.delete(serviceId(op.service));
      forget(`${serviceId(op.service)} -> `);
    } else if (op.op === 'add-dest') this.dests.set(dest, { added: origin, changed: [] });
    else if (op.op === 'edit-dest') this.dests.get(dest)?.changed.push(origin);
    else if (op.op === 'delete-dest')
      this.dests.delete(`${serviceId(op.service)} -> ${destId(op.dest)}`);
    else if (op.op === 'flush') {
      this.services.clear();
      this.dests.clear();
    }
  }
}

/** Shell words that steer which lines run: the import does not follow them. */
const CONTROL = new Set(['if', 'then', 'else', 'elif', 'fi', 'case', 'esac', 'for', 'while']);
for (const word of ['until', 'do', 'done', 'function', '{', '}', '(', ')', 'select'])
  CONTROL.add(word);

/** Whether the first word is control flow: a keyword, a case pattern ("start)") or a function. */
function isControl(first: string): boolean {
  return CONTROL.has(first) || /^[^=]*\)$/.test(first) || /^[A-Za-z_][\w-]*\(\)/.test(first);
}

/** ipvsadm-restore, or ipvsadm -R: the rules it reads are lines of this file only in a here-document. */
function restoreWarning(run: Run, words: string[], redirects: string[], origin: Origin): void {
  const input = redirects.find((r) => /^0?<[^<&]/.test(r));
  if (redirects.some((r) => /^0?<</.test(r))) return;
  run.findings.warning(
    origin.pos,
    `${origin.text}: ${basename(words[0] ?? '')} reads its rules from ` +
      (input
        ? `${input.replace(/^0?<\s*/, '')}: import that file`
        : 'its input: import those rules'),
  );
}

/** The ipvsadm arguments of a command, or null (with a warning) when it is no ipvsadm command. */
function ipvsadmArgs(
  run: Run,
  words: string[],
  redirects: string[],
  origin: Origin,
): string[] | null {
  const [first = ''] = words;
  if (first.startsWith('-')) return words;
  const command = basename(first);
  if (command === 'ipvsadm' && !words.slice(1).some((w) => /^(-R|--restore)$/.test(w)))
    return words.slice(1);
  if (command === 'ipvsadm-restore' || command === 'ipvsadm')
    restoreWarning(run, words, redirects, origin);
  else if (isControl(first))
    run.findings.warning(
      origin.pos,
      `${origin.text}: shell control flow is not followed: the import runs every ipvsadm line ` +
        'of the file in order, whichever branch it is in',
    );
  else if (['iptables', 'ip6tables', 'nft'].includes(command))
    run.findings.warning(
      origin.pos,
      `${origin.text}: a firewall rule, not imported: keep it in the firewall's ` +
        `config (lvsd never sets marks; it warns about fwmark services no rule marks for)`,
    );
  else if (!['set', 'exit', 'true', ':'].includes(command))
    run.findings.warning(origin.pos, `${origin.text}: not an ipvsadm command; not imported`);
  return null;
}

async function runCommand(
  run: Run,
  item: { words: string[]; redirects: string[] },
  origin: Origin,
): Promise<void> {
  const argv = ipvsadmArgs(run, item.words, item.redirects, origin);
  if (!argv) return;
  let ask: ReturnType<typeof kernelAsk>;
  try {
    ask = kernelAsk(parseIpvsadmArgs(argv), run.options.portNames);
  } catch (err) {
    run.findings.error(origin.pos, `${origin.text}: ${(err as Error).message}`);
    return;
  }
  if (ask.kind === 'op' && ask.op.op === 'flush') await flushWarning(run, origin);
  if (ask.kind === 'op') await run.op(ask.op, origin);
  else if (ask.kind === 'timeouts') run.timeouts = { ...run.timeouts, ...ask.timeouts };
  else if (ask.kind === 'start-daemon') run.daemons.set(ask.daemon.state, ask.daemon);
  else if (ask.kind === 'stop-daemon') run.daemons.delete(ask.state);
  else run.findings.warning(origin.pos, `${origin.text}: ${ask.why}; nothing to import`);
}

/** ipvsadm -C after rules were added: what it removes, so an empty import is not a mystery. */
async function flushWarning(run: Run, origin: Origin): Promise<void> {
  const count = (await run.kernel.readTable({ stats: false })).services.length;
  if (count > 0)
    run.findings.warning(
      origin.pos,
      `${origin.text}: removes the ${count} service(s) added above, as on a director ` +
        '(a stop branch of a start/stop script? import the start part alone)',
    );
}

/** A line the import could not read: an error when it is an ipvsadm command, else a warning. */
function unreadable(run: Run, item: { line: number; message: string; text: string }): void {
  const first = item.text.split(/\s+/)[0] ?? '';
  const pos = run.pos(item.line);
  if (first.startsWith('-') || first.startsWith('$') || /ipvsadm/.test(first))
    run.findings.error(pos, item.message);
  else
    run.findings.warning(
      pos,
      `${item.text}: not an ipvsadm command; not imported (${item.message})`,
    );
}

/** Comment lines naming the lines that changed a service or real after it was added. */
function changes(history: History | undefined): string[] {
  return (history?.changed ?? []).map((c) => `changed at ${c.pos.file}:${c.pos.line}: ${c.text}`);
}

function imported(run: Run, live: LiveService, names: NamePool): ImportedService {
  const key: ServiceKey = serviceKeyOf(live);
  const id = serviceId(key);
  const history = run.services.get(id);
  const origin = history?.added;
  const commentName = origin?.comment ? nameFromComment(origin.comment) : null;
  const { dests, stats: _stats, ...service } = live;
  const reals = dests.map((d) => {
    const from = run.dests.get(`${id} -> ${destId(d)}`);
    const { activeConns: _a, inactiveConns: _i, persistConns: _p, stats: _s, ...dest } = d;
    const added = from?.added;
    return { dest, source: added?.pos ?? null, origin: added?.text ?? null, notes: changes(from) };
  });
  reals.sort((a, b) => (a.source?.line ?? 0) - (b.source?.line ?? 0));
  // A comment too long to be a name is kept as the description.
  const description = origin?.comment && !commentName ? origin.comment : undefined;
  return {
    name: names.claim(commentName ?? nameFromService(live)),
    ...(description ? { description } : {}),
    source: origin?.pos ?? null,
    origin: origin?.text ?? null,
    service,
    reals,
    notes: changes(history),
  };
}

function kernelOf(run: Run): ImportResult['kernel'] {
  const kernel: ImportResult['kernel'] = {};
  const { tcp, tcpFin, udp } = run.timeouts;
  if (tcp !== undefined || tcpFin !== undefined || udp !== undefined)
    kernel.timeouts = { tcp, tcpfin: tcpFin, udp };
  if (run.daemons.size > 0)
    kernel.sync = [...run.daemons.values()].map((d) => ({
      state: d.state,
      interface: d.interface,
      syncid: d.syncId,
      syncmaxlen: d.syncMaxLen,
      mcast_group: d.mcastGroup ?? undefined,
      mcast_port: d.mcastPort,
      mcast_ttl: d.mcastTtl,
    }));
  return kernel;
}

/** Reads the rules; the result's diagnostics say what could not be read or imported. */
export async function importIpvsadm(
  text: string,
  options: IpvsadmImportOptions,
): Promise<ImportResult> {
  const run = new Run(options);
  let comment: string | null = null;
  for (const item of shellItems(text)) {
    if (item.kind === 'comment') {
      if (!item.text.startsWith('!')) comment = item.text;
      continue;
    }
    if (item.kind === 'error') unreadable(run, item);
    else if (item.kind === 'command')
      await runCommand(run, item, { pos: run.pos(item.line), text: item.text, comment });
    comment = null;
  }
  const names = new NamePool();
  const table = await run.kernel.readTable({ stats: false });
  const line = (s: LiveService) => run.services.get(serviceId(s))?.added.pos.line ?? 0;
  const services = table.services
    .sort((a, b) => line(a) - line(b))
    .map((live) => imported(run, live, names));
  return completeImport({
    from: 'ipvsadm',
    files: [options.file],
    services,
    kernel: kernelOf(run),
    notes: [],
    diagnostics: run.findings.list,
  });
}
