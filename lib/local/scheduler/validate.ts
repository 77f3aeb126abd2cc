/**
 * Request validation with the service's constraints (lengths, patterns,
 * ranges and enums of the Scheduler model), plus the limits of the local
 * endpoint: one-time `at()` expressions only.
 *
 * Fields are named as they appear on the wire (`Target.RetryPolicy.MaximumRetryAttempts`),
 * so a message points straight at the member of the SDK input to fix.
 */
import { isKnownTimeZone, parseAtExpression, zonedWallTimeToInstant } from './at-expression.ts';
import { SchedulerApiError, ValidationErrors } from './errors.ts';
import {
  DEFAULT_GROUP,
  DEFAULT_RETRY_POLICY,
  DEFAULT_TIMEZONE,
  type LocalFlexibleTimeWindow,
  type LocalSchedule,
  type LocalTarget,
  type ScheduleState,
} from './model.ts';

// The model writes `[0-9a-zA-Z-_.]`: the `-` after a range is a literal hyphen.
export const NAME_PATTERN = /^[0-9a-zA-Z\-_.]+$/;
const NAME_PATTERN_TEXT = '^[0-9a-zA-Z-_.]+$';
const CLIENT_TOKEN_PATTERN = /^[a-zA-Z0-9\-_]+$/;
const CLIENT_TOKEN_PATTERN_TEXT = '^[a-zA-Z0-9-_]+$';
const ROLE_ARN_PATTERN = /^arn:aws(-[a-z]+)?:iam::\d{12}:role\/[\w+=,.@/-]+$/;
const ROLE_ARN_PATTERN_TEXT = '^arn:aws(-[a-z]+)?:iam::\\d{12}:role\\/[\\w+=,.@\\/-]+$';
const DEAD_LETTER_ARN_PATTERN = /^arn:aws(-[a-z]+)?:sqs:[a-z0-9-]+:\d{12}:[a-zA-Z0-9\-_]+$/;
const DEAD_LETTER_ARN_PATTERN_TEXT = '^arn:aws(-[a-z]+)?:sqs:[a-z0-9\\-]+:\\d{12}:[a-zA-Z0-9\\-_]+$';
const KMS_KEY_ARN_PATTERN = /^arn:aws(-[a-z]+)?:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[0-9a-zA-Z\-_]*$/;
const KMS_KEY_ARN_PATTERN_TEXT = '^arn:aws(-[a-z]+)?:kms:[a-z0-9\\-]+:\\d{12}:(key|alias)\\/[0-9a-zA-Z-_]*$';

/** The longest `Target.Input` the service takes. */
export const MAX_TARGET_INPUT = 8192;

/** Target-type parameter blocks the endpoint stores and returns without interpreting them. */
const TARGET_PARAMETER_MEMBERS = [
  'EcsParameters',
  'EventBridgeParameters',
  'EventBridgePutEventsV2Parameters',
  'EventBridgePutRawEventsParameters',
  'KinesisParameters',
  'SageMakerPipelineParameters',
  'SqsParameters',
] as const;

interface StringRule {
  readonly required?: boolean;
  readonly min?: number;
  readonly max?: number;
  readonly pattern?: RegExp;
  readonly patternText?: string;
}

function readString(errors: ValidationErrors, field: string, value: unknown, rule: StringRule): string | undefined {
  if (value === undefined || value === null) {
    if (rule.required) errors.add(field, 'Member must not be null');
    return undefined;
  }
  if (typeof value !== 'string') {
    errors.add(field, 'Member must be a string');
    return undefined;
  }
  const before = errors.count;
  if (rule.min !== undefined && value.length < rule.min) {
    errors.add(field, `Member must have length greater than or equal to ${rule.min}`, value);
  }
  if (rule.max !== undefined && value.length > rule.max) {
    errors.add(field, `Member must have length less than or equal to ${rule.max}`, value);
  }
  if (rule.pattern && value.length > 0 && !rule.pattern.test(value)) {
    errors.add(field, `Member must satisfy regular expression pattern: ${rule.patternText ?? String(rule.pattern)}`, value);
  }
  return errors.count === before ? value : undefined;
}

