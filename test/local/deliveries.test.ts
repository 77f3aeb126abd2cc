import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalDeliveries, type DeliveryRecord } from '../../lib/local/deliveries.ts';
import { LocalEventLog } from '../../lib/local/event-log.ts';
import { DeliveryError, type RestartRequest, type RestartTarget } from '../../lib/ports.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const quiet = { warn: () => undefined, error: () => undefined };

function webhookRestart(restartCount: number): RestartRequest {
  return {
    restartId: `web-0_default_uid-1_app_#${restartCount}`,
    key: 'web-0_default_uid-1_app_',
    namespace: 'default',
    pod: 'web-0',
    podUid: 'uid-1',
    container: 'app',
    containerHash: null,
    restartCount,
    restartAt: new Date(T0).toISOString(),
    firedAt: new Date(T0).toISOString(),
    recovered: false,
    target: 'webhook',
  };
}

/** A webhook target that answers with `answer` and remembers the restart ids it was handed. */
function webhook(answer: () => Promise<void>): RestartTarget & { readonly handed: string[] } {
  const handed: string[] = [];
  return {
    handed,
    async deliver(request) {
      handed.push(request.restartId);
      await answer();
      return { status: 'delivered', detail: 'HTTP 200' };
    },
  };
}

function deliveriesOf(eventLog: LocalEventLog, file: string, target: RestartTarget): LocalDeliveries {
  return new LocalDeliveries({
    eventLog,
    file,
    // A retry waits a minute: a test that closes meanwhile finds it still waiting.
    retry: { maxAttempts: 3, initialDelayMs: 60_000, maxDelayMs: 60_000 },
    deps: { targets: { webhook: target }, sink: eventLog, clock: { now: () => T0 }, log: quiet },
  });
}

/** The outcomes in the file (none before its first write creates it). */
function linesOf(file: string): DeliveryRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as DeliveryRecord);
}

describe('LocalDeliveries', () => {
  const dirs: string[] = [];
  const tempFile = () => {
    const dir = mkdtempSync(join(tmpdir(), 'deliveries-'));
    dirs.push(dir);
    return join(dir, 'deliveries.jsonl');
  };
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('writes an outcome to deliveries.jsonl before the delivery counts as done, and a later start does not deliver it again', async () => {
    const file = tempFile();
    const eventLog = new LocalEventLog();
    const target = webhook(async () => undefined);
    const first = deliveriesOf(eventLog, file, target);
    first.start();
    await eventLog.publish([{ detailType: 'Container Restart Requested', detail: { ...webhookRestart(1) } }]);
    await first.settled();
    expect(first.outcome(webhookRestart(1).restartId)).toMatchObject({ outcome: 'Delivered', attempts: 1 });
    // Read at once, synchronously: settled means written, not about to be.
    expect(linesOf(file)).toEqual([{ restartId: webhookRestart(1).restartId, outcome: 'Delivered', attempts: 1, at: new Date(T0).toISOString(), detail: 'HTTP 200' }]);
    await first.close();

    const second = deliveriesOf(eventLog, file, target);
    second.start();
    expect(second.pending).toBe(0);
    expect(second.outcome(webhookRestart(1).restartId)).toMatchObject({ outcome: 'Delivered' });
    await second.close();
    expect(target.handed).toEqual([webhookRestart(1).restartId]);
  });

  it('leaves a delivery waiting for its retry pending at close, and the next start delivers it with the same restartId', async () => {
    const file = tempFile();
    const eventLog = new LocalEventLog();
    const failing = webhook(async () => {
      throw new DeliveryError('receiver unavailable', true, 'HTTP 503');
    });
    const first = deliveriesOf(eventLog, file, failing);
    first.start();
    await eventLog.publish([{ detailType: 'Container Restart Requested', detail: { ...webhookRestart(2) } }]);
    expect(first.pending).toBe(1);
    await first.close();
    expect(failing.handed).toEqual([webhookRestart(2).restartId]);
    expect(first.outcome(webhookRestart(2).restartId)).toBeUndefined();
    expect(linesOf(file)).toEqual([]);

    const up = webhook(async () => undefined);
    const second = deliveriesOf(eventLog, file, up);
    second.start();
    await second.settled();
    await second.close();
    expect(up.handed).toEqual([webhookRestart(2).restartId]);
    expect(linesOf(file).map((record) => [record.restartId, record.outcome])).toEqual([[webhookRestart(2).restartId, 'Delivered']]);
  });
});
