/**
 * `restart-scheduler exit`: post one exit event (or a file of them) and print
 * the decision — to a local runtime, or to the AWS deployment with SigV4.
 */
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import type { DecisionView } from '../api/views.ts';
import { parseInstant } from '../api/exits.ts';
import type { ExitEventInput } from '../client/client.ts';
import { BACKOFF_PRESET_NAMES, formatDuration, parseContainerKey, parseDuration, RESTART_POLICIES, type RestartPolicy } from '../core/index.ts';
import { addConnectionOptions, callApi, connect, type ConnectionFlags } from './connection.ts';
import { flagParser, UsageError } from './errors.ts';
import type { CliIo } from './io.ts';

/** The flags that shape how a container restarts, shared by `exit` and `supervise`. */
export interface RestartFlags {
  readonly restartPolicy?: RestartPolicy;
  readonly maxRestarts?: number;
  readonly policy?: string;
  readonly initialBackoff?: number;
  readonly maxBackoff?: number;
  readonly resetAfter?: number;
  readonly jitter?: number;
}

/**
 * The restart flags. They travel in each exit event, so they apply to this
 * workload only; left out, the runtime's (or the namespace's) defaults apply.
 */
export function addRestartOptions(command: Command): Command {
  return command
    .addOption(new Option('--restart-policy <policy>', 'whether the container restarts').choices(RESTART_POLICIES))
    .addOption(new Option('--max-restarts <n>', 'restarts allowed in total, then Terminated (RestartLimitExceeded)').argParser(flagParser('--max-restarts', parseCount)))
    .addOption(new Option('--policy <preset>', 'back-off preset (initial and max back-off)').choices(BACKOFF_PRESET_NAMES))
    .addOption(new Option('--initial-backoff <duration>', 'first back-off, e.g. 10s').argParser(flagParser('--initial-backoff', parsePolicyDuration)))
    .addOption(new Option('--max-backoff <duration>', 'back-off cap, e.g. 5m').argParser(flagParser('--max-backoff', parsePolicyDuration)))
    .addOption(new Option('--reset-after <duration>', 'a run longer than this resets the back-off (default 10m, as kubelet ≥ 1.32)').argParser(flagParser('--reset-after', parsePolicyDuration)))
    .addOption(new Option('--jitter <factor>', 'jitter factor in [0, 1]').argParser(flagParser('--jitter', parseFactor)));
}

/** The exit event fields the restart flags set (only those given). */
export function restartFields(flags: RestartFlags): Pick<ExitEventInput, 'restartPolicy' | 'maxRestarts' | 'backoffPolicy'> {
  const backoffPolicy: Record<string, unknown> = {
    ...(flags.policy !== undefined ? { preset: flags.policy } : {}),
    ...(flags.initialBackoff !== undefined ? { initialBackoff: flags.initialBackoff } : {}),
    ...(flags.maxBackoff !== undefined ? { maxBackoff: flags.maxBackoff } : {}),
    ...(flags.resetAfter !== undefined ? { resetAfter: flags.resetAfter } : {}),
    ...(flags.jitter !== undefined ? { jitter: flags.jitter } : {}),
  };
  return {
    ...(flags.restartPolicy !== undefined ? { restartPolicy: flags.restartPolicy } : {}),
    ...(flags.maxRestarts !== undefined ? { maxRestarts: flags.maxRestarts } : {}),
    ...(Object.keys(backoffPolicy).length > 0 ? { backoffPolicy } : {}),
  };
}

interface ExitFlags extends ConnectionFlags, RestartFlags {
  readonly namespace: string;
  readonly pod?: string;
  readonly container?: string;
  readonly podUid?: string;
  readonly containerHash?: string;
  readonly exitCode?: number;
  readonly reason?: string;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  readonly exitId?: string;
  readonly restartCount?: number;
  readonly file?: string;
  readonly json?: boolean;
}

