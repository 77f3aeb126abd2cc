/**
 * The periodic sync, invoked every minute by a recurring schedule: the sync
 * itself (overdue restarts, BackOff repeats, expired entries), then the count
 * of containers in CrashLoopBackOff for the dashboard.
 */
import type { Context } from 'aws-lambda';
import { countCrashLoopBackOff, type CensusReport } from '../lib/services/census.ts';
import { sync, type SyncReport } from '../lib/services/sync.ts';
import { defaults, wireServices, type LambdaDeps } from './wiring.ts';

/**
 * Time kept back from the Lambda timeout: past this the sync starts no more
 * pages (work in flight finishes, the rest waits for the next run), leaving
 * time for the count and the metrics flush.
 */
export const STOP_MARGIN_MS = 15_000;

export interface SyncRunReport extends SyncReport {
  readonly census: CensusReport;
}

export function createHandler(deps: () => LambdaDeps) {
  return async function handler(_event?: unknown, context?: Context): Promise<SyncRunReport> {
    const { service, logger, metrics } = deps();
    if (context) logger.addContext(context);
    try {
      const report = await sync(service, context ? { shouldStop: () => context.getRemainingTimeInMillis() < STOP_MARGIN_MS } : {});
      const census = await countCrashLoopBackOff(service);
      logger.info('sync finished', { report, census });
      return { ...report, census };
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

export const handler = createHandler(defaults(wireServices));
