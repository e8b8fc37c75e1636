/**
 * lvsd(8), the manual page, in roff (man macros), written from the command tree (tree.ts):
 * the commands and options are the parser's own. Only the sections no definition holds
 * (exit status, signals, files) are prose here.
 */
import type { ArgumentSpec, CommandSpec, OptionSpec, ProgramSpec } from './tree.js';

/** Text safe in roff: backslashes and hyphens escaped, no line starting with a control character. */
export function roff(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/`([^`]+)`/g, '\\fB$1\\fR')
    .replace(/^([.'])/gm, '\\&$1');
}

function optionItem(option: OptionSpec): string {
  const flags = [option.short, option.long]
    .filter((n): n is string => !!n)
    .map((n) => `\\fB${roff(n)}\\fR`)
    .join(', ');
  const value = option.placeholder ? ` \\fI${roff(option.placeholder)}\\fR` : '';
  const extra = [
    option.choices.length ? `one of: ${option.choices.join(', ')}` : '',
    option.defaultValue !== undefined ? `default: ${option.defaultValue}` : '',
  ].filter(Boolean);
  const tail = extra.length ? ` (${extra.join('; ')})` : '';
  return `.TP\n${flags}${value}\n${roff(option.description)}${roff(tail)}`;
}

function argumentItem(argument: ArgumentSpec): string {
  const choices = argument.choices.length ? ` (one of: ${argument.choices.join(', ')})` : '';
  return `.TP\n\\fI${roff(argument.name)}\\fR\n${roff(argument.description + choices)}`;
}

function commandSection(program: ProgramSpec, command: CommandSpec): string {
  const options = command.options.filter((o) => o.long !== '--help');
  return [
    `.SS "${roff(`${program.name} ${command.usage}`)}"`,
    roff(`${command.description.charAt(0).toUpperCase()}${command.description.slice(1)}.`),
    ...command.arguments.map(argumentItem),
    ...options.map(optionItem),
  ].join('\n');
}

const EXIT_STATUS = `.TP
.B 0
Success; for \\fBplan\\fR and \\fBapply \\-\\-dry\\-run\\fR, nothing to change.
.TP
.B 1
An error: an invalid configuration, a refused kernel write, the daemon unreachable;
for \\fBrealserver \\-\\-check\\fR, something is missing.
.TP
.B 2
A usage error; for \\fBplan\\fR and \\fBapply \\-\\-dry\\-run\\fR, changes are pending.
.TP
.B 3
\\fBstatus\\fR: the daemon's last configuration reload was refused.`;

const SIGNALS = `.TP
.B SIGHUP
\\fBlvsd run\\fR reloads its configuration (\\fBsystemctl reload lvsd\\fR); an invalid one is
logged and ignored, the last good one stays in force.
.TP
.BR SIGTERM ", " SIGINT
Stop: the checks end, a pass in flight finishes, and the IPVS table stays as it is, so
traffic keeps flowing while lvsd restarts.`;

const FILES = `.TP
.I /etc/lvsd/
The configuration: a file, or a directory of *.yaml and *.yml files.
.TP
.I /run/lvsd/state.json
What lvsd owns and what is draining; kept across restarts of the unit.
.TP
.I /lib/systemd/system/lvsd.service
The systemd unit (\\fBlvsd systemd\\-unit\\fR prints one for any install location).`;

export function manPage(program: ProgramSpec): string {
  const commands = program.commands.filter((c) => c.name !== 'help');
  return `.\\" lvsd(8), written from lvsd's command definitions: regenerate it (npm run packaging),
.\\" do not edit it.
.TH LVSD 8 "" "lvsd ${program.version}" "System Manager's Manual"
.SH NAME
lvsd \\- declarative reconciler for Linux IPVS (LVS) with health checks
.SH SYNOPSIS
.B ${program.name}
.I command
.RI [ options ]
.br
.B ${program.name}
.RB [ \\-V | \\-\\-version | \\-h | \\-\\-help ]
.SH DESCRIPTION
${roff(program.description)}
The configuration (a YAML file, or a directory of them) declares virtual services and their
real servers; lvsd validates it, reads the live IPVS table from the kernel, computes the
smallest set of changes and applies them.
\\fBlvsd run\\fR keeps the table converged while health checks take failing real servers
out and put them back.
.SH COMMANDS
${commands.map((c) => commandSection(program, c)).join('\n')}
.SH EXIT STATUS
${EXIT_STATUS}
.SH SIGNALS
${SIGNALS}
.SH FILES
${FILES}
.SH SEE ALSO
.BR ipvsadm (8),
.BR keepalived (8),
.BR systemctl (1),
.BR systemd.service (5)
.PP
/usr/share/doc/lvsd/ (config.md, daemon.md, health.md, forwarding.md)
`;
}
