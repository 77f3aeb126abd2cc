import { Command, CommanderError } from 'commander';
import { ExitStatus, UsageError } from './errors.ts';
import type { CliIo } from './io.ts';
import { registerEvents } from './events.ts';
import { registerExit } from './exit.ts';
import { registerLocal } from './local.ts';
import { registerSimulate } from './simulate.ts';
import { registerStatus } from './status.ts';
import { registerSupervise } from './supervise.ts';

/** Exit code for a mistake in how the CLI was called (bad flag, unknown command). */
export const USAGE_EXIT_CODE = 2;

const defaultIo: CliIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

export function buildProgram(io: CliIo = defaultIo): Command {
  const program = new Command('restart-scheduler')
    .description('kubelet-exact CrashLoopBackOff restarts for any workload')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (text) => io.out(text.trimEnd()), writeErr: (text) => io.err(text.trimEnd()) })
    .exitOverride();
  registerLocal(program, io.out);
  registerSimulate(program, io.out);
  // Countdowns and progress rewrite one line in place, only on a real terminal.
  const live = io === defaultIo && process.stderr.isTTY ? process.stderr : undefined;
  registerExit(program, io);
  registerStatus(program, io);
  registerEvents(program, io, live);
  registerSupervise(program, io, live);
  return program;
}

/** Runs the CLI and resolves to its exit code. */
export async function runCli(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are "errors" to commander but successes to the user.
      if (error.exitCode === 0) return 0;
      return USAGE_EXIT_CODE;
    }
    // A command that ends with a specific code (supervise: its process's) and has said why already.
    if (error instanceof ExitStatus) return error.exitCode;
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}`);
      return USAGE_EXIT_CODE;
    }
    io.err(`error: ${(error as Error).message ?? String(error)}`);
    return 1;
  }
}
