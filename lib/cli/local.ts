import { Option, type Command } from 'commander';
import { PRECISIONS, type Precision } from '../config.ts';
import { describeBackoffPolicy, formatDuration, parseDuration, simulateTimeline } from '../core/index.ts';
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
    .action(async (flags: LocalFlags) => {
      const policy = resolvePolicyFlags(flags);
      // Loaded here, not at the top: every other command starts faster without dynalite and the SDK clients.
      const { RemoteBindError, startLocalRuntime } = await import('../local/runtime.ts');
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
          ...(flags.token ? { token: flags.token } : {}),
          allowRemote: flags.allowRemote === true,
          ...(flags.quiet ? {} : { echo: print }),
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
      const delays = simulateTimeline(policy, Array(8).fill(0)).map((step) => formatDuration(step.delayMs));
      print(`restart delays for a container that keeps crashing: ${delays.join(', ')}, …`);
      print(`restart-scheduler listening on ${runtime.url}`);
      await stopped;
    });
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
