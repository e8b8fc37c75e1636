/**
 * keepalived's VRRP instances as lvsd's `vrrp:` section, with keepalived's defaults and
 * corrections applied as vrrp_complete_instance() applies them (keepalived 2.2.7): the
 * version made explicit (IPv6 3, else global vrrp_version, else 2), the priority from
 * `state` when unset (MASTER 255, else 100), advert_int rounded as the version carries
 * it, nopreempt / preempt_delay cleared by `state MASTER`, and weighted tracking ignored
 * in a sync group or by the address owner. The result speaks VRRP on the wire as the
 * keepalived it replaces did; what lvsd cannot say is a warning in keepalived's terms.
 */
import { formatDuration } from '../config/duration.js';
import type { Family } from '../ipvs/model.js';
import type {
  NotifyKind,
  NotifyScript,
  ParsedInstance,
  ParsedSyncGroup,
  ParsedVrrp,
  TrackedRef,
  Vip,
} from './keepalived-vrrp-parser.js';
import { warningNote } from './result.js';
import type {
  Findings,
  FieldValue,
  ImportedKernel,
  ImportedVrrp,
  ImportedVrrpInstance,
  SourcePos,
  VrrpField,
} from './types.js';

interface Ctx {
  vrrp: ParsedVrrp;
  findings: Findings;
  /** Sync group of each instance, by name. */
  groupOf: Map<string, ParsedSyncGroup>;
}

interface Out {
  instance: ParsedInstance;
  fields: VrrpField[];
  notes: string[];
  warn(pos: SourcePos, message: string): void;
  note(message: string): void;
}

function outFor(ctx: Ctx, instance: ParsedInstance): Out {
  const notes = instance.warnings.map((w) => warningNote({ ...w.pos, message: w.message }));
  return {
    instance,
    fields: [],
    notes,
    warn: (pos, message) => {
      ctx.findings.warning(pos, message);
      notes.push(warningNote({ ...pos, message }));
    },
    note: (message) => notes.push(`NOTE ${message}`),
  };
}

/** The family keepalived gives the instance: its first VIP's, else its source's or peers', else IPv4. */
function familyOf(i: ParsedInstance): Family {
  return i.vips[0]?.family ?? i.source?.family ?? i.peers[0]?.family ?? 'ipv4';
}

function versionOf(ctx: Ctx, out: Out, family: Family): 2 | 3 {
  const i = out.instance;
  if (family === 'ipv6') {
    if (i.version === 2)
      out.warn(
        i.pos,
        'VRRP version 2 over IPv6 is not a standard lvsd speaks: imported as version 3; set version 3 on the ' +
          'keepalived side too',
      );
    return 3;
  }
  const version = i.version ?? ctx.vrrp.version ?? 2;
  if (i.version === undefined)
    out.note(
      `no version: keepalived speaks VRRPv${version} ` +
        `(${ctx.vrrp.version ? 'global_defs vrrp_version' : 'its default for IPv4'}); written explicitly`,
    );
  return version;
}

/** advert_int as the version carries it (v2 whole seconds up to 255 s, v3 centiseconds up to 40.95 s). */
function intervalOf(out: Out, version: 2 | 3): number {
  const i = out.instance;
  const ms = i.advertMs ?? 1000;
  const pos = i.advertPos ?? i.pos;
  if (version === 2) {
    if (ms >= 256_000) {
      out.warn(pos, 'VRRPv2 advertisement interval out of range: keepalived sets 255s');
      return 255_000;
    }
    if (ms % 1000 === 0) return ms;
    const rounded = Math.max(1000, Math.round(ms / 1000) * 1000);
    out.warn(
      pos,
      `VRRPv2 advertisement interval must be an integer: keepalived rounds to ${formatDuration(rounded)}`,
    );
    return rounded;
  }
  if (ms >= 40_960) {
    out.warn(pos, 'VRRPv3 advertisement interval out of range: keepalived sets 40.95s');
    return 40_950;
  }
  if (ms % 10 === 0) return ms;
  const rounded = Math.max(10, Math.round(ms / 10) * 10);
  out.warn(
    pos,
    `VRRPv3 advertisement interval must be in units of 10ms: keepalived rounds to ${rounded}ms`,
  );
  return rounded;
}

function priorityOf(out: Out): number {
  const i = out.instance;
  if (i.priority !== undefined) return i.priority;
  const priority = i.state?.value === 'MASTER' ? 255 : 100;
  out.note(
    `no priority: keepalived derives ${priority} from ` +
      (i.state?.value === 'MASTER' ? 'state MASTER (address owner)' : 'its default'),
  );
  return priority;
}

