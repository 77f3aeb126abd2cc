import { Option, type Command } from 'commander';
import { PRECISIONS, type NamespaceDefaults, type Precision } from '../config.ts';
import { describeBackoffPolicy, describeBudget, formatDuration, parseDuration, simulateTimeline, targetKind, webhookOf } from '../core/index.ts';
import { readConfigFile, type ConfigFile } from './config-file.ts';
import { flagParser, UsageError } from './errors.ts';
import { policyOptions, resolvePolicyFlags, type PolicyFlags } from './policy-flags.ts';

/** Prefix of the environment variables that stand in for `local`'s flags. */
export const ENV_PREFIX = 'RESTART_SCHEDULER_';

interface LocalFlags extends PolicyFlags {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly inMemory?: boolean;
  readonly syncPeriod: number;
  readonly precision: Precision;
  readonly token?: string;
  readonly allowRemote?: boolean;
  readonly quiet?: boolean;
  readonly config?: string;
  readonly ecsEndpoint?: string;
}

/** A flag that can also be set with `RESTART_SCHEDULER_<NAME>`. */
function flag(flags: string, description: string, envName: string): Option {
  return new Option(flags, description).env(`${ENV_PREFIX}${envName}`);
}

export function registerLocal(program: Command, print: (text: string) => void): void {
  const command = program.command('local').description('run the whole system on this machine: API, store, timers, sync and event log');
  for (const option of policyOptions(ENV_PREFIX)) command.addOption(option);
  command
    .addOption(flag('--host <host>', 'address to listen on (loopback unless --allow-remote)', 'HOST').default('127.0.0.1'))
    .addOption(flag('--port <port>', 'port to listen on (0: any free port)', 'PORT').default(4750).argParser(flagParser('--port', parsePort)))
    .addOption(flag('--data-dir <dir>', 'where the table, schedules and event log live', 'DATA_DIR').default('./.restart-scheduler'))
    .addOption(flag('--in-memory', 'keep nothing on disk', 'IN_MEMORY'))
    .addOption(flag('--sync-period <duration>', 'how often the sync runs', 'SYNC_PERIOD').default(10_000, '10s').argParser(flagParser('--sync-period', parsePositiveDuration)))
    .addOption(flag('--precision <precision>', 'second: two-stage timers; minute: a schedule alone for waits over 2 minutes (under 2 minutes late)', 'PRECISION').default('second').choices(PRECISIONS))
    .addOption(flag('--token <token>', 'require Authorization: Bearer <token> on every request', 'TOKEN'))
    .addOption(flag('--allow-remote', 'allow a non-loopback --host (requires --token)', 'ALLOW_REMOTE'))
    .addOption(flag('--quiet', 'do not print a line per event', 'QUIET'))
    .addOption(flag('--config <file>', 'a JSON file of settings: the CDK context keys without the restart-scheduler: prefix (flags and environment variables win)', 'CONFIG'))
    .addOption(flag('--ecs-endpoint <url>', 'run and restart ECS workloads through this ECS-compatible endpoint (there is no local ECS)', 'ECS_ENDPOINT'))
    .action(async (given: LocalFlags, command: Command) => {
      // Read before anything starts: a bad file is a usage error and nothing runs.
      const file = given.config ? readConfigFile(given.config) : undefined;
      const flags = file ? overFile(given, file, (name) => ['cli', 'env'].includes(command.getOptionValueSource(name) ?? '')) : given;
      const policy = resolvePolicyFlags(flags);
      const settings = file?.settings;
      const namespaces = settings?.namespaceDefaults?.parsed;
      // Loaded here, not at the top: every other command starts faster without dynalite and the SDK clients.
      const { RemoteBindError, startLocalRuntime } = await import('../local/runtime.ts');
      const ecs = flags.ecsEndpoint !== undefined ? await ecsClient(flags.ecsEndpoint) : undefined;
      // This process is the runtime's: it sets the heap policy (see lib/local/heap.ts).
      (await import('../local/heap.ts')).limitHeapGrowth();
      let runtime;
      try {
        runtime = await startLocalRuntime({
          host: flags.host,
          port: flags.port,
          dataDir: flags.dataDir,
          inMemory: flags.inMemory === true,
          policy,
          precision: flags.precision,
          syncPeriodMs: flags.syncPeriod,
          ...(namespaces ? { namespaces } : {}),
          ...(settings?.shards !== undefined ? { shards: settings.shards } : {}),
          ...(settings?.entryRetentionMs !== undefined ? { entryRetentionMs: settings.entryRetentionMs } : {}),
          ...(settings?.recoveryGraceMs !== undefined ? { recoveryGraceMs: settings.recoveryGraceMs } : {}),
          ...(settings?.dispatchLeaseMs !== undefined ? { dispatchLeaseMs: settings.dispatchLeaseMs } : {}),
          ...(settings?.backOffEventIntervalMs !== undefined ? { backOffEventIntervalMs: settings.backOffEventIntervalMs } : {}),
          ...(flags.token ? { token: flags.token } : {}),
          allowRemote: flags.allowRemote === true,
          ...(flags.quiet ? {} : { echo: print }),
          ...(ecs ? { ecs: { client: ecs } } : {}),
        });
      } catch (error) {
        if (error instanceof RemoteBindError) throw new UsageError(error.message);
        throw error;
      }
      // Handlers first: a signal sent the moment "listening" appears must find them.
      const stopped = new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          print(`${signal}: stopping`);
          void runtime.close().then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      print(`policy ${flags.policy}: ${describeBackoffPolicy(policy)}; precision ${flags.precision}; data ${flags.inMemory ? 'in memory' : flags.dataDir}`);
      if (file) print(`settings from ${given.config}${file.ignored.length > 0 ? `; ignored here (AWS only): ${file.ignored.join(', ')}` : ''}`);
      for (const [namespace, defaults] of Object.entries(namespaces ?? {})) print(`namespace ${namespace}: ${describeNamespace(defaults)}`);
      const delays = simulateTimeline(policy, Array(8).fill(0)).map((step) => formatDuration(step.delayMs));
      print(`restart delays for a container that keeps crashing: ${delays.join(', ')}, …`);
      for (const line of targetLines(namespaces ?? {}, ecs !== undefined)) print(line);
      print(`restart-scheduler listening on ${runtime.url}`);
      print(`console: ${runtime.url}/`);
      await stopped;
    });
}

