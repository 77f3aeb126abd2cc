import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { containerKey } from '../../lib/core/index.ts';
import { createServiceBackend } from '../../lib/services/backend.ts';
import { handleExit } from '../../lib/services/handle-exit.ts';
import { createHarness, exitOf, storeWith, T0, type Harness } from '../support/pipeline.ts';

describe('createServiceBackend', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  describe('submitExits', () => {
    it('reads a batch’s containers in one BatchGetItem: then two PutItems per immediate restart and no GetItem', async () => {
      const exits = Array.from({ length: 20 }, (_, n) => exitOf(T0, { pod: `web-${n}` }));
      h.dynamoCalls.reset();
      const decisions = await createServiceBackend(h.deps).submitExits(exits);
      expect(decisions.map((decision) => decision.decision)).toEqual(exits.map(() => 'RestartNow'));
      expect(h.dynamoCalls.calls.filter((call) => call !== 'PutItem')).toEqual(['BatchGetItem']);
      expect(h.dynamoCalls.calls.filter((call) => call === 'PutItem')).toHaveLength(40);
      expect(new Set(h.restartRequests().map((request) => request.key))).toEqual(new Set(exits.map(containerKey)));
    });

    it('decides repeated exits of one container in order, each seeing what the one before wrote', async () => {
      const exits = [
        exitOf(T0, { exitId: 'a' }),
        exitOf(T0, { pod: 'web-1' }),
        exitOf(T0 + 1_000, { exitId: 'b' }),
        exitOf(T0 + 1_000, { exitId: 'b' }),
        exitOf(T0 + 2_000, { exitId: 'c' }),
      ];
      h.clock.set(T0 + 2_000);
      const decisions = await createServiceBackend(h.deps).submitExits(exits);
      expect(decisions.map((decision) => [decision.decision, decision.restartCount])).toEqual([
        ['RestartNow', 1],
        ['RestartNow', 1],
        ['RestartScheduled', 2],
        ['Duplicate', 2],
        ['RestartScheduled', 3],
      ]);
      expect((await h.store.get(containerKey(exits[0]!)))?.value).toMatchObject({ restartCount: 3, restart: { restartCount: 3, status: 'waiting' } });
      expect(h.restartRequests().map((request) => [request.key, request.restartCount])).toEqual(
        expect.arrayContaining([[containerKey(exits[0]!), 1], [containerKey(exits[1]!), 1]]),
      );
      expect(h.restartRequests()).toHaveLength(2);
    });

    it('reads afresh and decides once more when another writer changes a container after the batch read it', async () => {
      const contested = exitOf(T0, { exitId: 'first' });
      const store = storeWith(h.deps.store, {
        // Another handler takes the contested container's first exit between the batch's read and its write.
        getMany: async (keys) => {
          const read = await h.deps.store.getMany(keys);
          await handleExit(h.deps, contested);
          return read;
        },
      });
      h.clock.set(T0 + 1_000);
      const later = exitOf(T0 + 1_000, { exitId: 'second' });
      const decisions = await createServiceBackend({ ...h.deps, store }).submitExits([later, exitOf(T0 + 1_000, { pod: 'web-1' })]);
      expect(decisions.map((decision) => [decision.decision, decision.restartCount])).toEqual([
        ['RestartScheduled', 2],
        ['RestartNow', 1],
      ]);
      expect(h.metrics.filter((metric) => metric.name === 'WriteConflicts')).toHaveLength(1);
      // The contested container's first restart went out once, from the other writer.
      expect(h.restartRequests().filter((request) => request.key === containerKey(contested))).toHaveLength(1);
      expect((await h.store.get(containerKey(contested)))?.value).toMatchObject({ restartCount: 2, restart: { restartCount: 2, status: 'waiting' } });
    });

    it('reads one container’s exit with GetItem, as a single exit', async () => {
      h.dynamoCalls.reset();
      await createServiceBackend(h.deps).submitExits([exitOf(T0)]);
      expect(h.dynamoCalls.calls).toEqual(['GetItem', 'PutItem', 'PutItem']);
    });
  });
});
