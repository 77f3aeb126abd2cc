/**
 * (10) A restart storm: `containers` containers of a namespace whose restart
 * budget is `perSecond` / `burst` crash in the same second and report it at
 * once. Every restart is checked: never before the instant its decision
 * named, and the busiest second of restarts fired against the budget's bound.
 * Measured twice:
 *
 * - fleet: the production services (`handleExit`, `fireRestart`) called by
 *   `callers` service instances at once, as that many Lambda instances would,
 *   each with its own budget adapter, on a real dynalite; the other AWS calls
 *   mocked, time a manual clock (every crash at one instant, each restart's
 *   callback at the instant it names), so the figures are the budget's own
 *   and not this machine's speed;
 * - local: `restart-scheduler local --config FILE` (the CLI, in its own
 *   process), on the wall clock, over HTTP and the restart stream: what one
 *   process on this machine does with the storm.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoRestartBudget } from '../../lib/adapters/dynamodb/budget.ts';
import type { DecisionView } from '../../lib/api/views.ts';
import { RestartSchedulerClient, type RestartNotice } from '../../lib/client/client.ts';
import { budgetWindowBound, busiestWindow, type Decision } from '../../lib/core/index.ts';
import { acquireDynalite, createHarness, releaseDynalite, T0 } from '../../test/support/pipeline.ts';
import type { ServiceDeps } from '../../lib/services/deps.ts';
import { fireRestart } from '../../lib/services/fire-restart.ts';
import { handleExit } from '../../lib/services/handle-exit.ts';
import { forEachConcurrently } from '../../lib/concurrency.ts';
import { startCliRuntime } from './child.ts';
import { ExitPoster } from './http-load.ts';
import { round, summarize } from './stats.ts';

export interface StormPlan {
  readonly containers: number;
  readonly perSecond: number;
  readonly burst: number;
  /** Fleet: service instances handling the storm at once. */
  readonly callers: number;
  /** Local: exit events per request, and requests in flight, while the storm is reported. */
  readonly batch: number;
  readonly concurrency: number;
}

/** What one run of the storm shows. */
export interface StormFigures {
  /** How long handling every crash took (wall clock, this machine). */
  readonly reportedInMs: number;
  /** Restarts the exits' decisions started at once. */
  readonly immediate: number;
  /** Restarts the budget deferred (`budgetDelayMs` > 0). */
  readonly delayed: number;
  readonly dispatched: number;
  /** Restarts fired in the busiest second, `[t, t + 1000)` (`firedAt`). */
  readonly busiestSecond: number;
  /** The same for the instants the restarts were due (the budget's slots). */
  readonly busiestSecondDue: number;
  /** Restarts per second once the burst is spent: the median over the whole seconds after the first. */
  readonly steadyPerSecond: number;
  /** Restarts fired before the instant their decision named, or before the crash (must be 0). */
  readonly early: number;
  /** From the crash to the last restart fired. */
  readonly lastRestartMs: number;
  /** `firedAt − restartAt`, ms. */
  readonly lateness: { readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number };
}

export interface StormResult {
  readonly containers: number;
  readonly budget: { readonly perSecond: number; readonly burst: number };
  /** The budget's bound for one second: `perSecond + burst − 1`. */
  readonly bound: number;
  /** What the budget alone allows: `(containers − burst) / perSecond` seconds. */
  readonly expectedLastMs: number;
  readonly callers: number;
  /** Fleet: UpdateItem calls (budget reservations, with a second form tried) per restart. */
  readonly updateItemsPerRestart: number;
  readonly fleet: StormFigures;
  readonly local: StormFigures;
}

interface Observed {
  readonly crashedAt: number;
  readonly reportedInMs: number;
  readonly decisions: readonly (Pick<Decision, 'key' | 'decision' | 'restartId' | 'budgetDelayMs'> & { readonly restartAt: number })[];
  /** By restart id: when it fired and the instant it named. */
  readonly fired: ReadonlyMap<string, { readonly firedAt: number; readonly restartAt: number }>;
}

