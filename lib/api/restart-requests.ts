/**
 * `Container Restart Requested` details as a consumer on the bus receives
 * them (the deliver handler, and the dead-lettered deliveries it records).
 */
import { TARGET_KINDS } from '../core/index.ts';
import type { RestartRequest } from '../ports.ts';
import * as z from '../zod.ts';

const nonEmpty = z.string().check(z.minLength(1));

/** Fields beyond these (a newer sender's) are dropped: a consumer passes on only what it knows. */
const restartRequestSchema = z.object({
  restartId: nonEmpty,
  key: nonEmpty,
  namespace: nonEmpty,
  pod: nonEmpty,
  podUid: z.nullable(z.string()),
  container: nonEmpty,
  containerHash: z.nullable(z.string()),
  restartCount: z.number().check(z.int(), z.gte(0)),
  restartAt: nonEmpty,
  firedAt: nonEmpty,
  recovered: z.boolean(),
  target: z.enum(TARGET_KINDS),
});

/** Reads a restart request; throws with what is wrong. */
export function parseRestartRequest(detail: unknown): RestartRequest {
  const parsed = restartRequestSchema.safeParse(detail);
  if (!parsed.success) throw new Error(`not a Container Restart Requested detail: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(detail)'} ${issue.message}`).join('; ')}`);
  return parsed.data;
}
