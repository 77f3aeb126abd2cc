/**
 * What the handlers are configured with, shared by the deployment settings
 * (which read it from CDK context) and the handlers construct (which passes
 * it to the functions' environment).
 */
import type { Precision } from '../config.ts';
import { formatDuration, type BackoffPolicy } from '../core/index.ts';

/** What the handlers need to know about the service, beyond where its resources are. */
export interface HandlerSettings {
  /** The service-wide back-off policy (kubelet's by default). */
  readonly policy: BackoffPolicy;
  readonly precision: Precision;
  /** Per-namespace defaults as the JSON the handlers read from NAMESPACE_DEFAULTS; absent when none. */
  readonly namespaceDefaultsJson?: string;
  /** Shards of every index of the table. */
  readonly shards: number;
  /** How long an entry outlives its reset threshold before DynamoDB TTL may delete it. */
  readonly entryRetentionMs: number;
  readonly recoveryGraceMs: number;
  readonly dispatchLeaseMs: number;
  /** The least time between BackOff records of one wait. */
  readonly backOffEventIntervalMs: number;
}

/** The settings the handlers read, as duration strings their wiring parses back (`parseDuration`). */
export function policyEnvironment(policy: BackoffPolicy): { initial: string; max: string; resetAfter: string; jitter: string } {
  return {
    initial: formatDuration(policy.initialMs),
    max: formatDuration(policy.maxMs),
    resetAfter: formatDuration(policy.resetAfterMs),
    jitter: String(policy.jitterFactor),
  };
}

