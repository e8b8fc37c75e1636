/**
 * lvsd's command line: parses arguments and hands each subcommand to its module in
 * src/cli/commands. Commands return an exit code; nothing here knows what they do.
 * Modules that need the kernel (netlink) load it lazily, so `validate` and `plan --state`
 * run on any OS.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import type { CommandModule } from './command.js';

/** Each subcommand registers itself; keep this list in the order `--help` shows them. */
const commandModules: Record<string, () => Promise<CommandModule>> = {
  validate: () => import('./commands/validate.js').then((m) => m.validateCommand),
  plan: () => import('./commands/plan.js').then((m) => m.planCommand),
  apply: () => import('./commands/apply.js').then((m) => m.applyCommand),
  ls: () => import('./commands/ls.js').then((m) => m.lsCommand),
  realserver: () => import('./commands/realserver.js').then((m) => m.realserverCommand),
  run: () => import('./commands/run.js').then((m) => m.runCommand),
  status: () => import('./commands/status.js').then((m) => m.statusCommand),
  import: () => import('./commands/import.js').then((m) => m.importCommand),
  export: () => import('./commands/export.js').then((m) => m.exportCommand),
};

/**
 * The modules to load: only the named command's when there is one (loading all of them
 * costs seconds on a slow machine, and `validate` must not pull in the daemon), every
 * module for --help, a typo or no command at all.
 */
function modulesFor(argv: string[]): Array<() => Promise<CommandModule>> {
  const named = argv[2] === undefined ? undefined : commandModules[argv[2]];
  return named ? [named] : Object.values(commandModules);
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('lvsd')
    .description(
      'Declarative reconciler for Linux IPVS: validate, plan and apply one YAML file over generic netlink.',
    )
    .version(packageVersion())
    .showHelpAfterError()
    .exitOverride();
  let exitCode = 0;
  for (const load of modulesFor(argv)) {
    const module = await load();
    module.register(program, (code) => {
      exitCode = code;
    });
  }
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; usage errors exit 2, as validate's contract says.
      return err.exitCode === 0 ? 0 : 2;
    }
    throw err;
  }
  return exitCode;
}
