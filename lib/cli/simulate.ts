import type { Command } from 'commander';
import {
  BACKOFF_PRESET_NAMES,
  describeBackoffPolicy,
  formatDuration,
  parseDuration,
  PolicyError,
  resolveBackoffPolicy,
  simulateTimeline,
  type BackoffPresetName,
  type TimelineStep,
} from '../core/index.ts';
import { flagParser, UsageError } from './errors.ts';
import { formatTable } from './table.ts';

interface SimulateOptions {
  readonly policy: BackoffPresetName;
  readonly initialBackoff?: number;
  readonly maxBackoff?: number;
  readonly resetAfter?: number;
  readonly jitter?: number;
  readonly runs: number[];
  readonly json?: boolean;
}

export function registerSimulate(program: Command, print: (text: string) => void): void {
  program
    .command('simulate')
    .description('print the restart timeline a back-off policy gives a crash-looping container')
    .option('--policy <preset>', `back-off preset: ${BACKOFF_PRESET_NAMES.join(' | ')}`, flagParser('--policy', parsePreset), 'kubelet')
    .option('--initial-backoff <duration>', 'first back-off, e.g. 10s', flagParser('--initial-backoff', parseDuration))
    .option('--max-backoff <duration>', 'back-off cap, e.g. 5m', flagParser('--max-backoff', parseDuration))
    .option('--reset-after <duration>', 'a run longer than this resets the back-off (default 2 × max)', flagParser('--reset-after', parseDuration))
    .option('--jitter <factor>', 'jitter factor in [0, 1] (default 0, as kubelet)', flagParser('--jitter', parseFactor))
    .option('--runs <durations>', 'how long each run lasts before it crashes, comma-separated', flagParser('--runs', parseRuns), Array(10).fill(1_000))
    .option('--json', 'print JSON: [{ finishedAt, restartAt, delayMs, backoffMs }], ms from the first start')
    .action((options: SimulateOptions) => {
      const policy = resolvePolicyFlags(options);
      const steps = simulateTimeline(policy, options.runs, options.jitter ? Math.random : undefined);
      if (options.json) {
        print(JSON.stringify(steps.map(({ finishedAt, restartAt, delayMs, backoffMs }) => ({ finishedAt, restartAt, delayMs, backoffMs })), null, 2));
        return;
      }
      print(`policy ${options.policy}: ${describeBackoffPolicy(policy)}\n`);
      print(renderTimeline(steps));
    });
}

export function renderTimeline(steps: readonly TimelineStep[]): string {
  return formatTable(
    ['RESTART', 'EXIT AT', 'DELAY', 'RESTART AT', 'BACKOFF AFTER', 'STATE'],
    steps.map((step) => [
      `#${step.restart}`,
      `+${formatDuration(step.finishedAt)}`,
      formatDuration(step.delayMs),
      `+${formatDuration(step.restartAt)}`,
      formatDuration(step.backoffMs),
      step.state,
    ]),
  );
}

function resolvePolicyFlags(options: SimulateOptions) {
  try {
    return resolveBackoffPolicy({
      preset: options.policy,
      ...(options.initialBackoff !== undefined ? { initial: options.initialBackoff } : {}),
      ...(options.maxBackoff !== undefined ? { max: options.maxBackoff } : {}),
      ...(options.resetAfter !== undefined ? { resetAfter: options.resetAfter } : {}),
      ...(options.jitter !== undefined ? { jitterFactor: options.jitter } : {}),
    });
  } catch (error) {
    if (error instanceof PolicyError) {
      const flag = POLICY_FIELD_FLAGS[error.field] ?? error.field;
      throw new UsageError(`${flag}: ${error.message.replace(`${error.field}: `, '')}`);
    }
    throw error;
  }
}

/** The flag that sets each policy field, for error messages. */
const POLICY_FIELD_FLAGS: Record<string, string> = {
  preset: '--policy',
  initial: '--initial-backoff',
  max: '--max-backoff',
  resetAfter: '--reset-after',
  jitterFactor: '--jitter',
};

function parsePreset(value: string): BackoffPresetName {
  if (!(BACKOFF_PRESET_NAMES as string[]).includes(value)) {
    throw new Error(`unknown preset ${JSON.stringify(value)}; use one of ${BACKOFF_PRESET_NAMES.join(', ')}`);
  }
  return value as BackoffPresetName;
}

function parseFactor(value: string): number {
  const factor = Number(value);
  if (value.trim() === '' || !Number.isFinite(factor) || factor < 0 || factor > 1) {
    throw new Error(`expected a number between 0 and 1, got ${JSON.stringify(value)}`);
  }
  return factor;
}

function parseRuns(value: string): number[] {
  const runs = value.split(',').map((part) => parseDuration(part));
  if (runs.length === 0 || runs.length > 10_000) throw new Error('expected 1 to 10000 durations');
  return runs;
}
