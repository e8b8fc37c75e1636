/**
 * Shell completion scripts for bash, zsh and fish, written from the command tree
 * (tree.ts). The scripts are static: a TAB never starts node, which takes a few hundred
 * milliseconds and more on a busy director.
 */
import type { CommandSpec, OptionSpec, ProgramSpec } from './tree.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

const header = (spec: ProgramSpec, shell: Shell) =>
  `# ${shell} completion for ${spec.name}(8) ${spec.version}, written from its command definitions\n` +
  `# by \`${spec.name} completion ${shell}\`: regenerate it rather than edit it.\n`;

/** Option names as typed: `-c --config`. */
const names = (o: OptionSpec): string[] => [o.short, o.long].filter((n): n is string => !!n);

/** What a positional argument completes to: its choices, or the command names for `help`. */
function argumentWords(spec: ProgramSpec, command: CommandSpec): string[] {
  const choices = command.arguments.flatMap((a) => a.choices);
  if (choices.length) return [...choices];
  return command.name === 'help' ? spec.commands.map((c) => c.name) : [];
}

// ---------------------------------------------------------------------------------------
// bash

function bashValueCase(o: OptionSpec): string | null {
  if (o.value === 'none') return null;
  const pattern = names(o).join('|');
  switch (o.value) {
    case 'path':
    case 'file':
      return `        ${pattern}) _lvsd_files -f; return ;;`;
    case 'dir':
      return `        ${pattern}) _lvsd_files -d; return ;;`;
    case 'choice':
      return `        ${pattern}) COMPREPLY=($(compgen -W '${o.choices.join(' ')}' -- "$cur")); return ;;`;
    default:
      return `        ${pattern}) return ;;`;
  }
}

function bashCommand(spec: ProgramSpec, command: CommandSpec): string {
  const values = command.options.map(bashValueCase).filter((line): line is string => !!line);
  const words = argumentWords(spec, command);
  const options = command.options.flatMap(names).join(' ');
  return [
    `    ${command.name})`,
    ...(values.length ? ['      case $prev in', ...values, '      esac'] : []),
    ...(words.length
      ? [
          `      [[ $cur != -* ]] && COMPREPLY=($(compgen -W '${words.join(' ')}' -- "$cur")) && return`,
        ]
      : []),
    `      COMPREPLY=($(compgen -W '${options}' -- "$cur"))`,
    '      ;;',
  ].join('\n');
}

function bash(spec: ProgramSpec): string {
  const top = [...spec.commands.map((c) => c.name), ...spec.options.flatMap(names)].join(' ');
  return `${header(spec, 'bash')}
_lvsd_files() {
  compopt -o filenames 2>/dev/null
  mapfile -t COMPREPLY < <(compgen "$1" -- "$cur")
}

_lvsd() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  COMPREPLY=()
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W '${top}' -- "$cur"))
    return
  fi
  case \${COMP_WORDS[1]} in
${spec.commands.map((c) => bashCommand(spec, c)).join('\n')}
  esac
}

complete -F _lvsd ${spec.name}
`;
}

// ---------------------------------------------------------------------------------------
// zsh

/** Text inside a single-quoted zsh word, where `[`, `]` and `:` are _arguments syntax. */
const zshText = (text: string) => text.replace(/([[\]:\\])/g, '\\$1').replace(/'/g, "'\\''");

function zshAction(o: OptionSpec): string {
  switch (o.value) {
    case 'path':
    case 'file':
      return '_files';
    case 'dir':
      return '_files -/';
    case 'choice':
      return `(${o.choices.join(' ')})`;
    default:
      return ' ';
  }
}

function zshOption(o: OptionSpec): string {
  const flags = names(o);
  const value = o.value === 'none' ? '' : `:${zshText(o.placeholder ?? 'value')}:${zshAction(o)}`;
  const body = `'[${zshText(o.description)}]${value}'`;
  if (flags.length === 1) return `'${flags[0]}'${body}`;
  return `'(${flags.join(' ')})'{${flags.join(',')}}${body}`;
}

function zshCommand(spec: ProgramSpec, command: CommandSpec): string {
  const words = argumentWords(spec, command);
  const action = words.length ? `(${words.join(' ')})` : ' ';
  // `N:name:action` for a required argument, `N::name:action` for an optional one.
  const positional = command.arguments.map(
    (a, i) => `'${i + 1}:${a.required ? '' : ':'}${zshText(a.name)}:${action}'`,
  );
  // commander's own `help [command]` declares no argument, but completes a command name.
  if (!positional.length && words.length) positional.push(`'1::command:${action}'`);
  const specs = [...command.options.map(zshOption), ...positional];
  return `    (${command.name})\n      _arguments -s -S \\\n        ${specs.join(' \\\n        ')}\n      ;;`;
}

function zsh(spec: ProgramSpec): string {
  const commands = spec.commands.map((c) => `    '${c.name}:${zshText(c.description)}'`);
  return `#compdef ${spec.name}
${header(spec, 'zsh')}
_lvsd() {
  local -a commands
  commands=(
${commands.join('\n')}
  )
  if (( CURRENT == 2 )); then
    if [[ $PREFIX == -* ]]; then
      _arguments ${spec.options.map(zshOption).join(' ')}
    else
      _describe -t commands '${spec.name} command' commands
    fi
    return
  fi
  local command=$words[2]
  shift words
  (( CURRENT-- ))
  case $command in
${spec.commands.map((c) => zshCommand(spec, c)).join('\n')}
  esac
}

if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  _lvsd "$@"
else
  compdef _lvsd ${spec.name}
fi
`;
}

// ---------------------------------------------------------------------------------------
// fish

const fishText = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function fishOption(spec: ProgramSpec, condition: string, o: OptionSpec): string {
  const parts = [`complete -c ${spec.name} -n ${condition}`];
  if (o.short) parts.push(`-s ${o.short.slice(1)}`);
  if (o.long) parts.push(`-l ${o.long.slice(2)}`);
  if (o.value === 'path' || o.value === 'file') parts.push('-r -F');
  else if (o.value === 'dir') parts.push("-x -a '(__fish_complete_directories)'");
  else if (o.value === 'choice') parts.push(`-x -a ${fishText(o.choices.join(' '))}`);
  else if (o.value === 'text') parts.push('-x');
  parts.push(`-d ${fishText(o.description)}`);
  return parts.join(' ');
}

function fishCommand(spec: ProgramSpec, command: CommandSpec): string[] {
  const condition = fishText(`__fish_seen_subcommand_from ${command.name}`);
  const words = argumentWords(spec, command);
  return [
    `complete -c ${spec.name} -n __fish_use_subcommand -a ${command.name} -d ${fishText(command.description)}`,
    ...command.options.map((o) => fishOption(spec, condition, o)),
    ...(words.length
      ? [`complete -c ${spec.name} -n ${condition} -a ${fishText(words.join(' '))}`]
      : []),
  ];
}

function fish(spec: ProgramSpec): string {
  return `${header(spec, 'fish')}
complete -c ${spec.name} -f
${spec.options.map((o) => fishOption(spec, '__fish_use_subcommand', o)).join('\n')}
${spec.commands.flatMap((c) => fishCommand(spec, c)).join('\n')}
`;
}

export function completionScript(spec: ProgramSpec, shell: Shell): string {
  return { bash, zsh, fish }[shell](spec);
}
