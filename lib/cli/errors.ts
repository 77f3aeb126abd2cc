/** A mistake in how the CLI was called: reported without a stack, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
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
