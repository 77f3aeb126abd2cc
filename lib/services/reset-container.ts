import { eventRecord, formatPod, parseContainerKey } from '../core/index.ts';
import type { ServiceDeps } from './deps.ts';

/** kubelet's Reset: forget the entry, so the next exit starts over at delay 0. */
export async function resetContainer(deps: ServiceDeps, key: string): Promise<boolean> {
  const found = await deps.store.get(key);
  if (!found || !(await deps.store.delete(key, found.version))) return false;
  const ref = parseContainerKey(key) ?? found.value;
  deps.sink.record([
    eventRecord('BackoffReset', { ...ref, key }, deps.clock.now(), {
      restartCount: found.value.restartCount,
      message: `Back-off reset on request for container=${ref.container} pod=${formatPod(ref)}: the entry was forgotten`,
    }),
  ]);
  return true;
}
