/**
 * The embedded local runtime (DESIGN §5): the production services and the
 * same DynamoDB and Scheduler adapters, pointed at local endpoints — dynalite
 * for the table, the local Scheduler endpoint for the coarse timer stage — with
 * an in-process fine stage, the HTTP API, the sync loop and an on-disk event
 * log. No AWS account, one process.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { DynamoRestartBudget } from '../adapters/dynamodb/budget.ts';
import type { ECSClient } from '@aws-sdk/client-ecs';
import { DynamoBackoffStore, ensureTable } from '../adapters/dynamodb/store.ts';
import { SdkEcsTasks } from '../adapters/ecs/tasks.ts';
import { DynamoWorkloadStore, workloadTableInput } from '../adapters/ecs/workload-store.ts';
import { WebhookRestartTarget } from '../adapters/webhook/target.ts';
import { parseRestartCallback, SchedulerRestartTimer } from '../adapters/scheduler/timer.ts';
import { ConfigError, DEFAULT_SERVICE_CONFIG, MINUTE_PRECISION_MAX_LATENESS_MS, type NamespaceDefaults, type Precision } from '../config.ts';
import { targetKind, webhookOf, type BackoffPolicy, type Clock, type DeliveryRetryPolicy } from '../core/index.ts';
import { createServiceBackend } from '../services/backend.ts';
import { errorDetails, type OperationalLog, type ServiceDeps } from '../services/deps.ts';
import { actionableAt, fireRestart, settleRestartOutbox } from '../services/fire-restart.ts';
import { sync, type SyncReport } from '../services/sync.ts';
import { restartWorkloadTask, type EcsDeps } from '../services/ecs-workloads.ts';
import { consoleLog } from './console-log.ts';
import { LocalDeliveries } from './deliveries.ts';
import { LOCAL_AWS_CONFIG, startDynalite, type LocalDynamo } from './dynalite.ts';
import { LocalEventLog } from './event-log.ts';
import { InProcessFineStage } from './fine-stage.ts';
import { LocalSchedulerEndpoint } from './scheduler-endpoint.ts';
import { isLoopbackHost } from './loopback.ts';
import { startLocalServer, type LocalServer } from './server.ts';

export { isLoopbackHost } from './loopback.ts';

export const LOCAL_TABLE_NAME = 'restart-scheduler';
export const LOCAL_SCHEDULE_GROUP = 'restart-scheduler';
export const LOCAL_WORKLOAD_TABLE_NAME = 'restart-scheduler-workloads';
/** Stand-ins for the ARNs the schedules name on AWS: the local endpoint calls back in process. */
const LOCAL_RESTART_TARGET = 'arn:aws:lambda:us-east-1:000000000000:function:restart-scheduler-restart';
const LOCAL_SCHEDULER_ROLE = 'arn:aws:iam::000000000000:role/restart-scheduler-scheduler';

export interface LocalRuntimeOptions {
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 4750; 0 picks a free port */
  readonly port?: number;
  /** Where the table, schedules and logs live. @default './.restart-scheduler' */
  readonly dataDir?: string;
  /** Keep everything in memory (nothing survives the process). */
  readonly inMemory?: boolean;
  readonly policy?: BackoffPolicy;
  /** Per-namespace defaults (policy, restart policy, restart budget, restart target), as on AWS. @default none */
  readonly namespaces?: Readonly<Record<string, NamespaceDefaults>>;
  /** @default 'second' */
  readonly precision?: Precision;
  /** Shards of the table's sparse indexes. @default TABLE_SCHEMA.defaultShards (16) */
  readonly shards?: number;
  /** How long an entry outlives its reset threshold before the sync collects it. @default 24 hours */
  readonly entryRetentionMs?: number;
  /** @default 10 s */
  readonly syncPeriodMs?: number;
  /**
   * How long past its instant an undispatched restart waits before the sync
   * recovers it.
   * @default see `defaultRecoveryGrace`
   */
  readonly recoveryGraceMs?: number;
  /** @default 5 s */
  readonly dispatchLeaseMs?: number;
  /** The least time between BackOff records of one wait. @default 5 min */
  readonly backOffEventIntervalMs?: number;
  /** Bearer token required on every request (mandatory off loopback). */
  readonly token?: string;
  /** Permit a non-loopback host; requires `token`. */
  readonly allowRemote?: boolean;
  /** One readable line per event record (e.g. console.log). */
  readonly echo?: (line: string) => void;
  /** Operational warnings and errors. @default console.error */
  readonly log?: OperationalLog;
  readonly clock?: Clock;
  /**
   * ECS, through the SDK (there is no local ECS: point the client at an
   * ECS-compatible endpoint, or at AWS). Enables the workload routes and the
   * `ecs` restart target.
   */
  readonly ecs?: { readonly client: ECSClient };
  /** How webhook and ECS deliveries are retried. @default LOCAL_DELIVERY_RETRY */
  readonly deliveryRetry?: DeliveryRetryPolicy;
}

