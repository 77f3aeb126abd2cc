import type { Command } from 'commander';
import { describeBackoffPolicy, formatDuration, parseDuration, simulateTimeline, type TimelineStep } from '../core/index.ts';
import { flagParser } from './errors.ts';
import { policyOptions, resolvePolicyFlags, type PolicyFlags } from './policy-flags.ts';
import { formatTable } from './table.ts';

interface SimulateOptions extends PolicyFlags {
  readonly runs: number[];
  readonly json?: boolean;
}

export function registerSimulate(program: Command, print: (text: string) => void): void {
  const command = program.command('simulate').description('print the restart timeline a back-off policy gives a crash-looping container');
  for (const option of policyOptions()) command.addOption(option);
  command
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

function parseRuns(value: string): number[] {
  const runs = value.split(',').map((part) => parseDuration(part));
  if (runs.length === 0 || runs.length > 10_000) throw new Error('expected 1 to 10000 durations');
  return runs;
}
