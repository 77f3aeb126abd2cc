/**
 * `restart-scheduler local --config FILE`: the CDK context's keys without the
 * prefix. A bad file stops the runtime before it starts; a good one reaches
 * the runtime as on AWS — here a namespace's restart budget, against the
 * local runtime started as users start it (a child process, over HTTP and the
 * restart stream).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RestartSchedulerClient, type ExitEventInput } from '../../lib/client/client.ts';
import { budgetWindowBound, busiestWindow } from '../../lib/core/index.ts';
import { cli } from '../support/cli.ts';
import { documentedFetch } from '../support/openapi.ts';
import { follow, startRuntimeProcess } from '../support/runtime-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'restart-scheduler-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function configFile(contents: string): string {
  const path = join(dir, `config-${files++}.json`);
  writeFileSync(path, contents);
  return path;
}

describe('restart-scheduler local --config', () => {
  it.each([
    ['not JSON', '{"maxBackoff": ', /: not valid JSON/],
    ['not an object', '["maxBackoff"]', /: expected a JSON object of settings/],
    ['an unknown key', '{"maxBackof": "1m"}', /: maxBackof: unknown setting; use initialBackoff, maxBackoff/],
    ['a key with the cdk.json prefix', '{"restart-scheduler:maxBackoff": "1m"}', /: restart-scheduler:maxBackoff: write the key without the restart-scheduler: prefix: maxBackoff/],
    ['a bad duration', '{"maxBackoff": "5 minutes"}', /: maxBackoff: invalid duration "5 minutes"/],
    ['a duration given as a number', '{"recoveryGrace": 30}', /: recoveryGrace: expected a string, got 30/],
    ['a bad precision', '{"precision": "hour"}', /: precision: expected one of second, minute/],
    ['a bad jitter', '{"jitter": 2}', /: jitter: expected a number from 0 to 1/],
    ['a bad restart budget', '{"namespaceDefaults": {"batch": {"restartBudget": {"perSecond": 20, "burst": 0}}}}', /: namespaceDefaults\.batch\.restartBudget\.burst: expected an integer from 1/],
    ['an unknown namespace setting', '{"namespaceDefaults": {"batch": {"budget": 5}}}', /: namespaceDefaults\.batch\.budget: unknown setting/],
    ['a bad value of an AWS-only key', '{"logRetentionDays": 10}', /: logRetentionDays: CloudWatch Logs accepts only 1, 3, 5/],
  ])('refuses %s with exit code 2, naming the file and the key, and starts nothing', async (_label, contents, message) => {
    const path = configFile(contents);
    const run = await cli('local', '--in-memory', '--port', '0', '--config', path);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(message);
    expect(run.err).toContain(path);
    expect(run.out).not.toMatch(/listening/);
  });

  it('refuses a file it cannot read', async () => {
    const run = await cli('local', '--in-memory', '--port', '0', '--config', join(dir, 'missing.json'));
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/missing\.json: cannot read it \(ENOENT\)/);
  });

  it('spreads 100 simultaneous first crashes of a namespace with a budget of 20/s, burst 20, and restarts another namespace’s 100 at once', async () => {
    const path = configFile(
      JSON.stringify({
        initialBackoff: '100ms',
        maxBackoff: '2m',
        namespaceDefaults: { batch: { maxBackoff: '1m', restartBudget: { perSecond: 20, burst: 20 } } },
        logRetentionDays: 7,
      }),
    );
    // The environment variable wins over the file; the file over the flag's default.
    const runtime = await startRuntimeProcess(['--in-memory', '--config', path], { env: { RESTART_SCHEDULER_MAX_BACKOFF: '800ms' } });
    try {
      expect(runtime.output()).toContain('policy kubelet: initial 100ms, max 800ms, reset after 10m');
      expect(runtime.output()).toContain(`settings from ${path}; ignored here (AWS only): logRetentionDays`);
      expect(runtime.output()).toContain('namespace batch: initial 10s, max 1m, reset after 10m; restart budget 20/s, burst 20');

      // Every answer checked against the OpenAPI document too (budgetDelayMs included).
      const client = new RestartSchedulerClient({ fetch: documentedFetch, endpoint: runtime.url });
      const stream = follow(client);
      await stream.ready;
      const crashes = (namespace: string): ExitEventInput[] =>
        Array.from({ length: 100 }, (_, index) => ({ namespace, pod: `job-${index}`, container: 'app', exitCode: 1, finishedAt: Date.now() }));
      const post = async (namespace: string) => {
        const sentAt = Date.now();
        const decisions = await client.postExits(crashes(namespace));
        return { sentAt, answeredAt: Date.now(), decisions };
      };
      const [batch, other] = await Promise.all([post('batch'), post('default')]);
      const restarts = await stream.waitFor(200, 60_000);
      stream.stop();

      // Without a budget: every restart at once, due when its exit was handled.
      expect(other.decisions.map((decision) => decision.decision)).toEqual(Array(100).fill('RestartNow'));
      for (const decision of other.decisions) {
        expect(decision).not.toHaveProperty('budgetDelayMs');
        expect(Date.parse(decision.restartAt!)).toBeGreaterThanOrEqual(other.sentAt);
        expect(Date.parse(decision.restartAt!)).toBeLessThanOrEqual(other.answeredAt);
      }

      // With one: never before its exit was handled, the burst at once, the rest delayed and saying so.
      const instants = batch.decisions.map((decision) => Date.parse(decision.restartAt!));
      expect(Math.min(...instants)).toBeGreaterThanOrEqual(batch.sentAt);
      const delayed = batch.decisions.filter((decision) => decision.decision === 'RestartScheduled');
      expect(100 - delayed.length).toBeGreaterThanOrEqual(20);
      for (const decision of delayed) {
        expect(decision.budgetDelayMs).toBeGreaterThan(0);
        expect(decision.message).toMatch(/restart delayed by budget \(\+[\d.]+m?s\)$/);
      }
      // The bound, and the spread GCRA guarantees whatever the machine's speed: 80 more one 50 ms slot apart.
      expect(busiestWindow(instants, 1)).toBeLessThanOrEqual(20);
      expect(busiestWindow(instants, 1_000)).toBeLessThanOrEqual(budgetWindowBound({ perSecond: 20, burst: 20 }, 1_000));
      expect(Math.max(...instants) - Math.min(...instants)).toBeGreaterThanOrEqual(4_000);

      // Every restart went out once, at or after the instant its decision named.
      const byKey = new Map(restarts.map((restart) => [restart.key, restart]));
      expect(byKey.size).toBe(200);
      for (const decision of [...batch.decisions, ...other.decisions]) {
        const restart = byKey.get(decision.key)!;
        expect(restart.restartId).toBe(decision.restartId);
        expect(restart.restartAt).toBe(decision.restartAt);
        expect(Date.parse(restart.firedAt)).toBeGreaterThanOrEqual(Date.parse(decision.restartAt!));
      }
      const fired = batch.decisions.map((decision) => Date.parse(byKey.get(decision.key)!.firedAt));
      console.log(
        `budget 20/s, burst 20: 100 first crashes answered in ${batch.answeredAt - batch.sentAt} ms, ${100 - delayed.length} restarted at once, ` +
          `restarts due over ${Math.max(...instants) - Math.min(...instants)} ms, fired over ${Math.max(...fired) - Math.min(...fired)} ms, busiest second ${busiestWindow(fired, 1_000)} fired; ` +
          `without a budget: due over ${Math.max(...other.decisions.map((d) => Date.parse(d.restartAt!))) - Math.min(...other.decisions.map((d) => Date.parse(d.restartAt!)))} ms`,
      );

      const scheduled = await client.listEvents({ type: 'RestartScheduled', limit: 1_000 });
      expect(scheduled.filter((record) => record.namespace === 'batch' && (record.budgetDelayMs ?? 0) > 0)).toHaveLength(delayed.length);
    } finally {
      await runtime.stop();
    }
  });
});
