/**
 * An IPVS table as `ipvsadm -Sn` prints it (ipvsadm.c's FMT_RULE lines: services and
 * reals in ipvsadm's order, the same options in the same order), plus what -Sn leaves out:
 * the connection thresholds (-x, -y), so that `ipvsadm-restore` rebuilds the table
 * exactly. Pure: the caller reads the table (kernel or config) and prints the text.
 */
import { expandIpv6, prefixToIpv4Mask } from '../netlink/inet.js';
import type { Dest, Family, IpvsTable, LiveService, Service } from '../ipvs/model.js';
import { formatHostPort, isFwmarkKey } from '../ipvs/model.js';

const SERVICE_OPTION = { tcp: '-t', udp: '-u', sctp: '--sctp-service' } as const;

/** "-t 10.0.0.1:80", "--sctp-service [2001:db8::1]:3868", "-f 10 -6". */
export function serviceSpec(s: Service): string {
  if (isFwmarkKey(s)) return s.family === 'ipv6' ? `-f ${s.fwmark} -6` : `-f ${s.fwmark}`;
  return `${SERVICE_OPTION[s.protocol]} ${formatHostPort(s.address, s.port)}`;
}

/** ipvsadm's print_sched_flags: sh and mh name their two flags, other schedulers number them. */
function schedFlags(s: Service): string {
  const named = s.scheduler === 'sh' || s.scheduler === 'mh';
  const names = named
    ? [`${s.scheduler}-fallback`, `${s.scheduler}-port`, 'flag-3']
    : ['flag-1', 'flag-2', 'flag-3'];
  const on = [s.flags.sched1, s.flags.sched2, s.flags.sched3];
  return names.filter((_, i) => on[i]).join(',');
}

export function serviceLine(s: Service): string {
  let line = `-A ${serviceSpec(s)} -s ${s.scheduler}`;
  if (s.flags.persistent) {
    line += ` -p ${s.timeout}`;
    if (s.family === 'ipv4' && s.netmask !== 32) line += ` -M ${prefixToIpv4Mask(s.netmask)}`;
    if (s.family === 'ipv6' && s.netmask !== 128) line += ` -M ${s.netmask}`;
  }
  if (s.pe) line += ` --pe ${s.pe}`;
  if (s.flags.onePacket) line += ' -o';
  const flags = schedFlags(s);
  if (flags) line += ` -b ${flags}`;
  return line;
}

/** ipvsadm's fwd_switch: local and bypass print as -g, as ipvsadm does. */
const FORWARD_SWITCH: Record<Dest['forwarding'], string> = {
  nat: '-m',
  dr: '-g',
  tun: '-i',
  local: '-g',
  bypass: '-g',
};

function tunnelOptions(d: Dest): string {
  if (d.forwarding !== 'tun') return '';
  let text = ` --tun-type ${d.tunnelType}`;
  if (d.tunnelType === 'ipip') return text;
  if (d.tunnelType === 'gue') text += ` --tun-port ${d.tunnelPort}`;
  const csum = d.tunnelFlags.remcsum ? 'remcsum' : d.tunnelFlags.csum ? 'csum' : 'nocsum';
  return `${text} --tun-${csum}`;
}

/** One -a line; thresholds follow when set (ipvsadm -Sn drops them, restore needs them). */
export function destLine(s: Service, d: Dest): string {
  const real = formatHostPort(d.address, d.port);
  let line = `-a ${serviceSpec(s)} -r ${real} ${FORWARD_SWITCH[d.forwarding]} -w ${d.weight}`;
  line += tunnelOptions(d);
  if (d.upperThreshold !== 0) line += ` -x ${d.upperThreshold}`;
  if (d.lowerThreshold !== 0) line += ` -y ${d.lowerThreshold}`;
  return line;
}

const AF = { ipv4: 2, ipv6: 10 } as const;
const PROTOCOL = { tcp: 6, udp: 17, sctp: 132 } as const;

/** An address as ipvsadm compares it: 32-bit words in host order (one for IPv4, four for IPv6). */
function words(address: string, family: Family): number[] {
  if (family === 'ipv4')
    return [address.split('.').reduce((acc, part) => acc * 256 + Number(part), 0)];
  const groups = expandIpv6(address);
  return [0, 2, 4, 6].map((i) => (groups[i] as number) * 65536 + (groups[i + 1] as number));
}

/** C's `int r = (uint32)a - (uint32)b`: the difference wrapped to 32 bits, as ipvsadm computes it. */
function cDiff(a: number, b: number): number {
  return (a - b) | 0;
}

function compareAddresses(a: number[], b: number[]): number {
  let r = 0;
  for (let i = 0; r === 0 && i < a.length; i++) r = cDiff(a[i] as number, b[i] ?? 0);
  return r;
}

/** libipvs' ipvs_cmp_services: fwmark, family, protocol, address, port. */
function compareServices(x: Service, y: Service): number {
  const key = (s: Service) =>
    isFwmarkKey(s)
      ? { mark: s.fwmark, protocol: 0, addr: [0], port: 0 }
      : { mark: 0, protocol: PROTOCOL[s.protocol], addr: words(s.address, s.family), port: s.port };
  const [a, b] = [key(x), key(y)];
  return (
    cDiff(a.mark, b.mark) ||
    AF[x.family] - AF[y.family] ||
    a.protocol - b.protocol ||
    compareAddresses(a.addr, b.addr) ||
    a.port - b.port
  );
}

/** libipvs' ipvs_cmp_dests: address (in the first one's family), then port. */
function compareDests(x: Dest, y: Dest): number {
  return (
    compareAddresses(words(x.address, x.family), words(y.address, y.family)) || x.port - y.port
  );
}

/**
 * The whole table, one rule a line, in ipvsadm's order (its comparisons wrap at 32 bits
 * as libipvs' do, so 192.168.x sorts before 10.x there and here).
 */
export function exportIpvsadm(table: IpvsTable): string {
  const lines: string[] = [];
  for (const s of [...table.services].sort(compareServices)) {
    lines.push(serviceLine(s));
    for (const d of [...(s as LiveService).dests].sort(compareDests)) lines.push(destLine(s, d));
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}
