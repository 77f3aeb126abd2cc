import { describe, expect, it } from 'vitest';
import {
  backOffEventMessage,
  backOffStatusMessage,
  containerKey,
  formatPod,
  parseContainerKey,
  pickRef,
  type ContainerRef,
} from '../../lib/core/index.ts';

const WEB_0: ContainerRef = { namespace: 'default', pod: 'web-0', podUid: 'uid', container: 'app' };

describe('containerKey', () => {
  it.each<[ContainerRef, string]>([
    [{ namespace: 'default', pod: 'web-0', podUid: '6f1c-42', container: 'app', containerHash: 'a1b2c3' }, 'web-0_default_6f1c-42_app_a1b2c3'],
    [{ namespace: 'default', pod: 'web-0', podUid: '6f1c-42', container: 'app' }, 'web-0_default_6f1c-42_app_'],
    [{ namespace: 'default', pod: 'web-0', container: 'app', containerHash: 'a1b2c3' }, 'web-0_default__app_a1b2c3'],
    [{ namespace: 'kube-system', pod: 'coredns.x', container: 'dns' }, 'coredns.x_kube-system__dns_'],
  ])('keys %j as %j ({pod}_{namespace}_{podUid}_{container}_{containerHash})', (ref, key) => {
    expect(containerKey(ref)).toBe(key);
  });

  it('treats empty optional parts like missing ones', () => {
    expect(containerKey({ ...WEB_0, podUid: '', containerHash: '' })).toBe(containerKey({ namespace: 'default', pod: 'web-0', container: 'app' }));
  });
});

describe('parseContainerKey', () => {
  it.each<ContainerRef>([
    { namespace: 'default', pod: 'web-0', podUid: '6f1c-42', container: 'app', containerHash: 'a1b2c3' },
    { namespace: 'default', pod: 'web-0', podUid: '6f1c-42', container: 'app' },
    { namespace: 'default', pod: 'web-0', container: 'app', containerHash: 'a1b2c3' },
    { namespace: 'ns', pod: 'p', container: 'c' },
  ])('inverts containerKey for %j', (ref) => {
    expect(parseContainerKey(containerKey(ref))).toEqual(ref);
  });

  it('leaves out empty optional parts rather than returning them as ""', () => {
    const ref = parseContainerKey('web-0_default__app_');
    expect(ref).toEqual({ namespace: 'default', pod: 'web-0', container: 'app' });
    expect(ref).not.toHaveProperty('podUid');
    expect(ref).not.toHaveProperty('containerHash');
  });

  it.each([
    ['an empty string', ''],
    ['too few segments', 'web-0_default_uid_app'],
    ['too many segments', 'web-0_default_uid_app_hash_extra'],
    ['no pod', '_default_uid_app_hash'],
    ['no namespace', 'web-0__uid_app_hash'],
    ['no container', 'web-0_default_uid__hash'],
  ])('rejects %s', (_name, key) => {
    expect(parseContainerKey(key)).toBeUndefined();
  });
});

describe('pickRef', () => {
  it('keeps only the identifying fields and drops empty optional ones', () => {
    const exit = { namespace: 'default', pod: 'web-0', podUid: '', container: 'app', containerHash: 'h', exitCode: 1, finishedAt: 5 };
    expect(pickRef(exit)).toEqual({ namespace: 'default', pod: 'web-0', container: 'app', containerHash: 'h' });
  });
});

describe('formatPod', () => {
  it.each<[ContainerRef, string]>([
    [WEB_0, 'web-0_default(uid)'],
    [{ namespace: 'prod', pod: 'api-7d9', podUid: '0b5e-11', container: 'x' }, 'api-7d9_prod(0b5e-11)'],
    [{ namespace: 'default', pod: 'web-0', container: 'app' }, 'web-0_default'],
  ])('formats %j as %j', (ref, text) => {
    expect(formatPod(ref)).toBe(text);
  });
});

describe('backOffStatusMessage', () => {
  it.each([
    [10_000, 'back-off 10s restarting failed container=app pod=web-0_default(uid)'],
    [40_000, 'back-off 40s restarting failed container=app pod=web-0_default(uid)'],
    [80_000, 'back-off 1m20s restarting failed container=app pod=web-0_default(uid)'],
    [300_000, 'back-off 5m0s restarting failed container=app pod=web-0_default(uid)'],
    [1_500, 'back-off 1.5s restarting failed container=app pod=web-0_default(uid)'],
    [200, 'back-off 200ms restarting failed container=app pod=web-0_default(uid)'],
  ])('uses kubelet’s wording and Go’s duration format for %i ms', (ms, message) => {
    expect(backOffStatusMessage(WEB_0, ms)).toBe(message);
  });
});

describe('backOffEventMessage', () => {
  it('is the status message, capitalised', () => {
    expect(backOffEventMessage(WEB_0, 40_000)).toBe('Back-off 40s restarting failed container=app pod=web-0_default(uid)');
    expect(backOffEventMessage(WEB_0, 300_000)).toBe('Back-off 5m0s restarting failed container=app pod=web-0_default(uid)');
  });
});
