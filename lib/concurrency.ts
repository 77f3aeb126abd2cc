import { exponentialCeilingMs } from './core/index.ts';

/** Runs `work` on every item with at most `limit` running at once. */
export async function forEachConcurrently<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Runs the work it is given with at most `limit` tasks running at once, across every caller that shares it. */
export type Limiter = <T>(work: () => Promise<T>) => Promise<T>;

export function createLimiter(limit: number): Limiter {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  let running = 0;
  const queue: (() => void)[] = [];
  return async <T>(work: () => Promise<T>): Promise<T> => {
    if (running >= limit) await new Promise<void>((resolve) => queue.push(resolve));
    running++;
    try {
      return await work();
    } finally {
      running--;
      queue.shift()?.();
    }
  };
}

/**
 * The pause before retry `attempt` (from 1): "full jitter" exponential
 * back-off, a uniformly random wait below `baseMs × 2^(attempt − 1)`, capped at
 * `capMs`, so callers that failed together do not retry together.
 */
export function retryDelayMs(attempt: number, options: { readonly baseMs: number; readonly capMs: number }, random: () => number): number {
  return Math.floor(random() * exponentialCeilingMs(attempt, options.baseMs, options.capMs));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