function preemptFields(out: Out, priority: number): VrrpField[] {
  const i = out.instance;
  let nopreempt = i.nopreempt;
  let delay = i.preemptDelayMs ?? 0;
  if (nopreempt && priority === 255) {
    out.warn(i.pos, 'nopreempt is incompatible with priority 255 - keepalived resets nopreempt');
    nopreempt = false;
  }
  if (i.state?.value === 'MASTER') {
    if (nopreempt)
      out.warn(
        i.pos,
        'nopreempt will not work with initial state MASTER - keepalived clears it, and so does the import',
      );
    if (delay)
      out.warn(
        i.pos,
        'preempt_delay will not work with initial state MASTER - keepalived clears it, and so does the import',
      );
    nopreempt = false;
    delay = 0;
  }
  if (nopreempt && delay) {
    out.warn(i.pos, 'preempt_delay is incompatible with nopreempt mode - keepalived resets it');
    delay = 0;
  }
  const fields: VrrpField[] = [];
  if (nopreempt) fields.push(['preempt', false]);
  if (delay) fields.push(['preempt_delay', formatDuration(delay)]);
  return fields;
}

function stateNote(out: Out, priority: number): void {
  const state = out.instance.state;
  if (!state) return;
  out.note(
    `state ${state.value}: keepalived's state only sets the state it starts in (MASTER also clears nopreempt ` +
      `and preempt_delay); the pair elects by priority. lvsd starts as BACKUP and becomes MASTER after the ` +
      `master-down interval unless a higher priority advertises (this director: ${priority})`,
  );
}

/** A VIP as lvsd writes it: address/prefix (keepalived's default prefix is the host's). */
function vipText(v: Vip): string {
  return `${v.address}/${v.prefix ?? (v.family === 'ipv4' ? 32 : 128)}`;
}

function vipsOf(out: Out, iface: string, family: Family): string[] {
  const i = out.instance;
  const keep = (v: Vip, keyword: string): boolean => {
    if (v.dev !== undefined && v.dev !== iface) {
      out.warn(
        v.pos,
        `${keyword} ${v.address} dev ${v.dev} is not imported: lvsd adds an instance's VIPs on its interface ` +
          `(${iface}) only; hold it on ${v.dev} otherwise (a top-level vips: entry, not moved by VRRP)`,
      );
      return false;
    }
    return true;
  };
  const vips = i.vips.filter((v) => {
    if (v.family !== family) {
      out.warn(
        v.pos,
        `virtual_ipaddress ${v.address}: address family must match VRRP instance - keepalived ignores it`,
      );
      return false;
    }
    return keep(v, 'virtual_ipaddress');
  });
  const excluded = i.excluded.filter((v) => {
    if (v.family === family) {
      out.warn(
        v.pos,
        `virtual_ipaddress_excluded ${v.address} is not imported: lvsd advertises every VIP of the instance's ` +
          'family, keepalived leaves excluded ones out of the adverts, and a differing address list in the ' +
          'adverts is logged by keepalived; move it to virtual_ipaddress on both sides',
      );
      return false;
    }
    return keep(v, 'virtual_ipaddress_excluded');
  });
  if (family === 'ipv6' && i.peers.length === 0 && vips[0] && !vips[0].address.startsWith('fe80:'))
    out.warn(vips[0].pos, 'the first IPv6 VIP address must be link local (keepalived says so too)');
  return [...vips, ...excluded].map(vipText);
}

function unicastOf(ctx: Ctx, out: Out, family: Family): FieldValue | null {
  const i = out.instance;
  const peers = i.peers.filter((p) => {
    if (p.family === family) return true;
    out.warn(
      p.pos,
      `unicast_peer ${p.address} MUST be of the instance family - keepalived skips it`,
    );
    return false;
  });
  if (peers.length === 0) {
    if (i.source?.keyword === 'mcast_src_ip')
      out.warn(
        i.source.pos,
        `mcast_src_ip ${i.source.address} is not imported: lvsd sends multicast adverts from the interface's ` +
          'own address',
      );
    else if (i.source)
      out.warn(
        i.source.pos,
        `unicast_src_ip ${i.source.address} without unicast_peer: adverts stay multicast`,
      );
    return null;
  }
  if (!i.source) {
    ctx.findings.error(
      i.pos,
      `vrrp_instance ${i.name} has unicast_peer but no unicast_src_ip: keepalived sends from the interface's ` +
        'primary address, lvsd needs it written; add unicast_src_ip',
    );
    return null;
  }
  return {
    flow: [
      ['source', i.source.address],
      ['peers', peers.map((p) => p.address)],
    ],
  };
}

