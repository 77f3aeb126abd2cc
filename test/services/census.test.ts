import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ContainerPhase } from '../../lib/core/index.ts';
import { countCrashLoopBackOff } from '../../lib/services/census.ts';
import { createHarness, T0, type Harness } from '../support/pipeline.ts';

describe('countCrashLoopBackOff', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness({ shards: 4 });
  });
  afterEach(async () => {
    await h.close();
  });

  async function containers(states: readonly ContainerPhase[]): Promise<void> {
    await Promise.all(
      states.map((phase, index) =>
        h.store.put(
          {
            key: `pod-${index}_default__app_`,
            namespace: 'default',
            pod: `pod-${index}`,
            container: 'app',
            restartCount: 1,
            state: phase,
            recentExitIds: [],
            policy: h.deps.config.policy,
            createdAt: T0,
            updatedAt: T0,
          },
          undefined,
        ),
      ),
    );
  }

  it('counts the containers in CrashLoopBackOff from the state index and publishes the metric', async () => {
    await containers([...Array(7).fill('CrashLoopBackOff'), ...Array(5).fill('Running'), 'Terminated']);
    h.dynamoCalls.reset();
    expect(await countCrashLoopBackOff(h.deps)).toEqual({ crashLoopBackOff: 7, itemsRead: 7, failedShards: [] });
    expect(h.metrics).toEqual([{ name: 'ContainersInCrashLoopBackOff', value: 7 }]);
    expect(h.dynamoCalls.calls).toEqual(Array(4).fill('Query'));
  });

  it('publishes no count when a shard cannot be counted, rather than a low one', async () => {
    await containers(Array(8).fill('CrashLoopBackOff'));
    const store = h.store;
    // The harness's store, but shard 2's count fails.
    const broken: typeof store = Object.assign(Object.create(store) as typeof store, {
      countInState: (state: ContainerPhase, shard: number, cursor?: string) => (shard === 2 ? Promise.reject(new Error('throttled')) : store.countInState(state, shard, cursor)),
    });
    const failing = { ...h.deps, store: broken };
    expect(await countCrashLoopBackOff(failing)).toMatchObject({ crashLoopBackOff: null, failedShards: [2] });
    expect(h.metrics).toEqual([]);
    expect(h.errors.map((error) => error.message)).toEqual(['counting containers in CrashLoopBackOff failed for a shard']);
  });
});
