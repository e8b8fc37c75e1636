/**
 * lvsd's command line: parses arguments and hands each subcommand to its module in
 * src/cli/commands (the tree is in program.ts). Commands return an exit code; nothing here
 * knows what they do. Modules that need the kernel (netlink) load it lazily, so `validate`
 * and `plan --state` run on any OS.
 */
import { CommanderError } from 'commander';
import type { CommandModule } from './command.js';
import { commandModules, newProgram, registerModules } from './program.js';

/**
 * The modules to load: only the named command's when there is one (loading all of them
 * costs seconds on a slow machine, and `validate` must not pull in the daemon), every
 * module for --help, a typo or no command at all.
 */
function modulesFor(argv: string[]): Array<() => Promise<CommandModule>> {
  const name = argv[2];
  const named =
    name !== undefined && Object.hasOwn(commandModules, name) ? commandModules[name] : undefined;
  return named ? [named] : Object.values(commandModules);
}

export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = await registerModules(newProgram(), modulesFor(argv), (code) => {
    exitCode = code;
  });
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
