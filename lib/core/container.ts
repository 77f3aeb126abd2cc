import { goDurationString } from './duration.ts';

/** Identifies one container the way kubelet's back-off does. */
export interface ContainerRef {
  readonly namespace: string;
  readonly pod: string;
  readonly podUid?: string;
  readonly container: string;
  readonly containerHash?: string;
}

/**
 * kubelet's `getStableKey`: `{pod}_{namespace}_{podUid}_{container}_{containerHash}`.
 * Names are validated to `[A-Za-z0-9.-]`, so `_` can only be a separator and the
 * key is unambiguous; missing optional parts leave their segment empty.
 */
export function containerKey(ref: ContainerRef): string {
  return [ref.pod, ref.namespace, ref.podUid ?? '', ref.container, ref.containerHash ?? ''].join('_');
}

/** Just the identifying fields of `ref`, without empty optional parts. */
export function pickRef(ref: ContainerRef): ContainerRef {
  return {
    namespace: ref.namespace,
    pod: ref.pod,
    ...(ref.podUid ? { podUid: ref.podUid } : {}),
    container: ref.container,
    ...(ref.containerHash ? { containerHash: ref.containerHash } : {}),
  };
}

/** The inverse of `containerKey`, or undefined for a string that is not a key. */
export function parseContainerKey(key: string): ContainerRef | undefined {
  const parts = key.split('_');
  if (parts.length !== 5) return undefined;
  const [pod, namespace, podUid, container, containerHash] = parts as [string, string, string, string, string];
  if (!pod || !namespace || !container) return undefined;
  return pickRef({ namespace, pod, podUid, container, containerHash });
}

/**
 * Names one restart for consumers to deduplicate deliveries:
 * `{key}#{createdAt}.{restartCount}`. Restart counts start over when an entry
 * is reset or expires, so the entry's creation instant keeps the id of a
 * restart in a new life distinct from one in an earlier life.
 */
export function restartIdOf(key: string, createdAt: number, restartCount: number): string {
  return `${key}#${createdAt}.${restartCount}`;
}

/** kubelet's `format.Pod`: `name_namespace(uid)`. */
export function formatPod(ref: ContainerRef): string {
  const name = `${ref.pod}_${ref.namespace}`;
  return ref.podUid ? `${name}(${ref.podUid})` : name;
}

/**
 * The container status message kubelet sets while a container waits in
 * CrashLoopBackOff (`doBackOff`): `back-off 40s restarting failed container=app pod=web-0_default(uid)`.
 */
export function backOffStatusMessage(ref: ContainerRef, backoffMs: number): string {
  return `back-off ${goDurationString(backoffMs)} restarting failed container=${ref.container} pod=${formatPod(ref)}`;
}

/** The same wording as an event message (capitalised, as in DESIGN §4). */
export function backOffEventMessage(ref: ContainerRef, backoffMs: number): string {
  return `Back-off ${goDurationString(backoffMs)} restarting failed container=${ref.container} pod=${formatPod(ref)}`;
}
