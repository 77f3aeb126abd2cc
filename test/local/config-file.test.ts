import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/config.ts';
import { CONTEXT_KEYS } from '../../lib/infra/settings.ts';
import { AWS_ONLY_CONFIG_KEYS, LOCAL_CONFIG_KEYS, parseLocalConfig } from '../../lib/local/config-file.ts';

describe('parseLocalConfig', () => {
  it('reads namespace defaults (a loopback webhook included) and the policy settings', () => {
    expect(
      parseLocalConfig('c.json', {
        namespaceDefaults: { hooks: { maxBackoff: '1m', restartTarget: { webhook: { url: 'http://127.0.0.1:9000/' } } } },
        initialBackoff: '1s',
        precision: 'minute',
        shards: 32,
      }),
    ).toEqual({
      namespaces: { hooks: { restartTarget: { webhook: { url: 'http://127.0.0.1:9000/' } }, policy: expect.objectContaining({ maxMs: 60_000 }) } },
      initialBackoffMs: 1_000,
      precision: 'minute',
    });
  });

  it('knows every CDK context key, without its prefix', () => {
    expect(Object.values(CONTEXT_KEYS).map((key) => key.replace('restart-scheduler:', '')).sort()).toEqual([...LOCAL_CONFIG_KEYS, ...AWS_ONLY_CONFIG_KEYS].sort());
  });

  it.each([
    [{ namespaceDefault: {} }, 'c.json: namespaceDefault: unknown setting'],
    [{ 'restart-scheduler:precision': 'second' }, 'leave out the restart-scheduler: prefix'],
    [{ maxBackoff: 'soon' }, 'c.json: maxBackoff'],
    [{ jitter: 2 }, 'c.json: jitter: expected a number from 0 to 1'],
    [{ namespaceDefaults: { hooks: { restartTarget: { webhook: { url: 'http://10.0.0.1/' } } } } }, 'c.json: namespaceDefaults.hooks.restartTarget.webhook.url'],
    [[], 'c.json: expected an object of settings'],
  ])('names what is wrong with %j', (json, message) => {
    expect(() => parseLocalConfig('c.json', json)).toThrow(ConfigError);
    expect(() => parseLocalConfig('c.json', json)).toThrow(message);
  });
});
