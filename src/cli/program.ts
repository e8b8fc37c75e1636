/**
 * The command tree: which modules make up lvsd's command line and how they are put
 * together. main.ts parses with it; `lvsd completion` and the man page (lvsd(8)) walk the
 * same tree, so what they list is what the parser accepts.
 */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { CommandModule } from './command.js';

/** Each subcommand registers itself; keep this list in the order `--help` shows them. */
export const commandModules: Record<string, () => Promise<CommandModule>> = {
  validate: () => import('./commands/validate.js').then((m) => m.validateCommand),
  plan: () => import('./commands/plan.js').then((m) => m.planCommand),
  apply: () => import('./commands/apply.js').then((m) => m.applyCommand),
  ls: () => import('./commands/ls.js').then((m) => m.lsCommand),
  realserver: () => import('./commands/realserver.js').then((m) => m.realserverCommand),
  run: () => import('./commands/run.js').then((m) => m.runCommand),
  status: () => import('./commands/status.js').then((m) => m.statusCommand),
  drain: () => import('./commands/drain.js').then((m) => m.drainCommand),
  undrain: () => import('./commands/drain.js').then((m) => m.undrainCommand),
  import: () => import('./commands/import.js').then((m) => m.importCommand),
  export: () => import('./commands/export.js').then((m) => m.exportCommand),
  'systemd-unit': () => import('./commands/systemd-unit.js').then((m) => m.systemdUnitCommand),
  completion: () => import('./commands/completion.js').then((m) => m.completionCommand),
};

export const PROGRAM_DESCRIPTION =
  'Declarative reconciler for Linux IPVS: validate, plan and apply one YAML file over generic netlink.';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** The program with no subcommands yet. */
export function newProgram(): Command {
  return new Command('lvsd')
    .description(PROGRAM_DESCRIPTION)
    .version(packageVersion())
    .showHelpAfterError()
    .exitOverride();
}

/** Adds the given modules' commands to program, in the order given. */
export async function registerModules(
  program: Command,
  loaders: ReadonlyArray<() => Promise<CommandModule>>,
  setExitCode: (code: number) => void,
): Promise<Command> {
  for (const load of loaders) (await load()).register(program, setExitCode);
  return program;
}

/** Every command, for the tools that describe the whole tree (completion, man page). */
export function fullProgram(): Promise<Command> {
  return registerModules(newProgram(), Object.values(commandModules), () => undefined);
}
