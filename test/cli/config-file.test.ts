import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readConfigFile } from '../../lib/cli/config-file.ts';
import { UsageError } from '../../lib/cli/errors.ts';

describe('readConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'restart-scheduler-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (json: unknown) => {
    const path = join(dir, `c${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(path, JSON.stringify(json));
    return path;
  };

  it('reads a namespace whose restarts go to a webhook on a loopback receiver, as the local runtime delivers them', () => {
    const { settings } = readConfigFile(file({ namespaceDefaults: { hooks: { maxBackoff: '1m', restartTarget: { webhook: { url: 'http://127.0.0.1:9000/' } } } } }));
    expect(settings.namespaceDefaults?.parsed).toEqual({
      hooks: { restartTarget: { webhook: { url: 'http://127.0.0.1:9000/' } }, policy: expect.objectContaining({ maxMs: 60_000 }) },
    });
  });

  it('checks the ECS setting like the CDK does, then ignores it here', () => {
    const ecs = { clusters: ['work'], taskDefinitionFamilies: ['worker'], passRoles: ['arn:aws:iam::123456789012:role/worker-task'] };
    expect(readConfigFile(file({ ecs })).ignored).toEqual(['ecs']);
    expect(() => readConfigFile(file({ ecs: { clusters: [] } }))).toThrow(/ecs\.clusters: must name at least one cluster/);
  });

  it.each([
    [{ namespaceDefaults: { hooks: { restartTarget: { webhook: { url: 'http://10.0.0.1/' } } } } }, /namespaceDefaults\.hooks\.restartTarget\.webhook\.url/],
    [{ namespaceDefaults: { hooks: { restartTarget: 'pager' } } }, /namespaceDefaults\.hooks\.restartTarget/],
  ])('names what is wrong with %j, and nothing starts', (json, message) => {
    const path = file(json);
    expect(() => readConfigFile(path)).toThrow(UsageError);
    expect(() => readConfigFile(path)).toThrow(message);
  });
});
