/**
 * Replays vectors produced by running client-go's real `flowcontrol.Backoff`
 * (and kubelet's doBackOff with an ideal sync loop), one test per case.
 * Set CONFORMANCE_DIR to replay another directory of files of the same format.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Backoff, planExit, type ContainerState } from '../../lib/core/index.ts';

interface Op {
  readonly op: 'next' | 'get' | 'isInBackOffSince' | 'isInBackOffSinceUpdate' | 'gc' | 'reset';
  readonly now: number;
  readonly id?: string;
  readonly eventTime?: number;
  readonly expectMs?: number;
  readonly expect?: boolean;
  readonly expectIds?: string[];
}
/** A case with `resetAfterMs` was produced with kubelet's HasExpiredFunc (`eventTime − lastUpdate > resetAfterMs`). */
interface Params {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly resetAfterMs?: number;
}
interface OpsCase extends Params {
  readonly name: string;
  readonly ops: Op[];
}
interface TimelineCase extends Params {
  readonly name: string;
  readonly startedAt: number;
  readonly runsMs: number[];
  readonly expect: { finishedAt: number; restartAt: number; delayMs: number; backoffMs: number }[];
}

const vectorDir = process.env.CONFORMANCE_DIR
  ? resolve(process.env.CONFORMANCE_DIR)
  : dirname(fileURLToPath(import.meta.url));

function load<T>(file: string): { source: string; cases: T[] } {
  return JSON.parse(readFileSync(join(vectorDir, file), 'utf8'));
}

const ops = load<OpsCase>('kubelet-backoff-ops.json');
const timelines = load<TimelineCase>('kubelet-crashloop-timelines.json');

/** The case's reset threshold, else client-go's default of 2 × max; no jitter. */
function paramsOf(c: Params) {
  return { initialMs: c.initialMs, maxMs: c.maxMs, resetAfterMs: c.resetAfterMs ?? 2 * c.maxMs, jitterFactor: 0 };
}

describe(`kubelet-backoff-ops.json (${ops.source})`, () => {
  it.each(ops.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    let now = 0;
    const backoff = new Backoff(paramsOf(c), { now: () => now });
    c.ops.forEach((op, index) => {
      now = op.now;
      const where = `op #${index} ${JSON.stringify(op)}`;
      switch (op.op) {
        case 'next':
          backoff.next(op.id!, op.eventTime!);
          break;
        case 'get':
          expect(backoff.get(op.id!), where).toBe(op.expectMs);
          break;
        case 'isInBackOffSince':
          expect(backoff.isInBackOffSince(op.id!, op.eventTime!), where).toBe(op.expect);
          break;
        case 'isInBackOffSinceUpdate':
          expect(backoff.isInBackOffSinceUpdate(op.id!, op.eventTime!), where).toBe(op.expect);
          break;
        case 'gc':
          backoff.gc();
          expect(backoff.ids(), where).toEqual(op.expectIds);
          break;
        case 'reset':
          backoff.reset(op.id!);
          break;
        default:
          throw new Error(`unknown op in ${where}`);
      }
    });
  });
});

describe(`kubelet-crashloop-timelines.json (${timelines.source})`, () => {
  it.each(timelines.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    // client-go's raw parameters, not resolveBackoffPolicy: a vector set may hold
    // initial > max, which client-go takes as is and KEP-5593 would lower.
    const policy = paramsOf(c);
    let state: ContainerState | undefined;
    let startedAt = c.startedAt;
    c.runsMs.forEach((runMs, index) => {
      const finishedAt = startedAt + runMs;
      // A supervisor gives each exit its own id; zero-length runs can share a finishedAt.
      const exit = { namespace: 'conformance', pod: 'pod', container: 'app', exitCode: 1, startedAt, finishedAt, exitId: `exit-${index}` };
      const plan = planExit(state, exit, { policy, now: finishedAt });
      const { restartAt, delayMs, backoffMs } = plan.decision;
      expect({ finishedAt, restartAt, delayMs, backoffMs }, `restart #${index + 1}`).toEqual(c.expect[index]);
      state = plan.next;
      startedAt = restartAt!;
    });
    expect(c.expect).toHaveLength(c.runsMs.length);
  });
});
