/** Where a command writes: the CLI's stdout and stderr, or a test's capture. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}