interface Tracked {
  ref: TrackedRef;
  weight: number;
  what: string;
}

/** keepalived ignores weighted tracking in a sync group (unless sync_group_tracking_weight) and for the owner. */
function effectiveTracked(ctx: Ctx, out: Out, priority: number): Tracked[] {
  const i = out.instance;
  const group = ctx.groupOf.get(i.name);
  const why =
    group && !group.trackingWeight ? 'SYNC group' : priority === 255 ? 'address owner' : null;
  const list: Tracked[] = [];
  for (const ref of i.tracked) {
    const script = ref.keyword === 'track_script' ? ctx.vrrp.scripts.get(ref.name) : undefined;
    if (ref.keyword === 'track_script' && !script) {
      out.warn(
        ref.pos,
        `track_script ${ref.name} not found (no vrrp_script ${ref.name}): keepalived ignores it`,
      );
      continue;
    }
    if (script) script.used = true;
    const weight = ref.weight ?? script?.weight ?? 0;
    const reverse = ref.weight !== undefined ? ref.reverse : (script?.reverse ?? false);
    const what = `${ref.keyword} ${ref.name}`;
    if (why && weight !== 0) {
      if (ref.keyword === 'track_interface' && why === 'SYNC group') {
        out.warn(
          ref.pos,
          `keepalived ignores the weight of ${what} due to SYNC group: a failure is FAULT`,
        );
        list.push({ ref, weight: 0, what });
      } else
        out.warn(
          ref.pos,
          `keepalived ignores ${what} with weight ${weight} due to ${why}; not imported`,
        );
      continue;
    }
    if (reverse) {
      out.warn(
        ref.pos,
        `${what} weight ${weight} reverse is not imported: lvsd lowers the priority while an object fails`,
      );
      continue;
    }
    list.push({ ref, weight, what });
  }
  return list;
}

/** The track: block and the priority it implies (a positive keepalived weight is added while all is well). */
function trackOf(
  ctx: Ctx,
  out: Out,
  priority: number,
): { block: Array<[string, FieldValue]> | null; priority: number } {
  const tracked = effectiveTracked(ctx, out, priority);
  const interfaces = tracked.filter((t) => t.ref.keyword === 'track_interface');
  const scripts = tracked.filter((t) => t.ref.keyword === 'track_script');
  for (const extra of scripts.slice(1))
    out.warn(
      extra.ref.pos,
      `${extra.what} is not imported: lvsd runs one track command an instance (${scripts[0]?.what} above); ` +
        'combine the scripts into one',
    );
  const kept = [...interfaces, ...scripts.slice(0, 1)];
  if (kept.length === 0) return { block: null, priority };
  const first = kept[0] as Tracked;
  for (const t of kept.slice(1))
    if (t.weight !== first.weight)
      out.warn(
        t.ref.pos,
        `${t.what} weight ${t.weight}: lvsd has one weight an instance; imported with ${first.weight} (${first.what})`,
      );
  const block: Array<[string, FieldValue]> = [];
  if (interfaces.length > 0) block.push(['interfaces', interfaces.map((t) => t.ref.name)]);
  const script = scripts[0];
  if (script) block.push(['exec', execOf(ctx, out, script.ref.name)]);
  let shifted = priority;
  if (first.weight < 0) block.push(['weight', first.weight]);
  else if (first.weight > 0) {
    shifted = priority + first.weight * kept.length;
    if (shifted > 254) {
      out.warn(
        first.ref.pos,
        `priority ${priority} + weights ${first.weight * kept.length} exceeds 254: keepalived caps it, so does lvsd`,
      );
      shifted = 254;
    }
    block.push(['weight', -first.weight]);
    out.note(
      `weight +${first.weight}: keepalived adds it while each tracked object is well (${priority} + ` +
        `${kept.length} x ${first.weight}); lvsd subtracts while one fails: ` +
        `priority ${shifted}, weight -${first.weight}`,
    );
  }
  return { block, priority: shifted };
}

