/** A mistake in how the CLI was called: reported without a stack, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A command's way of ending with a specific exit code (the supervised process's) without an error message. */
export class ExitStatus extends Error {
  override readonly name = 'ExitStatus';
  constructor(readonly exitCode: number) {
    super(`exit status ${exitCode}`);
  }
}

/** Wraps a parser so that its error becomes a usage error naming the flag. */
export function flagParser<T>(flag: string, parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (error) {
      throw new UsageError(`${flag}: ${(error as Error).message}`);
    }
  };
}