function figures(observed: Observed): StormFigures {
  let early = 0;
  const fired: number[] = [];
  const due: number[] = [];
  const lateness: number[] = [];
  for (const decision of observed.decisions) {
    const restart = observed.fired.get(decision.restartId!);
    if (!restart) throw new Error(`no restart for ${decision.key} (${decision.decision})`);
    if (restart.firedAt < decision.restartAt || decision.restartAt < observed.crashedAt || restart.restartAt !== decision.restartAt) early++;
    fired.push(restart.firedAt);
    due.push(decision.restartAt);
    lateness.push(restart.firedAt - decision.restartAt);
  }
  const first = Math.min(...fired);
  const perSecond = new Map<number, number>();
  for (const instant of fired) {
    const second = Math.floor((instant - first) / 1_000);
    perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
  }
  const lastWhole = Math.floor((Math.max(...fired) - first) / 1_000) - 1;
  const steady = [...perSecond.entries()].filter(([second]) => second >= 1 && second <= lastWhole).map(([, count]) => count);
  const late = summarize(lateness);
  return {
    reportedInMs: observed.reportedInMs,
    immediate: observed.decisions.filter((decision) => decision.decision === 'RestartNow').length,
    delayed: observed.decisions.filter((decision) => (decision.budgetDelayMs ?? 0) > 0).length,
    dispatched: observed.fired.size,
    busiestSecond: busiestWindow(fired, 1_000),
    busiestSecondDue: busiestWindow(due, 1_000),
    steadyPerSecond: steady.length > 0 ? summarize(steady).p50 : Number.NaN,
    early,
    lastRestartMs: Math.max(...fired) - observed.crashedAt,
    lateness: { p50Ms: late.p50, p99Ms: late.p99, maxMs: late.max },
  };
}

export async function benchStorm(plan: StormPlan, progress: (line: string) => void): Promise<StormResult> {
  const budget = { perSecond: plan.perSecond, burst: plan.burst };
  const fleet = await stormFleet(plan);
  const describe = (name: string, run: StormFigures) =>
    progress(
      `storm ${name.padEnd(6)} ${run.dispatched} restarts, ${run.early} early, ${run.delayed} delayed by the budget; busiest second ${run.busiestSecond} fired (${run.busiestSecondDue} due; bound ${budgetWindowBound(budget, 1_000)}), ` +
        `${run.steadyPerSecond}/s after the burst; last ${round(run.lastRestartMs / 1_000, 1)} s after the crash; crashes handled in ${round(run.reportedInMs / 1_000, 1)} s`,
    );
  describe('fleet', fleet.figures);
  const local = await stormLocal(plan);
  describe('local', local);
  return {
    containers: plan.containers,
    budget,
    bound: budgetWindowBound(budget, 1_000),
    expectedLastMs: round((Math.max(0, plan.containers - plan.burst) / plan.perSecond) * 1_000, 0),
    callers: plan.callers,
    updateItemsPerRestart: round(fleet.updateItems / plan.containers, 3),
    fleet: fleet.figures,
    local,
  };
}

