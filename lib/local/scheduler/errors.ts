/**
 * Errors as EventBridge Scheduler returns them over REST-JSON: an HTTP status,
 * the error's shape name in the `x-amzn-errortype` header and in `__type`, and
 * `Message` in the body. The v3 SDK reads the header first and throws the
 * modelled exception class of that name (`ValidationException`, …) with
 * `message` set from `Message`.
 */

export type SchedulerErrorType =
  | 'ValidationException'
  | 'ConflictException'
  | 'ResourceNotFoundException'
  | 'InternalServerException'
  | 'UnknownOperationException';

export const ERROR_STATUS: Readonly<Record<SchedulerErrorType, number>> = {
  ValidationException: 400,
  ConflictException: 409,
  ResourceNotFoundException: 404,
  InternalServerException: 500,
  // Not a modelled Scheduler error: the SDK surfaces it as a SchedulerServiceException of that name.
  UnknownOperationException: 404,
};

export class SchedulerApiError extends Error {
  readonly status: number;

  constructor(
    readonly type: SchedulerErrorType,
    message: string,
  ) {
    super(message);
    this.name = type;
    this.status = ERROR_STATUS[type];
  }
}

/**
 * Collects constraint violations so one response names every bad field, worded
 * like the service ("2 validation errors detected: …").
 */
export class ValidationErrors {
  private readonly messages: string[] = [];

  /** `value` is quoted in the message when it is short enough to help (as the service does). */
  add(field: string, constraint: string, value?: unknown): void {
    const shown =
      (typeof value === 'string' && value.length <= 100) || typeof value === 'number'
        ? `Value '${String(value)}' at`
        : 'Value at';
    this.messages.push(`${shown} '${field}' failed to satisfy constraint: ${constraint}`);
  }

  /** A problem that is not a single-field constraint (the message is used as it is). */
  addMessage(message: string): void {
    this.messages.push(message);
  }

  get count(): number {
    return this.messages.length;
  }

  throwIfAny(): void {
    if (this.messages.length === 0) return;
    const n = this.messages.length;
    throw new SchedulerApiError(
      'ValidationException',
      `${n} validation error${n === 1 ? '' : 's'} detected: ${this.messages.join('; ')}`,
    );
  }
}