/** Flags that describe the event itself, which a --file replaces. */
const EVENT_FLAGS = ['pod', 'container', 'podUid', 'containerHash', 'exitCode', 'reason', 'startedAt', 'finishedAt', 'exitId', 'restartCount', 'restartPolicy', 'maxRestarts', 'policy', 'initialBackoff', 'maxBackoff', 'resetAfter', 'jitter'] as const;

export function registerExit(program: Command, io: CliIo, readStdin: () => Promise<string> = readProcessStdin): void {
  const command = program
    .command('exit')
    .description('post an exit event and print the decision')
    .option('--namespace <namespace>', 'namespace of the pod', 'default')
    .option('--pod <name>', 'pod name (required unless --file)')
    .option('--container <name>', 'container name (required unless --file)')
    .option('--pod-uid <uid>', 'pod UID (part of the container key)')
    .option('--container-hash <hash>', 'container spec hash (part of the container key)')
    .option('--exit-code <code>', 'the exit code (required unless --file)', flagParser('--exit-code', parseExitCode))
    .option('--reason <reason>', 'why it exited (default: Completed for 0, Error otherwise)')
    .option('--started-at <instant>', 'when this run started: ISO-8601 or epoch ms', flagParser('--started-at', parseInstantFlag))
    .option('--finished-at <instant>', 'when it exited: ISO-8601 or epoch ms (default: now)', flagParser('--finished-at', parseInstantFlag))
    .option('--exit-id <id>', 'idempotency key: the same exit posted twice takes one decision')
    .option('--restart-count <n>', 'restarts before the run that ended (0 for the first run): tells exits apart when timestamps cannot', flagParser('--restart-count', parseCount));
  addRestartOptions(command);
  command
    .option('--file <path>', 'post the event(s) in a JSON file ("-" for stdin): one event or { "events": [...] }')
    .option('--json', 'print the API response as JSON');
  addConnectionOptions(command).action(async (flags: ExitFlags) => {
    const connection = connect(flags);
    if (flags.file !== undefined) {
      const given = EVENT_FLAGS.filter((name) => flags[name] !== undefined);
      if (given.length > 0) throw new UsageError(`--file: the event comes from the file; drop ${given.map(toFlag).join(', ')}`);
      const payload = parseEventsFile(flags.file, flags.file === '-' ? await readStdin() : await readEventsFile(flags.file));
      if (Array.isArray(payload)) {
        const results = await callApi(connection, () => connection.client.postExits(payload));
        io.out(flags.json ? JSON.stringify({ results }, null, 2) : results.map((view) => describeDecision(view)).join('\n'));
      } else {
        const view = await callApi(connection, () => connection.client.postExit(payload));
        io.out(flags.json ? JSON.stringify(view, null, 2) : describeDecision(view));
      }
      return;
    }
    const missing = (['pod', 'container', 'exitCode'] as const).filter((name) => flags[name] === undefined);
    if (missing.length > 0) throw new UsageError(`missing ${missing.map(toFlag).join(', ')} (or give --file)`);
    const event: ExitEventInput = {
      namespace: flags.namespace,
      pod: flags.pod!,
      container: flags.container!,
      ...(flags.podUid !== undefined ? { podUid: flags.podUid } : {}),
      ...(flags.containerHash !== undefined ? { containerHash: flags.containerHash } : {}),
      exitCode: flags.exitCode!,
      ...(flags.reason !== undefined ? { reason: flags.reason } : {}),
      ...(flags.startedAt !== undefined ? { startedAt: flags.startedAt } : {}),
      finishedAt: flags.finishedAt ?? Date.now(),
      ...(flags.exitId !== undefined ? { exitId: flags.exitId } : {}),
      ...(flags.restartCount !== undefined ? { restartCount: flags.restartCount } : {}),
      ...restartFields(flags),
    };
    const view = await callApi(connection, () => connection.client.postExit(event));
    io.out(flags.json ? JSON.stringify(view, null, 2) : describeDecision(view));
  });
}