/** The storm through the production services, `plan.callers` instances at once, on the manual clock. */
async function stormFleet(plan: StormPlan): Promise<{ figures: StormFigures; updateItems: number }> {
  const h = await createHarness({ config: { namespaces: { [NAMESPACE]: { restartBudget: { perSecond: plan.perSecond, burst: plan.burst } } } } });
  const local = await acquireDynalite();
  try {
    const callers: ServiceDeps[] = Array.from({ length: plan.callers }, () => ({ ...h.deps, budget: new DynamoRestartBudget({ client: local.client, tableName: h.tableName }) }));
    h.dynamoCalls.reset();
    const started = performance.now();
    const decisions: (Decision & { restartAt: number })[] = [];
    // Each instance handles one crash at a time, as a Lambda instance does: a crash takes an idle one.
    const idle = [...callers];
    const pods = Array.from({ length: plan.containers }, (_, index) => `storm-${index}`);
    await forEachConcurrently(pods, callers.length, async (pod) => {
      const deps = idle.pop()!;
      try {
        const decision = await handleExit(deps, { namespace: NAMESPACE, pod, container: 'app', exitCode: 1, finishedAt: T0 });
        decisions.push(decision as Decision & { restartAt: number });
      } finally {
        idle.push(deps);
      }
    });
    const reportedInMs = Math.round(performance.now() - started);
    const updateItems = h.dynamoCalls.calls.filter((call) => call === 'UpdateItem').length;
    // Each deferred restart's callback at the instant it names, a slot's worth at a time.
    const messages = h.sqs.commandCalls(SendMessageCommand).map((call) => JSON.parse(call.args[0].input.MessageBody!) as { key: string; restartCount: number; restartAt: number });
    const byInstant = new Map<number, typeof messages>();
    for (const message of messages) byInstant.set(message.restartAt, [...(byInstant.get(message.restartAt) ?? []), message]);
    for (const instant of [...byInstant.keys()].sort((a, b) => a - b)) {
      h.clock.set(instant);
      await forEachConcurrently(byInstant.get(instant)!, plan.callers, async (message) => {
        await fireRestart(h.deps, message);
      });
    }
    const fired = new Map(h.restartRequests().map((request) => [String(request.restartId), { firedAt: Date.parse(String(request.firedAt)), restartAt: Date.parse(String(request.restartAt)) }]));
    return { figures: figures({ crashedAt: T0, reportedInMs, decisions, fired }), updateItems };
  } finally {
    await releaseDynalite();
    await h.close();
  }
}

const NAMESPACE = 'storm';

/** The storm against `restart-scheduler local --config FILE`, on the wall clock. */
async function stormLocal(plan: StormPlan): Promise<StormFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'restart-scheduler-storm-'));
  const config = join(dir, 'storm.json');
  writeFileSync(config, JSON.stringify({ namespaceDefaults: { [NAMESPACE]: { restartBudget: { perSecond: plan.perSecond, burst: plan.burst } } } }));
  const runtime = await startCliRuntime(['--config', config]);
  const client = new RestartSchedulerClient({ endpoint: runtime.url });
  const poster = new ExitPoster(runtime.url, plan.concurrency);
  const notices = new Map<string, RestartNotice>();
  let allArrived!: () => void;
  const arrived = new Promise<void>((resolve) => (allArrived = resolve));
  const abort = new AbortController();
  let connected!: () => void;
  const ready = new Promise<void>((resolve) => (connected = resolve));
  const streaming = client.streamRestarts(
    (notice) => {
      notices.set(notice.restartId, notice);
      if (notices.size >= plan.containers) allArrived();
    },
    { signal: abort.signal, onConnect: () => connected() },
  );
  try {
    await ready;
    const crashedAt = Date.now();
    const decisions: DecisionView[] = [];
    // The first pod of each request.
    const batches = Array.from({ length: Math.ceil(plan.containers / plan.batch) }, (_, index) => index * plan.batch);
    await forEachConcurrently(batches, plan.concurrency, async (from) => {
      const to = Math.min(plan.containers, from + plan.batch);
      const events = Array.from({ length: to - from }, (_, offset) => ({ namespace: NAMESPACE, pod: `storm-${from + offset}`, container: 'app', exitCode: 1, finishedAt: crashedAt }));
      const response = await poster.post(JSON.stringify({ events }));
      if (response.status !== 200) throw new Error(`POST /v1/exits answered ${response.status}: ${response.body.slice(0, 200)}`);
      decisions.push(...(JSON.parse(response.body) as { results: DecisionView[] }).results);
    });
    const reportedInMs = Date.now() - crashedAt;
    const deadlineMs = 120_000 + (plan.containers / plan.perSecond) * 2_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([arrived, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`only ${notices.size} of ${plan.containers} restarts arrived within ${deadlineMs} ms`)), deadlineMs)))]).finally(() => clearTimeout(timer));
    const fired = new Map([...notices.values()].map((notice) => [notice.restartId, { firedAt: Date.parse(notice.firedAt), restartAt: Date.parse(notice.restartAt) }]));
    return figures({
      crashedAt,
      reportedInMs,
      decisions: decisions.map((decision) => ({ ...decision, restartAt: Date.parse(decision.restartAt!) })),
      fired,
    });
  } finally {
    abort.abort();
    await streaming.catch(() => undefined);
    poster.close();
    await runtime.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
