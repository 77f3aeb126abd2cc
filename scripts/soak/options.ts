/**
 * The soak tool's flags. Parsed with commander, as the CLI does: a bad flag is
 * a `UsageError` naming it (exit code 2), never a stack trace.
 */
import { Command, CommanderError, Option } from 'commander';
import { flagParser, UsageError } from '../../lib/cli/errors.ts';
import { formatDuration, parseDuration } from '../../lib/core/index.ts';

export interface SoakOptions {
  /** Simulated containers, each crash-looping for the whole run. */
  readonly containers: number;
  /** How long containers keep crashing; then posting stops and the run drains. */
  readonly durationMs: number;
  /** Mean interval between `kill -9`s of the runtime (uniform in [0.5, 1.5] × this); none when absent. */
  readonly killEveryMs?: number;
  /** A running runtime to soak instead of starting one. */
  readonly endpoint?: string;
  /** Bearer token for `endpoint`. */
  readonly token?: string;
  readonly json: boolean;
  /** Policy of the runtime the tool starts. */
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly syncPeriodMs: number;
  /** A restarted container runs a uniform random time in [0, runMs] before it crashes again. */
  readonly runMs: number;
  /** Most HTTP requests posting exits at the same time. */
  readonly concurrency: number;
  /** Most exit events in one request (1: one event per request). */
  readonly batch: number;
  /**
   * How long the drain waits without progress before it counts what is still
   * missing. By default: long enough for the longest back-off, a lost timer
   * (recovery grace + sync period), an orphaned dispatch claim and a runtime
   * start, with a floor of 20 s.
   */
  readonly drainMs?: number;
  /** Where the started runtime keeps its data (kept afterwards); a fresh temporary directory, removed afterwards, when absent. */
  readonly dataDir?: string;
}

export const SOAK_DEFAULTS = {
  containers: 100,
  durationMs: 30_000,
  initialBackoffMs: 100,
  maxBackoffMs: 800,
  syncPeriodMs: 1_000,
  runMs: 50,
  concurrency: 16,
  batch: 20,
} as const;

export interface ParsedArgs {
  /** Absent when the user asked for --help (already printed). */
  readonly options?: SoakOptions;
}

interface RawFlags {
  readonly containers: number;
  readonly duration: number;
  readonly killEvery?: number;
  readonly endpoint?: string;
  readonly token?: string;
  readonly json?: boolean;
  readonly initialBackoff: number;
  readonly maxBackoff: number;
  readonly syncPeriod: number;
  readonly run: number;
  readonly concurrency: number;
  readonly batch: number;
  readonly drain?: number;
  readonly dataDir?: string;
}

