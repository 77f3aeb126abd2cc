/**
 * One container's crash loop as the console charts it, read from its event
 * records: each exit, the back-off it waited, and the restart that ended the
 * wait. No DOM here (it is unit-tested in Node).
 */
import type { EventRecord } from '../core/model.ts';

/** One exit and what followed it. Instants are epoch ms. */
export interface TimelineStep {
  readonly exitAt: number;
  readonly exitCode: number | undefined;
  /** The restart this exit led to (the container's restart count after it). */
  readonly restartCount: number;
  /** The back-off waited before the restart (0 for an immediate one). */
  delayMs: number;
  /** When the restart was due; undefined until it is decided, or when there is none. */
  restartAt: number | undefined;
  /** When the restart was dispatched. */
  restartedAt: number | undefined;
  /** The exit ended the container (restart policy, or maxRestarts). */
  terminated: boolean;
}

export interface Timeline {
  readonly steps: readonly TimelineStep[];
  readonly exits: number;
  readonly restarts: number;
  /** The longest back-off waited. */
  readonly longestWaitMs: number;
}

/** Builds the timeline from records in the order they were written. */
export function buildTimeline(records: readonly EventRecord[]): Timeline {
  const steps: TimelineStep[] = [];
  // After a reset on request the restart count starts again: the latest step
  // with a count is the one a record is about.
  const latest = (restartCount: number | undefined) => {
    for (let index = steps.length - 1; index >= 0; index--) if (steps[index]!.restartCount === restartCount) return steps[index];
    return undefined;
  };
  for (const record of records) {
    const time = Date.parse(record.time);
    switch (record.type) {
      case 'Exited':
        steps.push({
          exitAt: time,
          exitCode: record.exitCode,
          restartCount: (record.restartCount ?? 0) + 1,
          delayMs: 0,
          restartAt: undefined,
          restartedAt: undefined,
          terminated: false,
        });
        break;
      case 'RestartScheduled': {
        const step = latest(record.restartCount);
        if (step) {
          step.delayMs = record.delayMs ?? 0;
          step.restartAt = record.restartAt === undefined ? undefined : Date.parse(record.restartAt);
        }
        break;
      }
      case 'Restarted':
      case 'RestartRecovered': {
        const step = latest(record.restartCount);
        if (step && step.restartedAt === undefined) {
          step.restartedAt = time;
          step.restartAt ??= record.restartAt === undefined ? time : Date.parse(record.restartAt);
        }
        break;
      }
      case 'Terminated': {
        const step = steps.at(-1);
        if (step) step.terminated = true;
        break;
      }
      default:
        break;
    }
  }
  return {
    steps,
    exits: steps.length,
    restarts: steps.filter((step) => step.restartedAt !== undefined).length,
    longestWaitMs: Math.max(0, ...steps.map((step) => step.delayMs)),
  };
}

/**
 * uPlot's columns: x in seconds, then the back-off wait (a segment at the
 * height of the wait, from its start to the restart), restarts and exits
 * (points at the height of the wait they ended and began; exits last, so an
 * exit at the instant of a restart is drawn on top), all in seconds.
 * A row of nulls between waits keeps their segments apart.
 */
export type ChartColumns = [x: number[], wait: (number | null)[], restart: (number | null)[], exit: (number | null)[]];

export interface ChartData {
  readonly columns: ChartColumns;
  /** The exit code at each x index that holds an exit, for the labels. */
  readonly exitCodes: ReadonlyMap<number, number | undefined>;
}

export function chartData(timeline: Timeline): ChartData {
  type Kind = 'exit' | 'waitStart' | 'waitEnd' | 'gap' | 'restart';
  type Row = { x: number; kind: Kind; height: number; exitCode?: number | undefined; order: number };
  const rows: Row[] = [];
  const push = (row: Omit<Row, 'order'>) => rows.push({ ...row, order: rows.length });
  for (const step of timeline.steps) {
    const height = step.delayMs / 1_000;
    push({ x: step.exitAt / 1_000, kind: 'exit', height, exitCode: step.exitCode });
    if (step.restartAt !== undefined && step.delayMs > 0) {
      push({ x: (step.restartAt - step.delayMs) / 1_000, kind: 'waitStart', height });
      push({ x: step.restartAt / 1_000, kind: 'waitEnd', height });
      // Half a millisecond on: after the wait, before anything else (instants are whole ms).
      push({ x: (step.restartAt + 0.5) / 1_000, kind: 'gap', height });
    }
    if (step.restartedAt !== undefined) push({ x: step.restartedAt / 1_000, kind: 'restart', height });
  }
  // uPlot wants x ascending; equal instants keep the order they were written in.
  rows.sort((a, b) => a.x - b.x || a.order - b.order);
  const columns: ChartColumns = [[], [], [], []];
  const exitCodes = new Map<number, number | undefined>();
  // The wait's segment runs through every row between its start and its end
  // (an exit handled just after it finished falls inside); a null after its
  // end keeps it apart from the next one.
  let open: number | null = null;
  const add = (x: number, wait: number | null, exit: number | null, restart: number | null) => {
    columns[0].push(x);
    columns[1].push(wait);
    columns[2].push(restart);
    columns[3].push(exit);
  };
  for (const row of rows) {
    if (row.kind === 'waitStart') open = row.height;
    if (row.kind === 'exit') exitCodes.set(columns[0].length, row.exitCode);
    if (row.kind === 'gap') open = null;
    add(row.x, open ?? (row.kind === 'waitEnd' ? row.height : null), row.kind === 'exit' ? row.height : null, row.kind === 'restart' ? row.height : null);
    if (row.kind === 'waitEnd') open = null;
  }
  return { columns, exitCodes };
}
