/**
 * `Container Restart Requested` details as a consumer on the bus receives
 * them (the deliver handler, and the dead-lettered deliveries it records).
 */
import { z } from 'zod';
import { TARGET_KINDS } from '../core/index.ts';
import type { RestartRequest } from '../ports.ts';

const restartRequestSchema = z.looseObject({
  restartId: z.string().min(1),
  key: z.string().min(1),
  namespace: z.string().min(1),
  pod: z.string().min(1),
  podUid: z.string().nullable(),
  container: z.string().min(1),
  containerHash: z.string().nullable(),
  restartCount: z.number().int().min(0),
  restartAt: z.string().min(1),
  firedAt: z.string().min(1),
  recovered: z.boolean(),
  target: z.enum(TARGET_KINDS),
});

/** Reads a restart request; throws with what is wrong. */
export function parseRestartRequest(detail: unknown): RestartRequest {
  const parsed = restartRequestSchema.safeParse(detail);
  if (!parsed.success) throw new Error(`not a Container Restart Requested detail: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(detail)'} ${issue.message}`).join('; ')}`);
  const { restartId, key, namespace, pod, podUid, container, containerHash, restartCount, restartAt, firedAt, recovered, target } = parsed.data;
  return { restartId, key, namespace, pod, podUid, container, containerHash, restartCount, restartAt, firedAt, recovered, target };
}