function readInteger(
  errors: ValidationErrors,
  field: string,
  value: unknown,
  rule: { readonly required?: boolean; readonly min: number; readonly max: number },
): number | undefined {
  if (value === undefined || value === null) {
    if (rule.required) errors.add(field, 'Member must not be null');
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    errors.add(field, 'Member must be an integer', value);
    return undefined;
  }
  if (value < rule.min) {
    errors.add(field, `Member must have value greater than or equal to ${rule.min}`, value);
    return undefined;
  }
  if (value > rule.max) {
    errors.add(field, `Member must have value less than or equal to ${rule.max}`, value);
    return undefined;
  }
  return value;
}

function readEnum<T extends string>(
  errors: ValidationErrors,
  field: string,
  value: unknown,
  allowed: readonly T[],
  required = false,
): T | undefined {
  if (value === undefined || value === null) {
    if (required) errors.add(field, 'Member must not be null');
    return undefined;
  }
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    errors.add(field, `Member must satisfy enum value set: [${allowed.join(', ')}]`, value);
    return undefined;
  }
  return value as T;
}

function readObject(
  errors: ValidationErrors,
  field: string,
  value: unknown,
  required = false,
): Record<string, unknown> | undefined {
  if (value === undefined || value === null) {
    if (required) errors.add(field, 'Member must not be null');
    return undefined;
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    errors.add(field, 'Member must be a structure');
    return undefined;
  }
  return value as Record<string, unknown>;
}

/** Epoch seconds on the wire (the SDK's default timestamp format for REST-JSON) → epoch ms. */
function readTimestamp(errors: ValidationErrors, field: string, value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    errors.add(field, 'Member must be a timestamp in epoch seconds', value);
    return undefined;
  }
  return Math.round(value * 1000);
}

export function validateName(errors: ValidationErrors, field: string, value: unknown, required = true): string | undefined {
  return readString(errors, field, value, {
    required,
    min: 1,
    max: 64,
    pattern: NAME_PATTERN,
    patternText: NAME_PATTERN_TEXT,
  });
}

export function validateClientToken(errors: ValidationErrors, field: string, value: unknown): string | undefined {
  return readString(errors, field, value, {
    min: 1,
    max: 64,
    pattern: CLIENT_TOKEN_PATTERN,
    patternText: CLIENT_TOKEN_PATTERN_TEXT,
  });
}

/** A CreateSchedule request that passed validation, with the service's defaults applied: a schedule before the endpoint stamps it. */
export type CreateScheduleRequest = Omit<LocalSchedule, 'Arn' | 'CreationDate' | 'LastModificationDate' | 'Delivery' | 'CompletedAt'>;

