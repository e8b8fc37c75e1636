/**
 * lvsd's commands and options as plain data, read from the commander definitions: what
 * the shell completions and the man page are written from, so neither keeps a list of its
 * own.
 */
import type { Command, Option } from 'commander';

/** What an option's value is, from its placeholder: `<path>` a file or directory, ... */
export type ValueKind = 'none' | 'path' | 'file' | 'dir' | 'choice' | 'text';

export interface OptionSpec {
  /** As written in the definition: `-c, --config <path>`. */
  flags: string;
  /** `--config`; options without a long name have none. */
  long?: string;
  /** `-c`. */
  short?: string;
  description: string;
  /** The placeholder without its brackets (`path`), when the option takes a value. */
  placeholder?: string;
  value: ValueKind;
  choices: readonly string[];
  /** The default as --help shows it, when there is one worth showing. */
  defaultValue?: string;
}

export interface ArgumentSpec {
  name: string;
  description: string;
  required: boolean;
  choices: readonly string[];
}

export interface CommandSpec {
  name: string;
  description: string;
  /** `validate [options]`, `completion [options] <shell>`: the usage line after `lvsd`. */
  usage: string;
  arguments: ArgumentSpec[];
  options: OptionSpec[];
}

export interface ProgramSpec {
  name: string;
  description: string;
  version: string;
  /** The program's own options (--version, --help). */
  options: OptionSpec[];
  commands: CommandSpec[];
}

const PLACEHOLDER = /[<[]([^>\]]+)[>\]]/;

/** Placeholders name what a value is; files end in an extension (`<snapshot.json>`). */
function valueKind(placeholder: string | undefined, choices: readonly string[]): ValueKind {
  if (placeholder === undefined) return 'none';
  if (choices.length) return 'choice';
  if (placeholder === 'path') return 'path';
  if (placeholder === 'dir') return 'dir';
  if (placeholder === 'file' || /\.[a-z]+$/.test(placeholder)) return 'file';
  return 'text';
}

function optionSpec(option: Option): OptionSpec {
  const placeholder = PLACEHOLDER.exec(option.flags)?.[1];
  const choices = option.argChoices ?? [];
  const shown = option.defaultValue;
  return {
    flags: option.flags,
    ...(option.long ? { long: option.long } : {}),
    ...(option.short ? { short: option.short } : {}),
    description: option.description,
    ...(placeholder !== undefined ? { placeholder } : {}),
    value: valueKind(placeholder, choices),
    choices,
    ...(typeof shown === 'string' && placeholder !== undefined ? { defaultValue: shown } : {}),
  };
}

function commandSpec(command: Command): CommandSpec {
  const help = command.createHelp();
  return {
    name: command.name(),
    description: command.description(),
    usage: `${command.name()} ${command.usage()}`,
    arguments: help.visibleArguments(command).map((argument) => ({
      name: argument.name(),
      description: argument.description,
      required: argument.required,
      choices: argument.argChoices ?? [],
    })),
    options: help.visibleOptions(command).map(optionSpec),
  };
}

export function describeProgram(program: Command): ProgramSpec {
  const help = program.createHelp();
  return {
    name: program.name(),
    description: program.description(),
    version: program.version() ?? '',
    options: help.visibleOptions(program).map(optionSpec),
    commands: help.visibleCommands(program).map(commandSpec),
  };
}