/**
 * The flags with the file's settings under them: a flag or environment
 * variable that was given wins, the file fills in the rest, and the flags'
 * own defaults come last.
 */
function overFile(flags: LocalFlags, file: ConfigFile, given: (option: string) => boolean): LocalFlags {
  const { policyInput, precision } = file.settings;
  const field = <K extends keyof LocalFlags>(name: K, fromFile: LocalFlags[K] | undefined) => (given(name) || fromFile === undefined ? {} : { [name]: fromFile });
  return {
    ...flags,
    ...field('initialBackoff', policyInput.initial as number | undefined),
    ...field('maxBackoff', policyInput.max as number | undefined),
    ...field('resetAfter', policyInput.resetAfter as number | undefined),
    ...field('jitter', policyInput.jitterFactor),
    ...field('precision', precision),
  };
}

function describeNamespace(defaults: NamespaceDefaults): string {
  return [
    defaults.policy ? describeBackoffPolicy(defaults.policy) : undefined,
    defaults.restartPolicy ? `restartPolicy ${defaults.restartPolicy}` : undefined,
    defaults.restartBudget ? `restart budget ${describeBudget(defaults.restartBudget)}` : undefined,
  ]
    .filter((part) => part !== undefined)
    .join('; ');
}

/** One line per namespace whose restarts have a target; a webhook shows its host only (its path or query may hold a token). */
function targetLines(namespaces: Readonly<Record<string, NamespaceDefaults>>, ecs: boolean): string[] {
  const lines = Object.entries(namespaces).flatMap(([namespace, defaults]) => {
    const kind = targetKind(defaults.restartTarget);
    if (kind === 'bus') return [];
    const webhook = webhookOf(defaults.restartTarget);
    return [`namespace ${namespace}: restarts also go to ${kind === 'webhook' && webhook ? `the webhook at ${new URL(webhook.url).host}` : kind}`];
  });
  return ecs ? [...lines, 'ECS workloads: on (restart-scheduler ecs run …)'] : lines;
}

/** An ECS client for `--ecs-endpoint`: the region from AWS_REGION, credentials from the default chain. */
async function ecsClient(endpoint: string) {
  try {
    new URL(endpoint);
  } catch {
    throw new UsageError(`--ecs-endpoint: expected a URL, got ${JSON.stringify(endpoint)}`);
  }
  const { ECSClient } = await import('@aws-sdk/client-ecs');
  return new ECSClient({ endpoint, region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1' });
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) throw new Error(`expected a port number 0-65535, got ${JSON.stringify(value)}`);
  return port;
}

function parsePositiveDuration(value: string): number {
  const ms = parseDuration(value);
  if (ms < 1) throw new Error(`must be at least 1ms, got ${JSON.stringify(value)}`);
  return ms;
}
