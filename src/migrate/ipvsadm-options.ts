/**
 * ipvsadm's command line, read as ipvsadm reads it (ipvsadm.c's popt table): long and
 * short options, short ones bundled (-Sn) or with their value attached (-srr), --opt=value,
 * and -p whose timeout is optional. The result is the command and its options by long
 * name; what they mean is ipvsadm.ts's business.
 */

export type Command =
  | 'add-service'
  | 'edit-service'
  | 'delete-service'
  | 'add-server'
  | 'edit-server'
  | 'delete-server'
  | 'clear'
  | 'set'
  | 'start-daemon'
  | 'stop-daemon'
  | 'list'
  | 'zero'
  | 'save'
  | 'restore'
  | 'help'
  | 'version';

type Arg = 'none' | 'required' | 'optional';

interface Spec {
  long: string;
  short?: string;
  arg: Arg;
  command?: true;
}

const SPECS: Spec[] = [
  { long: 'add-service', short: 'A', arg: 'none', command: true },
  { long: 'edit-service', short: 'E', arg: 'none', command: true },
  { long: 'delete-service', short: 'D', arg: 'none', command: true },
  { long: 'clear', short: 'C', arg: 'none', command: true },
  { long: 'list', short: 'L', arg: 'none', command: true },
  { long: 'list', short: 'l', arg: 'none', command: true },
  { long: 'zero', short: 'Z', arg: 'none', command: true },
  { long: 'add-server', short: 'a', arg: 'none', command: true },
  { long: 'edit-server', short: 'e', arg: 'none', command: true },
  { long: 'delete-server', short: 'd', arg: 'none', command: true },
  { long: 'set', arg: 'none', command: true },
  { long: 'help', short: 'h', arg: 'none', command: true },
  { long: 'version', short: 'v', arg: 'none', command: true },
  { long: 'restore', short: 'R', arg: 'none', command: true },
  { long: 'save', short: 'S', arg: 'none', command: true },
  { long: 'start-daemon', arg: 'required', command: true },
  { long: 'stop-daemon', arg: 'required', command: true },
  { long: 'tcp-service', short: 't', arg: 'required' },
  { long: 'udp-service', short: 'u', arg: 'required' },
  { long: 'sctp-service', arg: 'required' },
  { long: 'fwmark-service', short: 'f', arg: 'required' },
  { long: 'scheduler', short: 's', arg: 'required' },
  { long: 'persistent', short: 'p', arg: 'optional' },
  { long: 'netmask', short: 'M', arg: 'required' },
  { long: 'real-server', short: 'r', arg: 'required' },
  { long: 'masquerading', short: 'm', arg: 'none' },
  { long: 'ipip', short: 'i', arg: 'none' },
  { long: 'gatewaying', short: 'g', arg: 'none' },
  { long: 'weight', short: 'w', arg: 'required' },
  { long: 'u-threshold', short: 'x', arg: 'required' },
  { long: 'l-threshold', short: 'y', arg: 'required' },
  { long: 'numeric', short: 'n', arg: 'none' },
  { long: 'connection', short: 'c', arg: 'none' },
  { long: 'mcast-interface', arg: 'required' },
  { long: 'syncid', arg: 'required' },
  { long: 'timeout', arg: 'none' },
  { long: 'daemon', arg: 'none' },
  { long: 'stats', arg: 'none' },
  { long: 'rate', arg: 'none' },
  { long: 'thresholds', arg: 'none' },
  { long: 'persistent-conn', arg: 'none' },
  { long: 'nosort', arg: 'none' },
  { long: 'sort', arg: 'none' },
  { long: 'exact', short: 'X', arg: 'none' },
  { long: 'ipv6', short: '6', arg: 'none' },
  { long: 'ops', short: 'o', arg: 'none' },
  { long: 'pe', arg: 'required' },
  { long: 'sched-flags', short: 'b', arg: 'required' },
  { long: 'mcast-group', arg: 'required' },
  { long: 'mcast-port', arg: 'required' },
  { long: 'mcast-ttl', arg: 'required' },
  { long: 'sync-maxlen', arg: 'required' },
  { long: 'tun-info', arg: 'none' },
  { long: 'tun-type', arg: 'required' },
  { long: 'tun-port', arg: 'required' },
  { long: 'tun-nocsum', arg: 'none' },
  { long: 'tun-csum', arg: 'none' },
  { long: 'tun-remcsum', arg: 'none' },
];

const BY_LONG = new Map(SPECS.map((s) => [s.long, s]));
const BY_SHORT = new Map(SPECS.filter((s) => s.short).map((s) => [s.short as string, s]));

export interface ParsedArgs {
  command: Command;
  /** Option values by long name; true for options without a value. In order of appearance. */
  options: Map<string, string | true>;
  /** Words that are no option (the three timeouts of --set). */
  positional: string[];
}

class Reader {
  private readonly options = new Map<string, string | true>();
  private readonly positional: string[] = [];
  private command: Command | null = null;
  private i = 0;
  constructor(private readonly argv: readonly string[]) {}

  parse(): ParsedArgs {
    while (this.i < this.argv.length) {
      const word = this.argv[this.i++] as string;
      if (word.startsWith('--') && word.length > 2) this.long(word.slice(2));
      else if (word.startsWith('-') && word.length > 1) this.shorts(word.slice(1));
      else this.positional.push(word);
    }
    if (!this.command)
      throw new Error('no command: expected -A, -E, -D, -a, -e, -d, -C, --set, ...');
    return { command: this.command, options: this.options, positional: this.positional };
  }

  private long(text: string): void {
    const eq = text.indexOf('=');
    const name = eq < 0 ? text : text.slice(0, eq);
    const spec = BY_LONG.get(name);
    if (!spec) throw new Error(`unknown option --${name}`);
    if (eq >= 0 && spec.arg === 'none') throw new Error(`--${name} takes no value`);
    this.take(spec, eq >= 0 ? text.slice(eq + 1) : null);
  }

  private shorts(cluster: string): void {
    for (let k = 0; k < cluster.length; k++) {
      const spec = BY_SHORT.get(cluster[k] as string);
      if (!spec) throw new Error(`unknown option -${cluster[k]}`);
      if (spec.arg !== 'none') {
        const rest = cluster.slice(k + 1);
        this.take(spec, rest === '' ? null : rest);
        return;
      }
      this.take(spec, null);
    }
  }

  private take(spec: Spec, attached: string | null): void {
    let value: string | true = true;
    if (spec.arg !== 'none') {
      const next = this.argv[this.i];
      if (attached !== null) value = attached;
      else if (spec.arg === 'required') {
        if (next === undefined) throw new Error(`--${spec.long} needs a value`);
        value = next;
        this.i++;
      } else if (next !== undefined && !next.startsWith('-')) {
        // popt's optional argument: the next word unless it is an option.
        value = next;
        this.i++;
      }
    }
    if (spec.command) this.setCommand(spec, value);
    else this.options.set(spec.long, value);
  }

  private setCommand(spec: Spec, value: string | true): void {
    const command = spec.long as Command;
    if (this.command && this.command !== command)
      throw new Error(`two commands in one line: --${this.command} and --${spec.long}`);
    this.command = command;
    if (value !== true) this.options.set(spec.long, value);
  }
}

/** Parses one ipvsadm command's arguments (without "ipvsadm" itself). Throws with the reason. */
export function parseIpvsadmArgs(argv: readonly string[]): ParsedArgs {
  return new Reader(argv).parse();
}