/** Validates the schedule expression; a recurring one gets a message saying why it is refused here. */
function readScheduleExpression(errors: ValidationErrors, value: unknown) {
  const expression = readString(errors, 'ScheduleExpression', value, { required: true, min: 1, max: 256 });
  if (expression === undefined) return undefined;
  if (/^(rate|cron)\(/.test(expression)) {
    errors.addMessage(
      `ScheduleExpression '${expression}' is a recurring schedule: the local EventBridge Scheduler endpoint ` +
        'supports one-time schedules only, at(yyyy-mm-ddThh:mm:ss)',
    );
    return undefined;
  }
  const wall = parseAtExpression(expression);
  if (typeof wall === 'string') {
    errors.addMessage(`ScheduleExpression '${expression.slice(0, 100)}' is invalid: ${wall}`);
    return undefined;
  }
  return { expression, wall };
}

function readTimezone(errors: ValidationErrors, value: unknown): string | undefined {
  const timezone = readString(errors, 'ScheduleExpressionTimezone', value, { min: 1, max: 50 });
  if (timezone === undefined) return undefined;
  if (!isKnownTimeZone(timezone)) {
    errors.addMessage(`ScheduleExpressionTimezone '${timezone}' is not a time zone the endpoint knows (use an IANA name such as UTC or Europe/Paris)`);
    return undefined;
  }
  return timezone;
}

function readFlexibleTimeWindow(errors: ValidationErrors, value: unknown): LocalFlexibleTimeWindow | undefined {
  const window = readObject(errors, 'FlexibleTimeWindow', value, true);
  if (!window) return undefined;
  const mode = readEnum(errors, 'FlexibleTimeWindow.Mode', window.Mode, ['OFF', 'FLEXIBLE'] as const, true);
  const minutes = readInteger(errors, 'FlexibleTimeWindow.MaximumWindowInMinutes', window.MaximumWindowInMinutes, {
    min: 1,
    max: 1440,
  });
  if (mode === 'FLEXIBLE') {
    if (window.MaximumWindowInMinutes === undefined || window.MaximumWindowInMinutes === null) {
      errors.addMessage('FlexibleTimeWindow.MaximumWindowInMinutes is required when FlexibleTimeWindow.Mode is FLEXIBLE');
      return undefined;
    }
    return minutes === undefined ? undefined : { Mode: 'FLEXIBLE', MaximumWindowInMinutes: minutes };
  }
  if (mode === 'OFF') {
    if (window.MaximumWindowInMinutes !== undefined && window.MaximumWindowInMinutes !== null) {
      errors.addMessage('FlexibleTimeWindow.MaximumWindowInMinutes must not be set when FlexibleTimeWindow.Mode is OFF');
      return undefined;
    }
    return { Mode: 'OFF' };
  }
  return undefined;
}

function readTarget(errors: ValidationErrors, value: unknown): LocalTarget | undefined {
  const target = readObject(errors, 'Target', value, true);
  if (!target) return undefined;
  const before = errors.count;
  const arn = readString(errors, 'Target.Arn', target.Arn, { required: true, min: 1, max: 1600 });
  const roleArn = readString(errors, 'Target.RoleArn', target.RoleArn, {
    required: true,
    min: 1,
    max: 1600,
    pattern: ROLE_ARN_PATTERN,
    patternText: ROLE_ARN_PATTERN_TEXT,
  });
  const input = readString(errors, 'Target.Input', target.Input, { min: 1, max: MAX_TARGET_INPUT });

  const retry = readObject(errors, 'Target.RetryPolicy', target.RetryPolicy);
  const maximumRetryAttempts = readInteger(errors, 'Target.RetryPolicy.MaximumRetryAttempts', retry?.MaximumRetryAttempts, {
    min: 0,
    max: 185,
  });
  const maximumEventAgeInSeconds = readInteger(
    errors,
    'Target.RetryPolicy.MaximumEventAgeInSeconds',
    retry?.MaximumEventAgeInSeconds,
    { min: 60, max: 86_400 },
  );

  const deadLetter = readObject(errors, 'Target.DeadLetterConfig', target.DeadLetterConfig);
  const deadLetterArn = readString(errors, 'Target.DeadLetterConfig.Arn', deadLetter?.Arn, {
    min: 1,
    max: 1600,
    pattern: DEAD_LETTER_ARN_PATTERN,
    patternText: DEAD_LETTER_ARN_PATTERN_TEXT,
  });

  const parameters: Record<string, unknown> = {};
  for (const member of TARGET_PARAMETER_MEMBERS) {
    const block = readObject(errors, `Target.${member}`, target[member]);
    if (block) parameters[member] = structuredClone(block);
  }

  if (errors.count !== before || arn === undefined || roleArn === undefined) return undefined;
  return {
    Arn: arn,
    RoleArn: roleArn,
    ...(input !== undefined && { Input: input }),
    RetryPolicy: {
      MaximumRetryAttempts: maximumRetryAttempts ?? DEFAULT_RETRY_POLICY.MaximumRetryAttempts,
      MaximumEventAgeInSeconds: maximumEventAgeInSeconds ?? DEFAULT_RETRY_POLICY.MaximumEventAgeInSeconds,
    },
    ...(deadLetterArn !== undefined && { DeadLetterConfig: { Arn: deadLetterArn } }),
    ...(Object.keys(parameters).length > 0 && { Parameters: parameters }),
  };
}

/**
 * Validates a CreateSchedule request: `name` from the path, the rest from the
 * JSON body. Throws a `ValidationException` naming every bad field.
 */
export function validateCreateSchedule(name: string, body: unknown): CreateScheduleRequest {
  const errors = new ValidationErrors();
  const validName = validateName(errors, 'Name', name);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new SchedulerApiError('ValidationException', 'The request body must be a JSON object');
  }
  const input = body as Record<string, unknown>;
  const groupName = validateName(errors, 'GroupName', input.GroupName, false);
  const expression = readScheduleExpression(errors, input.ScheduleExpression);
  const timezone = readTimezone(errors, input.ScheduleExpressionTimezone);
  const flexibleTimeWindow = readFlexibleTimeWindow(errors, input.FlexibleTimeWindow);
  const target = readTarget(errors, input.Target);
  const state = readEnum(errors, 'State', input.State, ['ENABLED', 'DISABLED'] as const);
  const actionAfterCompletion = readEnum(errors, 'ActionAfterCompletion', input.ActionAfterCompletion, [
    'NONE',
    'DELETE',
  ] as const);
  const description = readString(errors, 'Description', input.Description, { min: 0, max: 512 });
  const startDate = readTimestamp(errors, 'StartDate', input.StartDate);
  const endDate = readTimestamp(errors, 'EndDate', input.EndDate);
  const kmsKeyArn = readString(errors, 'KmsKeyArn', input.KmsKeyArn, {
    min: 1,
    max: 2048,
    pattern: KMS_KEY_ARN_PATTERN,
    patternText: KMS_KEY_ARN_PATTERN_TEXT,
  });
  const clientToken = validateClientToken(errors, 'ClientToken', input.ClientToken);
  errors.throwIfAny();

  // Every field that can be missing after a clean pass was reported above.
  if (!validName || !expression || !flexibleTimeWindow || !target) {
    throw new SchedulerApiError('InternalServerException', 'validation passed with a required member missing');
  }
  const zone = timezone ?? DEFAULT_TIMEZONE;
  return {
    Name: validName,
    GroupName: groupName ?? DEFAULT_GROUP,
    ScheduleExpression: expression.expression,
    ScheduleExpressionTimezone: zone,
    ScheduledAt: zonedWallTimeToInstant(expression.wall, zone),
    FlexibleTimeWindow: flexibleTimeWindow,
    Target: target,
    State: state ?? 'ENABLED',
    ActionAfterCompletion: actionAfterCompletion ?? 'NONE',
    ...(description !== undefined && { Description: description }),
    ...(startDate !== undefined && { StartDate: startDate }),
    ...(endDate !== undefined && { EndDate: endDate }),
    ...(kmsKeyArn !== undefined && { KmsKeyArn: kmsKeyArn }),
    ...(clientToken !== undefined && { ClientToken: clientToken }),
  };
}

