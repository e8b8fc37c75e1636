import type { Command } from 'commander';

/** A subcommand module: adds itself to the program and reports its exit code through setExitCode. */
export interface CommandModule {
  register(program: Command, setExitCode: (code: number) => void): void;
}
