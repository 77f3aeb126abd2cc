/** The periodic sync, invoked every minute by a recurring schedule. */
import { sync, type SyncReport } from '../lib/services/sync.ts';
import { defaults, type LambdaDeps } from './wiring.ts';

export function createHandler(deps: () => LambdaDeps) {
  return async function handler(): Promise<SyncReport> {
    const { service, logger, metrics } = deps();
    try {
      const report = await sync(service);
      logger.info('sync finished', { report });
      return report;
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

export const handler = createHandler(defaults());
