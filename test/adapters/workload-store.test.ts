import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTable } from '../../lib/adapters/dynamodb/store.ts';
import { DynamoWorkloadStore, workloadTableInput } from '../../lib/adapters/ecs/workload-store.ts';
import { InvalidCursorError, type EcsWorkload } from '../../lib/ports.ts';
import { acquireDynalite, releaseDynalite } from '../support/pipeline.ts';

let store: DynamoWorkloadStore;
beforeAll(async () => {
  const local = await acquireDynalite();
  const tableName = `workloads-${randomUUID()}`;
  await ensureTable(local.client, tableName, workloadTableInput(tableName));
  store = new DynamoWorkloadStore({ client: local.client, tableName, pageSize: 2 });
});
afterAll(releaseDynalite);

const workload = (id: string): EcsWorkload => ({
  id,
  namespace: 'ecs',
  runTask: { cluster: 'work', taskDefinition: 'worker', networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1'] } } },
  family: 'worker',
  essentialContainers: ['worker'],
  exit: { restartPolicy: 'OnFailure' },
  status: 'running',
  restartCount: 0,
  createdAt: 1,
  updatedAt: 1,
});

describe('DynamoWorkloadStore', () => {
  it('writes a registration once, then only over the version it read', async () => {
    expect(await store.put(workload('a-1'), undefined)).toEqual({ written: true, version: 1 });
    expect(await store.put(workload('a-1'), undefined)).toEqual({ written: false });
    const read = (await store.get('a-1'))!;
    expect(read).toEqual({ value: workload('a-1'), version: 1 });
    expect(await store.put({ ...read.value, status: 'stopped' }, read.version)).toEqual({ written: true, version: 2 });
    expect(await store.put({ ...read.value, taskArn: 'late' }, read.version)).toEqual({ written: false });
    expect((await store.get('a-1'))!.value.status).toBe('stopped');
    expect(await store.get('missing')).toBeUndefined();
  });

  it('lists every registration in id order, a page at a time, with a Query', async () => {
    for (const id of ['b-3', 'b-1', 'b-2']) await store.put(workload(id), undefined);
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.list(cursor);
      expect(page.items.length).toBeLessThanOrEqual(2);
      ids.push(...page.items.map((item) => item.id));
      cursor = page.cursor;
    } while (cursor);
    expect(ids).toEqual(['a-1', 'b-1', 'b-2', 'b-3']);
  });

  it('refuses a cursor it did not hand out', async () => {
    await expect(store.list(Buffer.from('../x').toString('base64url'))).rejects.toBeInstanceOf(InvalidCursorError);
  });
});