export interface LocalRuntime {
  readonly url: string;
  readonly deps: ServiceDeps;
  readonly eventLog: LocalEventLog;
  /** Webhook and ECS deliveries, driven from the restart log. */
  readonly deliveries: LocalDeliveries;
  /** Runs one sync now (the loop also runs on its own). */
  syncNow(): Promise<SyncReport>;
  /** Stops serving, timers and the sync loop, and closes the stores. */
  close(): Promise<void>;
}

/**
 * The fine stage calls back this long before a restart's instant, so that the
 * container is read before it (a read can queue behind other work on a busy
 * event loop); the callback then waits for the instant itself.
 */
const FINE_STAGE_LEAD_MS = 25;
/**
 * How early a callback may be and still wait in process: the lead, plus room
 * for a timer that fires a little early or a read that returns quickly.
 */
const INLINE_WAIT_MS = 4 * FINE_STAGE_LEAD_MS;

export class RemoteBindError extends Error {
  override readonly name = 'RemoteBindError';
}


export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host) && !(options.allowRemote && options.token)) {
    throw new RemoteBindError(
      `refusing to listen on ${host}: the local runtime binds to loopback unless --allow-remote and --token are both given`,
    );
  }
  const clock = options.clock ?? { now: () => Date.now() };
  const namespaces = options.namespaces ?? {};
  for (const [namespace, defaults] of Object.entries(namespaces)) {
    if (targetKind(defaults.restartTarget) === 'webhook' && !webhookOf(defaults.restartTarget)) {
      throw new ConfigError(`namespaceDefaults.${namespace}.restartTarget: the local runtime posts webhooks itself and needs { "webhook": { "url": … } }`);
    }
  }
  const syncPeriodMs = options.syncPeriodMs ?? 10_000;
  const log = options.log ?? consoleLog;
  const dataDir = options.inMemory ? undefined : resolve(options.dataDir ?? '.restart-scheduler');
  if (dataDir) mkdirSync(dataDir, { recursive: true });

  const cleanups: (() => Promise<void> | void)[] = [];
  const close = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        log.warn('closing the local runtime', errorDetails(error));
      }
    }
  };

  try {
    // The store's client is never instrumented after it starts: its middleware stacks can be resolved once.
    const dynamo: LocalDynamo = await startDynalite({ ...(dataDir ? { path: join(dataDir, 'dynamodb') } : {}), cacheMiddleware: true });
    cleanups.push(() => dynamo.close());
    await ensureTable(dynamo.client, LOCAL_TABLE_NAME);
    const store = new DynamoBackoffStore({
      client: dynamo.client,
      tableName: LOCAL_TABLE_NAME,
      clock,
      ...(options.shards !== undefined ? { shards: options.shards } : {}),
      ...(options.entryRetentionMs !== undefined ? { retentionMs: options.entryRetentionMs } : {}),
    });
    const eventLog = new LocalEventLog({ ...(dataDir ? { dir: dataDir } : {}), ...(options.echo ? { echo: options.echo } : {}), log });
    // Closed once nothing writes to it any more: after the server and the dispatches in flight.
    cleanups.push(() => eventLog.close());

    // Dispatches still running when the runtime closes are awaited before the
    // store shuts (registered after it, so this clean-up runs just before it).
    const inFlight = new Set<Promise<void>>();
    cleanups.push(async () => {
      await Promise.allSettled([...inFlight]);
    });

    // The timers call back into the services, which hold the timers: `deps` is
    // assigned below, before any timer can fire.
    let deps: ServiceDeps | undefined;
    const dispatch = async (callback: { key: string; restartCount: number }) => {
      const running = fireRestart(deps!, callback).then(
        () => undefined,
        (error: unknown) => {
          // The restart stays undispatched; the sync recovers it.
          log.error('restart callback failed', { ...callback, ...errorDetails(error) });
        },
      );
      inFlight.add(running);
      await running.finally(() => inFlight.delete(running));
    };
    const fineStage = new InProcessFineStage(dispatch, { leadMs: FINE_STAGE_LEAD_MS });
    cleanups.push(() => fineStage.close());
    const scheduler = new LocalSchedulerEndpoint({
      groups: [LOCAL_SCHEDULE_GROUP],
      ...(dataDir ? { dataFile: join(dataDir, 'schedules.json') } : {}),
      now: clock.now,
      onFire: async (schedule) => dispatch(parseRestartCallback(schedule.Target.Input ?? '')),
    });
    const { url: schedulerUrl } = await scheduler.listen(0, '127.0.0.1');
    cleanups.push(() => scheduler.close());
    const schedulerClient = new SchedulerClient({ ...LOCAL_AWS_CONFIG, endpoint: schedulerUrl });
    cleanups.push(() => schedulerClient.destroy());

    const precision = options.precision ?? 'second';
    deps = {
      store,
      timer: new SchedulerRestartTimer({
        scheduler: schedulerClient,
        fineStage,
        groupName: LOCAL_SCHEDULE_GROUP,
        targetArn: LOCAL_RESTART_TARGET,
        roleArn: LOCAL_SCHEDULER_ROLE,
        precision,
      }),
      sink: eventLog,
      // The restart log binds a restart due at once to the write that stores it dispatched.
      restartOutbox: eventLog,
      // The same budget items as on AWS, in the local table: one budget per namespace for every caller.
      budget: new DynamoRestartBudget({ client: dynamo.client, tableName: LOCAL_TABLE_NAME }),
      clock,
      random: Math.random,
      config: {
        ...DEFAULT_SERVICE_CONFIG,
        ...(options.policy ? { policy: options.policy } : {}),
        namespaces,
        precision,
        recoveryGraceMs: options.recoveryGraceMs ?? defaultRecoveryGrace(precision, syncPeriodMs),
        dispatchLeaseMs: options.dispatchLeaseMs ?? 5_000,
        ...(options.backOffEventIntervalMs !== undefined ? { backOffEventIntervalMs: options.backOffEventIntervalMs } : {}),
        inlineWaitMs: INLINE_WAIT_MS,
      },
      log,
    };
    const serviceDeps = deps;

    // Restarts the previous process kept ahead of a write it did not see
    // through are published or dropped by what the store holds.
    const settled = await settleRestartOutbox(serviceDeps);
    if (settled.published + settled.dropped > 0) log.warn('settled the restarts the previous process left unconfirmed', settled);
    // The fine stage lives in this process: restarts it held when the previous
    // process died are re-armed from the store.
    await rearmWaitingRestarts(serviceDeps);

    if (options.ecs) await ensureTable(dynamo.client, LOCAL_WORKLOAD_TABLE_NAME, workloadTableInput(LOCAL_WORKLOAD_TABLE_NAME));
    const ecs: EcsDeps | undefined = options.ecs
      ? { workloads: new DynamoWorkloadStore({ client: dynamo.client, tableName: LOCAL_WORKLOAD_TABLE_NAME }), tasks: new SdkEcsTasks(options.ecs.client), clock, random: Math.random, log }
      : undefined;
    // The local runtime's rules: a webhook restart goes to the container's own
    // webhook, else its namespace's; an ECS restart runs its workload again.
    const deliveries = new LocalDeliveries({
      eventLog,
      ...(dataDir ? { file: join(dataDir, 'deliveries.jsonl') } : {}),
      ...(options.deliveryRetry ? { retry: options.deliveryRetry } : {}),
      deps: {
        targets: {
          webhook: new WebhookRestartTarget({
            resolve: async (request) => webhookOf((await store.get(request.key))?.value.restartTarget) ?? webhookOf(namespaces[request.namespace]?.restartTarget),
          }),
          ...(ecs ? { ecs: { deliver: (request) => restartWorkloadTask(ecs, request) } } : {}),
        },
        sink: eventLog,
        clock,
        log,
      },
    });
    deliveries.start();
    cleanups.push(() => deliveries.close());

    const backend = createServiceBackend(serviceDeps, { listEvents: async (query) => eventLog.query(query), ...(ecs ? { ecs } : {}) });
    const server: LocalServer = await startLocalServer({
      host,
      port: options.port ?? 4750,
      backend,
      eventLog,
      log,
      ...(options.token ? { token: options.token } : {}),
      // The runtime posts an exit event's own webhook itself (on AWS webhooks are per namespace).
      limits: { exitWebhooks: true },
    });
    cleanups.push(() => server.close());

    let running: Promise<SyncReport> | undefined;
    const syncNow = async (): Promise<SyncReport> => {
      // One sync at a time: a slow run is not overlapped by the next tick.
      // A restart whose write failed in this process is settled first, as after a crash.
      running ??= settleRestartOutbox(serviceDeps)
        .catch((error: unknown) => log.error('settling the restart outbox failed; the next sync tries again', errorDetails(error)))
        .then(() => sync(serviceDeps))
        .finally(() => {
          running = undefined;
        });
      return running;
    };
    const loop = setInterval(() => {
      syncNow().catch((error: unknown) => log.error('sync failed', errorDetails(error)));
    }, syncPeriodMs);
    cleanups.push(async () => {
      clearInterval(loop);
      await running?.catch(() => undefined);
    });

    return { url: server.url, deps: serviceDeps, eventLog, deliveries, syncNow, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * The in-process fine stage is precise, so with `second` precision a restart
 * is overdue a few seconds past its instant (more under a heavy load, where
 * timers fire late). With `minute` precision a restart that waits on a
 * schedule may be up to `MINUTE_PRECISION_MAX_LATENESS_MS` late by design:
 * that is not an overdue restart.
 */
export function defaultRecoveryGrace(precision: Precision, syncPeriodMs: number): number {
  return precision === 'minute' ? MINUTE_PRECISION_MAX_LATENESS_MS + 2 * syncPeriodMs : Math.max(5_000, 2 * syncPeriodMs);
}

/**
 * Hands every undispatched restart to the fine stage again (overdue ones fire
 * at once). A restart claimed by the previous process was never confirmed: that
 * process is gone (one runtime per data directory), so it is re-armed for the
 * moment its claim expires, when `fireRestart` may take it over.
 *
 * Unlike the sync, this reads the whole waiting index, on purpose: the fine
 * stage it refills held every waiting restart, not only the overdue ones. It
 * streams it, a page at a time, each page handed over before the next is read.
 */
async function rearmWaitingRestarts(deps: ServiceDeps): Promise<number> {
  let rearmed = 0;
  const now = deps.clock.now();
  for (let shard = 0; shard < deps.store.shards; shard++) {
    let cursor: string | undefined;
    do {
      const page = await deps.store.listWaiting(shard, cursor ? { cursor } : {});
      cursor = page.cursor;
      const states = await deps.store.getMany(page.items);
      for (const key of page.items) {
        const restart = states.get(key)?.value.restart;
        if (!restart || restart.status === 'dispatched') continue;
        await deps.timer.defer({ key, restartCount: restart.restartCount, restartAt: actionableAt(restart, deps.config.dispatchLeaseMs) }, now);
        rearmed++;
      }
    } while (cursor);
  }
  return rearmed;
}
