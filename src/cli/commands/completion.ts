/**
 * `lvsd completion bash|zsh|fish`: prints the shell's completion script, written from the
 * command definitions (every command and option the parser knows).
 */
import { Argument, type Command } from 'commander';
import { completionScript, SHELLS, type Shell } from '../completion.js';
import type { CommandModule } from '../command.js';
import { describeProgram } from '../tree.js';

const INSTALL = `
Install (the Debian package does this already):
  bash: lvsd completion bash > /etc/bash_completion.d/lvsd
  zsh:  lvsd completion zsh > "\${fpath[1]}/_lvsd"   (or: source <(lvsd completion zsh))
  fish: lvsd completion fish > ~/.config/fish/completions/lvsd.fish`;

export async function printCompletion(
  shell: Shell,
  write: (text: string) => void = (text) => process.stdout.write(text),
): Promise<number> {
  // Loaded here: the whole tree is needed, and only when a script is asked for.
  const { fullProgram } = await import('../program.js');
  write(completionScript(describeProgram(await fullProgram()), shell));
  return 0;
}

export const completionCommand: CommandModule = {
  register(program: Command, setExitCode) {
    program
      .command('completion')
      .description('print the completion script for bash, zsh or fish')
      .addArgument(new Argument('<shell>', 'the shell').choices(SHELLS))
      .addHelpText('after', INSTALL)
      .action(async (shell: Shell) => setExitCode(await printCompletion(shell)));
  },
};
