import { Command, CommanderError } from 'commander';
import { UsageError } from './errors.ts';
import { registerLocal } from './local.ts';
import { registerSimulate } from './simulate.ts';

/** Exit code for a mistake in how the CLI was called (bad flag, unknown command). */
export const USAGE_EXIT_CODE = 2;

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

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
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}`);
      return USAGE_EXIT_CODE;
    }
    io.err(`error: ${(error as Error).message ?? String(error)}`);
    return 1;
  }
}