/** Parses the soak tool's arguments (without `node` and the script). Throws `UsageError`. */
export function parseSoakArgs(argv: readonly string[], print: (text: string) => void = (text) => process.stdout.write(`${text}\n`)): ParsedArgs {
  const program = new Command('soak')
    .description('crash-loop many simulated containers against the local runtime and check that every restart arrives exactly once, never early')
    .exitOverride()
    .configureOutput({ writeOut: (text) => print(text.trimEnd()), writeErr: () => undefined })
    .allowExcessArguments(true)
    .addOption(new Option('--containers <n>', 'simulated containers').default(SOAK_DEFAULTS.containers).argParser(flagParser('--containers', integerIn(1, 100_000))))
    .addOption(new Option('--duration <duration>', 'how long containers keep crashing, e.g. 120s').default(SOAK_DEFAULTS.durationMs, formatDuration(SOAK_DEFAULTS.durationMs)).argParser(flagParser('--duration', durationAtLeast(1))))
    .addOption(new Option('--kill-every <duration>', 'kill -9 the runtime at random moments about this far apart (uniform in [0.5, 1.5] × it) and start it again on the same data').argParser(flagParser('--kill-every', durationAtLeast(100))))
    .addOption(new Option('--endpoint <url>', 'soak a running runtime instead of starting one (no --kill-every)').argParser(flagParser('--endpoint', httpUrl)))
    .addOption(new Option('--token <token>', 'bearer token for --endpoint'))
    .addOption(new Option('--json', 'print one JSON object instead of a summary'))
    .addOption(new Option('--initial-backoff <duration>', 'first back-off of the started runtime').default(SOAK_DEFAULTS.initialBackoffMs, formatDuration(SOAK_DEFAULTS.initialBackoffMs)).argParser(flagParser('--initial-backoff', durationAtLeast(1))))
    .addOption(new Option('--max-backoff <duration>', 'back-off cap of the started runtime').default(SOAK_DEFAULTS.maxBackoffMs, formatDuration(SOAK_DEFAULTS.maxBackoffMs)).argParser(flagParser('--max-backoff', durationAtLeast(1))))
    .addOption(new Option('--sync-period <duration>', 'sync period of the started runtime').default(SOAK_DEFAULTS.syncPeriodMs, formatDuration(SOAK_DEFAULTS.syncPeriodMs)).argParser(flagParser('--sync-period', durationAtLeast(1))))
    .addOption(new Option('--run <duration>', 'a restarted container runs up to this long before it crashes again').default(SOAK_DEFAULTS.runMs, formatDuration(SOAK_DEFAULTS.runMs)).argParser(flagParser('--run', durationAtLeast(0))))
    .addOption(new Option('--concurrency <n>', 'most exit-posting requests in flight').default(SOAK_DEFAULTS.concurrency).argParser(flagParser('--concurrency', integerIn(1, 1_024))))
    .addOption(new Option('--batch <n>', 'most exit events per request (1: single posts)').default(SOAK_DEFAULTS.batch).argParser(flagParser('--batch', integerIn(1, 100))))
    .addOption(new Option('--drain <duration>', 'after the run, how long to wait without progress for restarts still due (default: enough for the longest back-off, a lost timer, an orphaned dispatch and a runtime start; at least 20s)').argParser(flagParser('--drain', durationAtLeast(1))))
    .addOption(new Option('--data-dir <dir>', "the started runtime's data directory, kept afterwards (default: a temporary one, removed)"));

  try {
    program.parse(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return {};
      throw new UsageError(error.message.replace(/^error: /, ''));
    }
    throw error;
  }
  const [stray] = program.args;
  if (stray !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(stray)}: the soak takes flags only`);
  const flags = program.opts<RawFlags>();
  if (flags.endpoint !== undefined && flags.killEvery !== undefined) {
    throw new UsageError('--kill-every needs a runtime the tool starts itself; it cannot be combined with --endpoint');
  }
  if (flags.endpoint !== undefined && flags.dataDir !== undefined) {
    throw new UsageError('--data-dir is for a runtime the tool starts itself; it cannot be combined with --endpoint');
  }
  if (flags.token !== undefined && flags.endpoint === undefined) {
    throw new UsageError('--token is for --endpoint');
  }
  if (flags.initialBackoff > flags.maxBackoff) {
    throw new UsageError(`--initial-backoff (${formatDuration(flags.initialBackoff)}) must not exceed --max-backoff (${formatDuration(flags.maxBackoff)})`);
  }
  return {
    options: {
      containers: flags.containers,
      durationMs: flags.duration,
      ...(flags.killEvery !== undefined ? { killEveryMs: flags.killEvery } : {}),
      ...(flags.endpoint !== undefined ? { endpoint: flags.endpoint } : {}),
      ...(flags.token !== undefined ? { token: flags.token } : {}),
      json: flags.json === true,
      initialBackoffMs: flags.initialBackoff,
      maxBackoffMs: flags.maxBackoff,
      syncPeriodMs: flags.syncPeriod,
      runMs: flags.run,
      concurrency: flags.concurrency,
      batch: flags.batch,
      ...(flags.drain !== undefined ? { drainMs: flags.drain } : {}),
      ...(flags.dataDir !== undefined ? { dataDir: flags.dataDir } : {}),
    },
  };
}

function integerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (!/^\d+$/.test(value.trim()) || number < min || number > max) throw new Error(`expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    return number;
  };
}

function durationAtLeast(minMs: number): (value: string) => number {
  return (value) => {
    const ms = parseDuration(value);
    if (ms < minMs) throw new Error(`must be at least ${formatDuration(minMs)}, got ${JSON.stringify(value)}`);
    return ms;
  };
}

function httpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`expected an http(s) URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`expected an http(s) URL, got ${JSON.stringify(value)}`);
  return value.replace(/\/+$/, '');
}