function execOf(ctx: Ctx, out: Out, name: string): FieldValue {
  const s = ctx.vrrp.scripts.get(name);
  if (!s?.argv) return { flow: [] };
  let timeout = s.timeoutMs ?? s.intervalMs;
  if (timeout >= s.intervalMs) {
    const capped = s.intervalMs - 100;
    out.note(
      `vrrp_script ${name}: keepalived waits up to ${formatDuration(timeout)} ` +
        `(${s.timeoutMs ? 'timeout' : 'no timeout: interval'}) ` +
        `every ${formatDuration(s.intervalMs)}; lvsd needs timeout < interval: ${formatDuration(capped)}`,
    );
    timeout = capped;
  }
  return {
    flow: [
      ['command', s.argv],
      ['interval', formatDuration(s.intervalMs)],
      ['timeout', formatDuration(timeout)],
      ['fall', Math.min(s.fall, 100)],
      ['rise', Math.min(s.rise, 100)],
    ],
  };
}

/** POSIX shell quoting of one word. */
function shQuote(word: string): string {
  return /^[A-Za-z0-9_./@:=+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

const STATE_OF: Record<Exclude<NotifyKind, 'notify'>, string> = {
  notify_master: 'MASTER',
  notify_backup: 'BACKUP',
  notify_fault: 'FAULT',
  notify_stop: 'STOP',
};

/** keepalived's notify (with INSTANCE NAME STATE PRIORITY appended, as lvsd's) and notify_STATE scripts. */
function notifyOf(out: Out): string[] | null {
  const n = out.instance.notify;
  for (const script of Object.values(n) as NotifyScript[])
    if (script.user.length > 0)
      out.warn(
        script.pos,
        `user ${script.user.join(' ')} of ${script.argv[0]} is not imported: lvsd runs notify as its own user`,
      );
  const specific = (Object.keys(STATE_OF) as Array<keyof typeof STATE_OF>).filter((k) => n[k]);
  if (specific.length === 0) return n.notify?.argv ?? null;
  const cases = specific.map(
    (k) => `${STATE_OF[k]}) ${(n[k] as NotifyScript).argv.map(shQuote).join(' ')};;`,
  );
  const generic = n.notify ? `; exec ${n.notify.argv.map(shQuote).join(' ')} "$@"` : '';
  out.note(
    `${[...specific, ...(n.notify ? ['notify'] : [])].join(', ')}: lvsd runs one notify command with INSTANCE NAME ` +
      'STATE PRIORITY appended; sh runs the script of the state ($3)' +
      `${n.notify ? ', then the notify script' : ''} ` +
      '(keepalived starts them side by side; lvsd stops a notify after 30 s)',
  );
  return ['/bin/sh', '-c', `case "$3" in ${cases.join(' ')} esac${generic}`, 'keepalived-notify'];
}

function instanceOf(ctx: Ctx, i: ParsedInstance): ImportedVrrpInstance | null {
  const out = outFor(ctx, i);
  const skip = (why: string) => {
    ctx.findings.warning(i.pos, `${i.origin} is not imported: ${why}`);
    return null;
  };
  if (i.vrid === undefined)
    return skip('no virtual_router_id (keepalived refuses the instance too)');
  if (i.interface === undefined)
    return skip(
      'no interface; lvsd needs the interface the adverts use (keepalived takes default_interface)',
    );
  const family = familyOf(i);
  if (!i.vips.some((v) => v.family === family))
    return skip(
      'no virtual_ipaddress; lvsd needs at least one VIP (keepalived accepts none for IPv4 v2 only)',
    );
  const version = versionOf(ctx, out, family);
  const base = priorityOf(out);
  stateNote(out, base);
  const interval = intervalOf(out, version);
  const preempt = preemptFields(out, base);
  const vips = vipsOf(out, i.interface, family);
  const unicast = unicastOf(ctx, out, family);
  const track = trackOf(ctx, out, base);
  const notify = notifyOf(out);
  const fields: VrrpField[] = [
    ['interface', i.interface],
    ['vrid', i.vrid],
    ['version', version],
    ['priority', track.priority],
    ['advert_interval', formatDuration(interval)],
    ...preempt,
    ['vips', vips],
  ];
  if (unicast) fields.push(['unicast', unicast]);
  if (track.block) fields.push(['track', { block: track.block }]);
  if (ctx.vrrp.syncDaemon?.instance === i.name) fields.push(['sync_daemon', true]);
  if (notify) fields.push(['notify', notify]);
  return { name: i.name, source: i.pos, origin: i.origin, fields, notes: [...new Set(out.notes)] };
}

/** How a member advertises and preempts: what lvsd requires alike across a sync group. */
function timingOf(instance: ImportedVrrpInstance): string {
  const get = (key: string) => instance.fields.find(([k]) => k === key)?.[1];
  const preempt =
    get('preempt') === false ? 'nopreempt' : `preempt_delay ${get('preempt_delay') ?? '0'}`;
  return `v${get('version')} ${get('advert_interval')}, ${preempt}`;
}

function syncGroupsOf(ctx: Ctx, imported: ImportedVrrpInstance[]): ImportedVrrp['syncGroups'] {
  const byName = new Map(imported.map((i) => [i.name, i]));
  const out: ImportedVrrp['syncGroups'] = [];
  for (const g of ctx.vrrp.syncGroups) {
    const members = g.members.filter((m) => {
      if (byName.has(m.name)) return true;
      ctx.findings.warning(
        m.pos,
        `Virtual router ${m.name} specified in sync group ${g.name} is not imported: no such instance`,
      );
      return false;
    });
    if (members.length < 2) {
      ctx.findings.warning(
        g.pos,
        `vrrp_sync_group ${g.name} has ${members.length} member(s) imported: not imported`,
      );
      continue;
    }
    const timings = members.map(
      (m) => `${m.name} ${timingOf(byName.get(m.name) as ImportedVrrpInstance)}`,
    );
    if (new Set(timings.map((t) => t.slice(t.indexOf(' ')))).size > 1) {
      ctx.findings.warning(
        g.pos,
        `vrrp_sync_group ${g.name} is not imported: lvsd moves a group only when its members advertise and ` +
          `preempt alike (${timings.join('; ')}), else one moves before the other; the members fail over ` +
          'each on its own',
      );
      continue;
    }
    out.push({ name: g.name, source: g.pos, members: members.map((m) => m.name) });
  }
  return out;
}

/** kernel.sync for lvs_sync_daemon: the backup daemon an instance's role turns into a master. */
function syncDaemonOf(ctx: Ctx, imported: Map<string, ParsedInstance>): ImportedKernel['sync'] {
  const d = ctx.vrrp.syncDaemon;
  if (!d) return undefined;
  const owner = d.instance ? imported.get(d.instance) : undefined;
  if (!owner) {
    ctx.findings.warning(
      d.pos,
      `${d.keyword} ${d.interface} is not imported: ` +
        `${d.instance ? `vrrp_instance ${d.instance} is not imported` : 'it names no vrrp_instance'}; ` +
        'keepalived runs the sync daemon as master or backup with its instance: set kernel.sync by hand',
    );
    return undefined;
  }
  if (d.keyword === 'lvs_sync_daemon_interface')
    ctx.findings.warning(
      d.pos,
      'lvs_sync_daemon_interface is deprecated in keepalived (use global lvs_sync_daemon); imported',
    );
  return [
    {
      state: 'backup',
      interface: d.interface,
      syncid: d.syncid ?? (owner.vrid as number),
      ...(d.maxlen !== undefined ? { syncmaxlen: d.maxlen } : {}),
      ...(d.group !== undefined ? { mcast_group: d.group } : {}),
      ...(d.port !== undefined ? { mcast_port: d.port } : {}),
      ...(d.ttl !== undefined ? { mcast_ttl: d.ttl } : {}),
    },
  ];
}

export function mapVrrp(
  vrrp: ParsedVrrp,
  findings: Findings,
): { vrrp?: ImportedVrrp; sync?: ImportedKernel['sync'] } {
  if (vrrp.instances.length === 0) {
    for (const s of vrrp.scripts.values())
      findings.warning(s.pos, `vrrp_script ${s.name} is not used: not imported`);
    for (const g of vrrp.syncGroups)
      findings.warning(
        g.pos,
        `vrrp_sync_group ${g.name} is not imported: there is no vrrp_instance`,
      );
    if (vrrp.syncDaemon)
      findings.warning(
        vrrp.syncDaemon.pos,
        `${vrrp.syncDaemon.keyword} is not imported: there is no vrrp_instance to steer it`,
      );
    return {};
  }
  const groupOf = new Map<string, ParsedSyncGroup>();
  for (const g of vrrp.syncGroups) for (const m of g.members) groupOf.set(m.name, g);
  const ctx: Ctx = { vrrp, findings, groupOf };
  const instances = vrrp.instances.flatMap((i) => instanceOf(ctx, i) ?? []);
  for (const s of vrrp.scripts.values())
    if (!s.used)
      findings.warning(
        s.pos,
        `Warning - script ${s.name} is not used (keepalived says so too): not imported`,
      );
  const imported = new Set(instances.map((i) => i.name));
  const sync = syncDaemonOf(
    ctx,
    new Map(vrrp.instances.filter((i) => imported.has(i.name)).map((i) => [i.name, i])),
  );
  return {
    vrrp: { instances, syncGroups: syncGroupsOf(ctx, instances) },
    ...(sync ? { sync } : {}),
  };
}