function toFlag(name: string): string {
  return `--${name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

async function readEventsFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--file: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * One event (an object) or a batch (`{ "events": [...] }`, or a bare array).
 * The API validates the events themselves; this only checks the JSON.
 */
export function parseEventsFile(name: string, text: string): ExitEventInput | ExitEventInput[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--file: ${name === '-' ? 'stdin' : name} is not JSON: ${(error as Error).message}`);
  }
  if (Array.isArray(value)) return value as ExitEventInput[];
  if (typeof value === 'object' && value !== null) {
    const events = (value as { events?: unknown }).events;
    if (Array.isArray(events) && Object.keys(value).length === 1) return events as ExitEventInput[];
    return value as ExitEventInput;
  }
  throw new UsageError('--file: expected an exit event object or { "events": [...] }');
}

// ---------------------------------------------------------------------------
// Output

/** `12:00:11` (UTC, as the runtime's console), with milliseconds when there are any. */
export function clockTime(instant: string | number): string {
  const iso = new Date(instant).toISOString();
  const ms = iso.slice(20, 23);
  return ms === '000' ? iso.slice(11, 19) : iso.slice(11, 23);
}

/** `default/web-0/app` for a container key. */
export function containerName(key: string): string {
  const ref = parseContainerKey(key);
  return ref ? `${ref.namespace}/${ref.pod}/${ref.container}` : key;
}

/**
 * A decision as one line, then the API's message:
 * `RestartScheduled: restart 2 of default/web-0/app at 12:00:11 (back-off 10s; next crash 20s)`.
 */
export function describeDecision(view: DecisionView): string {
  const name = containerName(view.key);
  let headline: string;
  switch (view.decision) {
    case 'RestartNow':
      headline = `restart ${view.restartCount} of ${name} now (next crash: back-off ${formatDuration(view.backoffMs)})`;
      break;
    case 'RestartScheduled':
      headline = `restart ${view.restartCount} of ${name} at ${clockTime(view.restartAt!)} (back-off ${formatDuration(view.delayMs)}${view.budgetDelayMs ? `, delayed by budget +${formatDuration(view.budgetDelayMs)}` : ''}; next crash ${formatDuration(view.backoffMs)})`;
      break;
    case 'NoRestart':
      headline = `${name} is ${view.state}${view.reason ? ` (${view.reason})` : ''} after ${plural(view.restartCount, 'restart')}`;
      break;
    case 'Duplicate':
      headline =
        view.restartAt === null
          ? `this exit was already reported; ${name} is ${view.state}${view.reason ? ` (${view.reason})` : ''}`
          : `this exit was already reported; restart ${view.restartCount} of ${name} at ${clockTime(view.restartAt)}`;
      break;
    case 'Stale':
      headline = `${name} has a newer exit than this one; nothing changed`;
      break;
  }
  return `${view.decision}: ${headline}\n  ${view.state}: ${view.message}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

// ---------------------------------------------------------------------------
// Flag parsers

function parseExitCode(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new Error(`expected an integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new Error(`expected a non-negative integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** An instant as ISO-8601 (with an offset) or epoch milliseconds; sent as epoch ms. */
export function parseInstantFlag(value: string): number {
  const text = value.trim();
  const result = parseInstant(/^\d+$/.test(text) ? Number(text) : text);
  if (!result.ok) throw new Error(result.message);
  return result.ms;
}

function parsePolicyDuration(value: string): number {
  const ms = parseDuration(value);
  if (ms < 1) throw new Error(`must be at least 1ms, got ${JSON.stringify(value)}`);
  return ms;
}

function parseFactor(value: string): number {
  const factor = Number(value);
  if (value.trim() === '' || !Number.isFinite(factor) || factor < 0 || factor > 1) {
    throw new Error(`expected a number between 0 and 1, got ${JSON.stringify(value)}`);
  }
  return factor;
}