/** `?groupName=` of GetSchedule and DeleteSchedule, and `?clientToken=` of DeleteSchedule. */
export function validateScheduleLocator(
  name: string,
  query: URLSearchParams,
  withClientToken: boolean,
): { readonly Name: string; readonly GroupName: string } {
  const errors = new ValidationErrors();
  const validName = validateName(errors, 'Name', name);
  const groupName = validateName(errors, 'GroupName', query.get('groupName') ?? undefined, false);
  if (withClientToken) validateClientToken(errors, 'ClientToken', query.get('clientToken') ?? undefined);
  errors.throwIfAny();
  return { Name: validName ?? name, GroupName: groupName ?? DEFAULT_GROUP };
}

export interface ListSchedulesRequest {
  readonly GroupName?: string;
  readonly NamePrefix?: string;
  readonly State?: ScheduleState;
  readonly MaxResults: number;
  readonly NextToken?: string;
}

/** The service's page size when MaxResults is omitted (and its maximum). */
export const MAX_LIST_RESULTS = 100;

/**
 * ListSchedules' query string as the SDK writes it: the input's `GroupName`
 * travels as `ScheduleGroup`; `NamePrefix`, `State`, `NextToken` and
 * `MaxResults` keep their names.
 */
export function validateListSchedules(query: URLSearchParams): ListSchedulesRequest {
  const errors = new ValidationErrors();
  const groupName = validateName(errors, 'ScheduleGroup', query.get('ScheduleGroup') ?? undefined, false);
  const namePrefix = validateName(errors, 'NamePrefix', query.get('NamePrefix') ?? undefined, false);
  const state = readEnum(errors, 'State', query.get('State') ?? undefined, ['ENABLED', 'DISABLED'] as const);
  const nextToken = readString(errors, 'NextToken', query.get('NextToken') ?? undefined, { min: 1, max: 2048 });
  const rawMaxResults = query.get('MaxResults');
  let maxResults: number | undefined;
  if (rawMaxResults !== null) {
    maxResults = /^-?\d+$/.test(rawMaxResults)
      ? readInteger(errors, 'MaxResults', Number(rawMaxResults), { min: 1, max: MAX_LIST_RESULTS })
      : (errors.add('MaxResults', 'Member must be an integer', rawMaxResults), undefined);
  }
  errors.throwIfAny();
  return {
    ...(groupName !== undefined && { GroupName: groupName }),
    ...(namePrefix !== undefined && { NamePrefix: namePrefix }),
    ...(state !== undefined && { State: state }),
    MaxResults: maxResults ?? MAX_LIST_RESULTS,
    ...(nextToken !== undefined && { NextToken: nextToken }),
  };
}
