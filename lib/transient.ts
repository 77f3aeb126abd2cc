/**
 * Is a failed AWS SDK call (or a network failure under one) worth retrying?
 * Throttling, a 5xx, a timeout, a dropped connection: yes. A bad request or
 * a missing permission: no.
 */

const TRANSIENT_ERROR_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'LimitExceededException',
  'InternalServerError',
  'ServerException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'TimeoutError',
  'RequestTimeout',
]);

const TRANSIENT_NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE']);

export function isTransientError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const sdk = error as Error & { $retryable?: unknown; $metadata?: { httpStatusCode?: number }; code?: string };
  if (sdk.$retryable) return true;
  if (TRANSIENT_ERROR_NAMES.has(error.name)) return true;
  if ((sdk.$metadata?.httpStatusCode ?? 0) >= 500) return true;
  return TRANSIENT_NETWORK_CODES.has(sdk.code ?? '');
}
