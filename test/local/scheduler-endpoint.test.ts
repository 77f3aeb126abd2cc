import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateScheduleCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  GetScheduleGroupCommand,
  ListSchedulesCommand,
  SchedulerClient,
  UpdateScheduleCommand,
  paginateListSchedules,
  type CreateScheduleCommandInput,
} from '@aws-sdk/client-scheduler';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import {
  LocalSchedulerEndpoint,
  atExpressionUtc,
  type FireContext,
  type LocalSchedule,
  type LocalSchedulerEndpointOptions,
} from '../../lib/local/scheduler-endpoint.ts';
import { parseAtExpression, zonedWallTimeToInstant } from '../../lib/local/scheduler/at-expression.ts';
import { DueQueue } from '../../lib/local/scheduler/due-queue.ts';

const ROLE_ARN = 'arn:aws:iam::000000000000:role/restart-scheduler-invoke';
const TARGET_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:restart-handler';
const DLQ_ARN = 'arn:aws:sqs:us-east-1:000000000000:restart-scheduler-dlq';
/** An instant far enough ahead that nothing in a test reaches it. */
const FAR_FUTURE = 'at(2099-01-01T00:00:00)';
/** An instant long past: the endpoint fires it at once (and its event age is exhausted). */
const PAST = 'at(2020-01-01T00:00:00)';

/**
 * How long a test waits for the endpoint to get somewhere: only a guard against
 * a hang (vi.waitFor's own default, 1 s, is too short for a loaded machine).
 */
const SETTLED = { timeout: 10_000 } as const;

/** The current whole second: due at once, and young enough to be retried. */
function justDue(): string {
  return atExpressionUtc(Math.floor(Date.now() / 1000) * 1000);
}

const directories: string[] = [];
const running: Array<{ endpoint: LocalSchedulerEndpoint; client: SchedulerClient }> = [];

function temporaryFile(): string {
  const directory = mkdtempSync(join(tmpdir(), 'scheduler-endpoint-'));
  directories.push(directory);
  return join(directory, 'schedules.json');
}

type Options = Omit<LocalSchedulerEndpointOptions, 'onFire'> & Partial<Pick<LocalSchedulerEndpointOptions, 'onFire'>>;

async function start(options: Options = {}) {
  const endpoint = new LocalSchedulerEndpoint({ onFire: async () => undefined, ...options });
  const { url } = await endpoint.listen();
  const client = new SchedulerClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  running.push({ endpoint, client });
  return { endpoint, client, url };
}

async function stop(endpoint: LocalSchedulerEndpoint): Promise<void> {
  const index = running.findIndex((r) => r.endpoint === endpoint);
  if (index >= 0) running.splice(index, 1)[0]!.client.destroy();
  await endpoint.close();
}

afterEach(async () => {
  for (const { endpoint, client } of running.splice(0)) {
    client.destroy();
    await endpoint.close();
  }
});

afterAll(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

function input(overrides: Partial<CreateScheduleCommandInput> = {}): CreateScheduleCommandInput {
  return {
    Name: 'restart-abc-1',
    ScheduleExpression: FAR_FUTURE,
    FlexibleTimeWindow: { Mode: 'OFF' },
    Target: { Arn: TARGET_ARN, RoleArn: ROLE_ARN, Input: '{"key":"k","restartCount":1}' },
    ...overrides,
  };
}

/** The next whole second at least `leadMs` ahead: `at()` has whole seconds. */
function nextWholeSecond(leadMs: number): number {
  return Math.ceil((Date.now() + leadMs) / 1000) * 1000;
}

/** Runs the call and returns what it threw, failing if it did not. */
async function rejection(call: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await call;
  } catch (error) {
    return error as Error & { $metadata?: { httpStatusCode?: number } };
  }
  throw new Error('expected the call to fail');
}

interface Fired {
  readonly name: string;
  readonly at: number;
  readonly context: FireContext;
  readonly schedule: LocalSchedule;
}

function recorder(behaviour: (schedule: LocalSchedule, context: FireContext) => Promise<void> = async () => undefined) {
  const fired: Fired[] = [];
  const onFire = async (schedule: LocalSchedule, context: FireContext) => {
    fired.push({ name: schedule.Name, at: Date.now(), context, schedule });
    await behaviour(schedule, context);
  };
  return { fired, onFire };
}

describe('LocalSchedulerEndpoint', () => {
  describe('CreateSchedule, GetSchedule, ListSchedules, DeleteSchedule', () => {
    it('round-trips a schedule with every field the adapter sends', async () => {
      const { client } = await start({ groups: ['restarts'], region: 'eu-west-3', accountId: '123456789012' });
      const before = Date.now();
      const created = await client.send(
        new CreateScheduleCommand(
          input({
            GroupName: 'restarts',
            ScheduleExpressionTimezone: 'UTC',
            ActionAfterCompletion: 'DELETE',
            ClientToken: 'restart-abc-1',
            Description: 'restart 1 of k',
            State: 'ENABLED',
            Target: {
              Arn: TARGET_ARN,
              RoleArn: ROLE_ARN,
              Input: '{"key":"k","restartCount":1}',
              RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 },
              DeadLetterConfig: { Arn: DLQ_ARN },
            },
          }),
        ),
      );
      const after = Date.now();
      expect(created.ScheduleArn).toBe('arn:aws:scheduler:eu-west-3:123456789012:schedule/restarts/restart-abc-1');
      expect(created.$metadata.httpStatusCode).toBe(200);

      const got = await client.send(new GetScheduleCommand({ Name: 'restart-abc-1', GroupName: 'restarts' }));
      const { $metadata, CreationDate, LastModificationDate, ...fields } = got;
      expect($metadata.httpStatusCode).toBe(200);
      expect($metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(fields).toEqual({
        Arn: 'arn:aws:scheduler:eu-west-3:123456789012:schedule/restarts/restart-abc-1',
        Name: 'restart-abc-1',
        GroupName: 'restarts',
        ScheduleExpression: FAR_FUTURE,
        ScheduleExpressionTimezone: 'UTC',
        State: 'ENABLED',
        ActionAfterCompletion: 'DELETE',
        Description: 'restart 1 of k',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: {
          Arn: TARGET_ARN,
          RoleArn: ROLE_ARN,
          Input: '{"key":"k","restartCount":1}',
          RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 },
          DeadLetterConfig: { Arn: DLQ_ARN },
        },
      });
      expect(CreationDate).toBeInstanceOf(Date);
      expect(CreationDate!.getTime()).toBeGreaterThanOrEqual(before);
      expect(CreationDate!.getTime()).toBeLessThanOrEqual(after);
      expect(LastModificationDate).toEqual(CreationDate);

      const listed = await client.send(new ListSchedulesCommand({ GroupName: 'restarts' }));
      expect(listed.Schedules).toEqual([
        {
          Arn: 'arn:aws:scheduler:eu-west-3:123456789012:schedule/restarts/restart-abc-1',
          Name: 'restart-abc-1',
          GroupName: 'restarts',
          State: 'ENABLED',
          CreationDate,
          LastModificationDate,
          Target: { Arn: TARGET_ARN },
        },
      ]);
      expect(listed.NextToken).toBeUndefined();

      const deleted = await client.send(
        new DeleteScheduleCommand({ Name: 'restart-abc-1', GroupName: 'restarts', ClientToken: 'delete-1' }),
      );
      expect(deleted.$metadata.httpStatusCode).toBe(200);
      const gone = await rejection(client.send(new GetScheduleCommand({ Name: 'restart-abc-1', GroupName: 'restarts' })));
      expect(gone.name).toBe('ResourceNotFoundException');
      expect((await client.send(new ListSchedulesCommand({}))).Schedules).toEqual([]);
    });

    it('fills in the service defaults for a minimal request', async () => {
      const { client } = await start();
      const created = await client.send(new CreateScheduleCommand(input()));
      expect(created.ScheduleArn).toBe('arn:aws:scheduler:us-east-1:000000000000:schedule/default/restart-abc-1');
      const got = await client.send(new GetScheduleCommand({ Name: 'restart-abc-1' }));
      expect(got).toMatchObject({
        GroupName: 'default',
        ScheduleExpressionTimezone: 'UTC',
        State: 'ENABLED',
        ActionAfterCompletion: 'NONE',
        Target: { RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 } },
      });
      expect(got.Target?.DeadLetterConfig).toBeUndefined();
      expect(got.Description).toBeUndefined();
    });

    it('returns StartDate, EndDate and target parameters it does not interpret as they were sent', async () => {
      const { client } = await start();
      const startDate = new Date('2030-01-01T00:00:00.000Z');
      const endDate = new Date('2031-01-01T00:00:00.000Z');
      await client.send(
        new CreateScheduleCommand(
          input({
            StartDate: startDate,
            EndDate: endDate,
            Target: { Arn: TARGET_ARN, RoleArn: ROLE_ARN, SqsParameters: { MessageGroupId: 'g1' } },
          }),
        ),
      );
      const got = await client.send(new GetScheduleCommand({ Name: 'restart-abc-1' }));
      expect(got.StartDate).toEqual(startDate);
      expect(got.EndDate).toEqual(endDate);
      expect(got.Target?.SqsParameters).toEqual({ MessageGroupId: 'g1' });
    });

    it('lists by group, name prefix and state, and pages with NextToken', async () => {
      const { client } = await start({ groups: ['other'] });
      const names = Array.from({ length: 7 }, (_, i) => `restart-${i}`);
      for (const name of names) await client.send(new CreateScheduleCommand(input({ Name: name })));
      await client.send(new CreateScheduleCommand(input({ Name: 'paused', State: 'DISABLED' })));
      await client.send(new CreateScheduleCommand(input({ Name: 'restart-x', GroupName: 'other' })));

      const all = await client.send(new ListSchedulesCommand({}));
      expect(all.Schedules?.map((s) => `${s.GroupName}/${s.Name}`)).toEqual([
        'default/paused',
        ...names.map((n) => `default/${n}`),
        'other/restart-x',
      ]);
      const inOther = await client.send(new ListSchedulesCommand({ GroupName: 'other' }));
      expect(inOther.Schedules?.map((s) => s.Name)).toEqual(['restart-x']);
      const byPrefix = await client.send(new ListSchedulesCommand({ GroupName: 'default', NamePrefix: 'restart-' }));
      expect(byPrefix.Schedules?.map((s) => s.Name)).toEqual(names);
      const disabled = await client.send(new ListSchedulesCommand({ State: 'DISABLED' }));
      expect(disabled.Schedules?.map((s) => s.Name)).toEqual(['paused']);

      const firstPage = await client.send(new ListSchedulesCommand({ GroupName: 'default', MaxResults: 3 }));
      expect(firstPage.Schedules).toHaveLength(3);
      expect(firstPage.NextToken).toEqual(expect.any(String));
      const paged: string[] = [];
      let pages = 0;
      for await (const page of paginateListSchedules({ client, pageSize: 3 }, { GroupName: 'default' })) {
        pages++;
        paged.push(...(page.Schedules ?? []).map((s) => s.Name!));
      }
      expect(pages).toBe(3);
      expect(paged).toEqual(['paused', ...names]);
    });
  });

  describe('validation', () => {
    const long = (n: number) => 'a'.repeat(n);
    const target = (overrides: Record<string, unknown>) =>
      ({ Arn: TARGET_ARN, RoleArn: ROLE_ARN, ...overrides }) as CreateScheduleCommandInput['Target'];

    it.each<[string, Partial<CreateScheduleCommandInput>, RegExp]>([
      ['a 65-character Name', { Name: long(65) }, /'Name'.*length less than or equal to 64/],
      ['a Name with a space', { Name: 'a b' }, /'Name'.*regular expression pattern: \^\[0-9a-zA-Z-_.\]\+\$/],
      ['a Name with a slash', { Name: 'a/b' }, /'Name'.*regular expression pattern/],
      ['a GroupName with a colon', { GroupName: 'a:b' }, /'GroupName'.*regular expression pattern/],
      ['no ScheduleExpression', { ScheduleExpression: undefined }, /'ScheduleExpression'.*must not be null/],
      ['a rate() expression', { ScheduleExpression: 'rate(5 minutes)' }, /ScheduleExpression.*one-time schedules only/],
      ['a cron() expression', { ScheduleExpression: 'cron(0 12 * * ? *)' }, /ScheduleExpression.*one-time schedules only/],
      ['an at() with a space for T', { ScheduleExpression: 'at(2030-01-01 00:00:00)' }, /ScheduleExpression.*at\(yyyy-mm-ddThh:mm:ss\)/],
      ['an at() with a one-digit month', { ScheduleExpression: 'at(2030-1-01T00:00:00)' }, /ScheduleExpression.*form/],
      ['an at() with a zone suffix', { ScheduleExpression: 'at(2030-01-01T00:00:00Z)' }, /ScheduleExpression.*form/],
      ['an at() with milliseconds', { ScheduleExpression: 'at(2030-01-01T00:00:00.000)' }, /ScheduleExpression.*form/],
      ['30 February', { ScheduleExpression: 'at(2030-02-30T00:00:00)' }, /ScheduleExpression.*day 30 does not exist/],
      ['29 February of a common year', { ScheduleExpression: 'at(2030-02-29T00:00:00)' }, /ScheduleExpression.*day 29/],
      ['month 13', { ScheduleExpression: 'at(2030-13-01T00:00:00)' }, /ScheduleExpression.*month 13/],
      ['hour 24', { ScheduleExpression: 'at(2030-01-01T24:00:00)' }, /ScheduleExpression.*hour 24/],
      ['second 60', { ScheduleExpression: 'at(2030-01-01T23:59:60)' }, /ScheduleExpression.*second 60/],
      ['an unknown time zone', { ScheduleExpressionTimezone: 'Mars/Olympus_Mons' }, /ScheduleExpressionTimezone 'Mars\/Olympus_Mons'/],
      ['no FlexibleTimeWindow', { FlexibleTimeWindow: undefined }, /'FlexibleTimeWindow'.*must not be null/],
      ['an unknown window Mode', { FlexibleTimeWindow: { Mode: 'SOMETIMES' as 'OFF' } }, /'FlexibleTimeWindow.Mode'.*\[OFF, FLEXIBLE\]/],
      ['FLEXIBLE without a window', { FlexibleTimeWindow: { Mode: 'FLEXIBLE' } }, /MaximumWindowInMinutes is required/],
      ['a 0-minute window', { FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 0 } }, /'FlexibleTimeWindow.MaximumWindowInMinutes'.*greater than or equal to 1/],
      ['a 1441-minute window', { FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 1441 } }, /'FlexibleTimeWindow.MaximumWindowInMinutes'.*less than or equal to 1440/],
      ['a window with Mode OFF', { FlexibleTimeWindow: { Mode: 'OFF', MaximumWindowInMinutes: 5 } }, /MaximumWindowInMinutes must not be set/],
      ['no Target', { Target: undefined }, /'Target'.*must not be null/],
      ['no Target.Arn', { Target: target({ Arn: undefined }) }, /'Target.Arn'.*must not be null/],
      ['no Target.RoleArn', { Target: target({ RoleArn: undefined }) }, /'Target.RoleArn'.*must not be null/],
      ['a RoleArn that is not an IAM role', { Target: target({ RoleArn: 'arn:aws:iam::000000000000:user/me' }) }, /'Target.RoleArn'.*regular expression/],
      ['an empty Target.Input', { Target: target({ Input: '' }) }, /'Target.Input'.*greater than or equal to 1/],
      ['an 8193-character Target.Input', { Target: target({ Input: long(8193) }) }, /'Target.Input'.*less than or equal to 8192/],
      ['186 retry attempts', { Target: target({ RetryPolicy: { MaximumRetryAttempts: 186 } }) }, /'Target.RetryPolicy.MaximumRetryAttempts'.*less than or equal to 185/],
      ['-1 retry attempts', { Target: target({ RetryPolicy: { MaximumRetryAttempts: -1 } }) }, /'Target.RetryPolicy.MaximumRetryAttempts'.*greater than or equal to 0/],
      ['an event age of 59 s', { Target: target({ RetryPolicy: { MaximumEventAgeInSeconds: 59 } }) }, /'Target.RetryPolicy.MaximumEventAgeInSeconds'.*greater than or equal to 60/],
      ['an event age of 86401 s', { Target: target({ RetryPolicy: { MaximumEventAgeInSeconds: 86401 } }) }, /'Target.RetryPolicy.MaximumEventAgeInSeconds'.*less than or equal to 86400/],
      ['a dead-letter ARN that is not a queue', { Target: target({ DeadLetterConfig: { Arn: 'arn:aws:sns:us-east-1:000000000000:t' } }) }, /'Target.DeadLetterConfig.Arn'.*regular expression/],
      ['an unknown ActionAfterCompletion', { ActionAfterCompletion: 'KEEP' as 'NONE' }, /'ActionAfterCompletion'.*\[NONE, DELETE\]/],
      ['an unknown State', { State: 'PAUSED' as 'ENABLED' }, /'State'.*\[ENABLED, DISABLED\]/],
      ['a ClientToken with a space', { ClientToken: 'bad token' }, /'ClientToken'.*regular expression pattern: \^\[a-zA-Z0-9-_\]\+\$/],
      ['a 65-character ClientToken', { ClientToken: long(65) }, /'ClientToken'.*less than or equal to 64/],
      ['a 513-character Description', { Description: long(513) }, /'Description'.*less than or equal to 512/],
    ])('rejects %s with a ValidationException naming the field', async (_, overrides, message) => {
      const { client, endpoint } = await start();
      const error = await rejection(client.send(new CreateScheduleCommand(input(overrides))));
      expect(error.name).toBe('ValidationException');
      expect(error.$metadata?.httpStatusCode).toBe(400);
      expect(error.message).toMatch(message);
      expect(endpoint.schedules()).toEqual([]);
    });

    it('names every bad field of one request', async () => {
      const { client } = await start();
      const error = await rejection(
        client.send(
          new CreateScheduleCommand(
            input({ Name: long(65), State: 'PAUSED' as 'ENABLED', Target: target({ Input: long(8193) }) }),
          ),
        ),
      );
      expect(error.message).toMatch(/^3 validation errors detected: /);
      expect(error.message).toMatch(/'Name'/);
      expect(error.message).toMatch(/'State'/);
      expect(error.message).toMatch(/'Target.Input'/);
    });

    it.each<[string, Partial<CreateScheduleCommandInput>]>([
      ['a 64-character Name', { Name: long(64) }],
      ['a Name of every allowed character class', { Name: 'Az09-_.' }],
      ['29 February of a leap year', { ScheduleExpression: 'at(2028-02-29T23:59:59)' }],
      ['a 1-minute window', { FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 1 } }],
      ['a 1440-minute window', { FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 1440 } }],
      ['an 8192-character Target.Input', { Target: target({ Input: long(8192) }) }],
      ['0 retry attempts and a 60 s event age', { Target: target({ RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 } }) }],
      ['185 retry attempts and a 86400 s event age', { Target: target({ RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 } }) }],
      ['a 64-character ClientToken', { ClientToken: long(64) }],
      ['an IANA time zone', { ScheduleExpressionTimezone: 'Europe/Paris' }],
    ])('accepts %s', async (_, overrides) => {
      const { client } = await start();
      const created = await client.send(new CreateScheduleCommand(input(overrides)));
      expect(created.ScheduleArn).toMatch(/^arn:aws:scheduler:us-east-1:000000000000:schedule\/default\//);
    });

    it('rejects a second schedule of the same name in a group with a ConflictException', async () => {
      const { client, endpoint } = await start({ groups: ['other'] });
      await client.send(new CreateScheduleCommand(input({ ClientToken: 'same' })));
      const error = await rejection(client.send(new CreateScheduleCommand(input({ ClientToken: 'same' }))));
      expect(error.name).toBe('ConflictException');
      expect(error.$metadata?.httpStatusCode).toBe(409);
      expect(error.message).toMatch(/restart-abc-1 already exists/);
      // The same name in another group is another schedule.
      await client.send(new CreateScheduleCommand(input({ GroupName: 'other' })));
      expect(endpoint.schedules()).toHaveLength(2);
    });

    it.each<[string, (client: SchedulerClient) => Promise<unknown>, RegExp]>([
      ['CreateSchedule in an unknown group', (c) => c.send(new CreateScheduleCommand(input({ GroupName: 'nope' }))), /Schedule group nope does not exist/],
      ['GetSchedule of a missing schedule', (c) => c.send(new GetScheduleCommand({ Name: 'missing' })), /Schedule missing does not exist/],
      ['GetSchedule in an unknown group', (c) => c.send(new GetScheduleCommand({ Name: 'x', GroupName: 'nope' })), /Schedule group nope does not exist/],
      ['DeleteSchedule of a missing schedule', (c) => c.send(new DeleteScheduleCommand({ Name: 'missing' })), /Schedule missing does not exist/],
      ['ListSchedules of an unknown group', (c) => c.send(new ListSchedulesCommand({ GroupName: 'nope' })), /Schedule group nope does not exist/],
    ])('answers %s with a ResourceNotFoundException', async (_, call, message) => {
      const { client } = await start();
      const error = await rejection(call(client));
      expect(error.name).toBe('ResourceNotFoundException');
      expect(error.$metadata?.httpStatusCode).toBe(404);
      expect(error.message).toMatch(message);
    });

    it.each<[string, (client: SchedulerClient) => Promise<unknown>, RegExp]>([
      ['MaxResults 0', (c) => c.send(new ListSchedulesCommand({ MaxResults: 0 })), /'MaxResults'.*greater than or equal to 1/],
      ['MaxResults 101', (c) => c.send(new ListSchedulesCommand({ MaxResults: 101 })), /'MaxResults'.*less than or equal to 100/],
      ['an unknown State', (c) => c.send(new ListSchedulesCommand({ State: 'PAUSED' as 'ENABLED' })), /'State'/],
      ['a NamePrefix with a space', (c) => c.send(new ListSchedulesCommand({ NamePrefix: 'a b' })), /'NamePrefix'/],
      ['a forged NextToken', (c) => c.send(new ListSchedulesCommand({ NextToken: 'not-a-token' })), /NextToken is invalid/],
      ['a GetSchedule Name with a space', (c) => c.send(new GetScheduleCommand({ Name: 'a b' })), /'Name'/],
      ['a DeleteSchedule ClientToken with a space', (c) => c.send(new DeleteScheduleCommand({ Name: 'x', ClientToken: 'a b' })), /'ClientToken'/],
    ])('rejects %s with a ValidationException', async (_, call, message) => {
      const { client } = await start();
      const error = await rejection(call(client));
      expect(error.name).toBe('ValidationException');
      expect(error.message).toMatch(message);
    });

    it.each<[string, (client: SchedulerClient) => Promise<unknown>]>([
      ['UpdateSchedule', (c) => c.send(new UpdateScheduleCommand(input()))],
      ['GetScheduleGroup', (c) => c.send(new GetScheduleGroupCommand({ Name: 'default' }))],
    ])('refuses %s as not supported by the local endpoint', async (_, call) => {
      const { client } = await start();
      const error = await rejection(call(client));
      expect(error.name).toBe('ValidationException');
      expect(error.message).toMatch(/not supported by the local EventBridge Scheduler endpoint/);
    });

    it('writes errors as REST-JSON: status, x-amzn-errortype, __type and Message', async () => {
      const { url } = await start();
      const response = await fetch(`${url}/schedules/missing?groupName=default`);
      expect(response.status).toBe(404);
      expect(response.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
      expect(response.headers.get('content-type')).toBe('application/json');
      expect(await response.json()).toEqual({
        __type: 'ResourceNotFoundException',
        Message: 'Schedule missing does not exist.',
      });
      const unknown = await fetch(`${url}/nothing-here`);
      expect(unknown.status).toBe(404);
      expect(unknown.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    });
  });

  describe('time zones', () => {
    it.each([
      ['UTC', 'at(2030-07-01T12:00:00)', '2030-07-01T12:00:00.000Z'],
      ['Europe/Paris', 'at(2030-07-01T12:00:00)', '2030-07-01T10:00:00.000Z'],
      ['Europe/Paris', 'at(2030-01-15T12:00:00)', '2030-01-15T11:00:00.000Z'],
      ['Asia/Kolkata', 'at(2030-01-15T05:30:00)', '2030-01-15T00:00:00.000Z'],
      // 02:30 does not exist on 10 March 2030 in New York (02:00 → 03:00): it runs at 03:30 EDT.
      ['America/New_York', 'at(2030-03-10T02:30:00)', '2030-03-10T07:30:00.000Z'],
      // 01:30 happens twice on 3 November 2030 in New York: the first (EDT) one.
      ['America/New_York', 'at(2030-11-03T01:30:00)', '2030-11-03T05:30:00.000Z'],
    ])('reads %s %s as %s', async (timezone, expression, instant) => {
      const { client, endpoint } = await start();
      await client.send(
        new CreateScheduleCommand(input({ ScheduleExpression: expression, ScheduleExpressionTimezone: timezone })),
      );
      expect(new Date(endpoint.schedules()[0]!.ScheduledAt).toISOString()).toBe(instant);
      const got = await client.send(new GetScheduleCommand({ Name: 'restart-abc-1' }));
      expect(got.ScheduleExpressionTimezone).toBe(timezone);
    });

    it('agrees with Intl on every hour of a year with two DST changes', () => {
      const zone = 'Europe/Berlin';
      const format = new Intl.DateTimeFormat('sv-SE', {
        timeZone: zone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
        hourCycle: 'h23',
      });
      for (let instant = Date.UTC(2030, 0, 1); instant < Date.UTC(2031, 0, 1); instant += 3_600_000) {
        const wall = parseAtExpression(`at(${format.format(new Date(instant)).replace(' ', 'T')})`);
        if (typeof wall === 'string') throw new Error(wall);
        const back = zonedWallTimeToInstant(wall, zone);
        // Wall times that occur twice resolve to the first occurrence.
        expect(back === instant || back === instant - 3_600_000).toBe(true);
        if (back !== instant) expect(format.format(new Date(back))).toBe(format.format(new Date(instant)));
      }
    });
  });

  describe('firing', () => {
    it('fires an at() schedule once, not before its instant, deletes it with ActionAfterCompletion DELETE, and skips one deleted before', async () => {
      const { fired, onFire } = recorder();
      // The endpoint's clock stands still while the schedules are set up, so the
      // instant cannot pass before the doomed one is deleted however slow the
      // requests are; then it follows real time again.
      let heldAt: number | undefined = Date.now();
      const { client, endpoint } = await start({ onFire, now: () => heldAt ?? Date.now() });
      const instant = nextWholeSecond(300);
      await client.send(
        new CreateScheduleCommand(
          input({ ScheduleExpression: atExpressionUtc(instant), ActionAfterCompletion: 'DELETE' }),
        ),
      );
      // A schedule deleted before the same instant must stay silent.
      await client.send(new CreateScheduleCommand(input({ Name: 'doomed', ScheduleExpression: atExpressionUtc(instant) })));
      await client.send(new DeleteScheduleCommand({ Name: 'doomed' }));
      heldAt = undefined;
      endpoint.poll();
      await vi.waitFor(() => expect(endpoint.schedules()).toEqual([]), { ...SETTLED, interval: 5 });
      expect(fired.map((f) => f.name)).toEqual(['restart-abc-1']);
      const [first] = fired;
      const latenessMs = first!.at - instant;
      // Reported, not bounded: how late a timer fires depends on how busy the machine is.
      console.log(`scheduler endpoint: fired ${latenessMs} ms after the at() instant`);
      expect(latenessMs).toBeGreaterThanOrEqual(0);
      expect(first!.context).toEqual({ attempt: 1, scheduledAt: instant, firedAt: expect.any(Number) });
      expect(first!.context.firedAt).toBeGreaterThanOrEqual(instant);
      expect(first!.schedule).toMatchObject({
        Name: 'restart-abc-1',
        GroupName: 'default',
        ScheduledAt: instant,
        Target: { Arn: TARGET_ARN, Input: '{"key":"k","restartCount":1}' },
      });
      const gone = await rejection(client.send(new GetScheduleCommand({ Name: 'restart-abc-1' })));
      expect(gone.name).toBe('ResourceNotFoundException');
    });

    it('keeps a fired schedule with ActionAfterCompletion NONE, unchanged, and never fires it again', async () => {
      const dataFile = temporaryFile();
      const { fired, onFire } = recorder();
      const first = await start({ dataFile, onFire });
      await first.client.send(new CreateScheduleCommand(input({ ScheduleExpression: PAST })));
      await vi.waitFor(() => expect(first.endpoint.schedules()[0]?.CompletedAt).toEqual(expect.any(Number)), SETTLED);
      const got = await first.client.send(new GetScheduleCommand({ Name: 'restart-abc-1' }));
      expect(got.State).toBe('ENABLED');
      await stop(first.endpoint);

      const second = await start({ dataFile, onFire });
      expect(second.endpoint.schedules()).toHaveLength(1);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(fired).toHaveLength(1);
    });

    it('never fires a DISABLED schedule', async () => {
      const { fired, onFire } = recorder();
      const { client, endpoint } = await start({ onFire });
      await client.send(new CreateScheduleCommand(input({ ScheduleExpression: PAST, State: 'DISABLED' })));
      await client.send(new CreateScheduleCommand(input({ Name: 'enabled', ScheduleExpression: PAST })));
      await vi.waitFor(() => expect(fired.map((f) => f.name)).toEqual(['enabled']), SETTLED);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(fired.map((f) => f.name)).toEqual(['enabled']);
      expect(endpoint.schedules().find((s) => s.Name === 'restart-abc-1')?.CompletedAt).toBeUndefined();
    });

    it('fires a FLEXIBLE schedule at the start of its window', async () => {
      const { fired, onFire } = recorder();
      const { client } = await start({ onFire });
      await client.send(
        new CreateScheduleCommand(input({ ScheduleExpression: PAST, FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 } })),
      );
      await vi.waitFor(() => expect(fired).toHaveLength(1), SETTLED);
    });

    it('retries a failing target with growing delays, then dead-letters it and completes it', async () => {
      const failure = new Error('target unavailable');
      const { fired, onFire } = recorder(async () => {
        throw failure;
      });
      const deadLetters: Array<{ name: string; error: unknown; context: unknown }> = [];
      const { client, endpoint } = await start({
        onFire,
        retryBaseDelayMs: 20,
        onDeadLetter: (schedule, error, context) => {
          deadLetters.push({ name: schedule.Name, error, context });
        },
      });
      await client.send(
        new CreateScheduleCommand(
          input({
            ScheduleExpression: justDue(),
            ActionAfterCompletion: 'DELETE',
            Target: {
              Arn: TARGET_ARN,
              RoleArn: ROLE_ARN,
              RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 60 },
              DeadLetterConfig: { Arn: DLQ_ARN },
            },
          }),
        ),
      );
      await vi.waitFor(() => expect(endpoint.schedules()).toEqual([]), SETTLED);
      expect(fired.map((f) => f.context.attempt)).toEqual([1, 2, 3, 4]);
      const gaps = fired.slice(1).map((f, i) => f.at - fired[i]!.at);
      console.log(`scheduler endpoint: retry gaps ${gaps.join(', ')} ms (base 20 ms, doubling)`);
      expect(gaps[0]).toBeGreaterThanOrEqual(20);
      expect(gaps[1]).toBeGreaterThanOrEqual(40);
      expect(gaps[2]).toBeGreaterThanOrEqual(80);
      expect(deadLetters).toEqual([
        { name: 'restart-abc-1', error: failure, context: { reason: 'MaximumRetryAttemptsExceeded', attempts: 4 } },
      ]);
    });

    it('stops retrying once MaximumEventAgeInSeconds has passed', async () => {
      let offsetMs = 0;
      const now = () => Date.now() + offsetMs;
      const { fired, onFire } = recorder(async () => {
        offsetMs += 61_000;
        throw new Error('down for a minute');
      });
      const deadLetters: unknown[] = [];
      const { client, endpoint } = await start({
        onFire,
        now,
        retryBaseDelayMs: 10,
        onDeadLetter: (_, __, context) => {
          deadLetters.push(context);
        },
      });
      await client.send(
        new CreateScheduleCommand(
          input({
            ScheduleExpression: justDue(),
            Target: {
              Arn: TARGET_ARN,
              RoleArn: ROLE_ARN,
              RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 60 },
              DeadLetterConfig: { Arn: DLQ_ARN },
            },
          }),
        ),
      );
      await vi.waitFor(() => expect(endpoint.schedules()[0]?.CompletedAt).toEqual(expect.any(Number)), SETTLED);
      expect(fired).toHaveLength(1);
      expect(deadLetters).toEqual([{ reason: 'MaximumEventAgeExceeded', attempts: 1 }]);
    });

    it('delivers once after a failure that a retry overcomes, with no dead letter', async () => {
      let calls = 0;
      const { fired, onFire } = recorder(async () => {
        if (++calls === 1) throw new Error('first call fails');
      });
      const onDeadLetter = vi.fn();
      const { client, endpoint } = await start({ onFire, onDeadLetter, retryBaseDelayMs: 5 });
      await client.send(
        new CreateScheduleCommand(
          input({
            ScheduleExpression: justDue(),
            ActionAfterCompletion: 'DELETE',
            Target: { Arn: TARGET_ARN, RoleArn: ROLE_ARN, DeadLetterConfig: { Arn: DLQ_ARN } },
          }),
        ),
      );
      await vi.waitFor(() => expect(endpoint.schedules()).toEqual([]), SETTLED);
      expect(fired.map((f) => f.context.attempt)).toEqual([1, 2]);
      expect(onDeadLetter).not.toHaveBeenCalled();
    });

    it('fires by an injected clock when poll() is called after the clock moves', async () => {
      let clock = Date.UTC(2030, 0, 1, 12, 0, 0);
      const { fired, onFire } = recorder();
      const { client, endpoint } = await start({ onFire, now: () => clock });
      await client.send(new CreateScheduleCommand(input({ ScheduleExpression: 'at(2030-01-01T12:01:00)' })));
      clock += 59_999;
      endpoint.poll();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(fired).toEqual([]);
      clock += 1;
      endpoint.poll();
      await vi.waitFor(() => expect(fired).toHaveLength(1), SETTLED);
      expect(fired[0]!.context).toEqual({ attempt: 1, scheduledAt: Date.UTC(2030, 0, 1, 12, 1, 0), firedAt: clock });
      await vi.waitFor(() => expect(endpoint.schedules()[0]?.CompletedAt).toBe(clock), SETTLED);
    });

    it('fires 1,000 schedules due at the same instant exactly once each', async () => {
      const { fired, onFire } = recorder();
      // A manual clock: the instant comes when the test moves the clock, however
      // long creating 1,000 schedules takes.
      const instant = Date.UTC(2030, 0, 1, 12, 0, 0);
      let clock = instant - 60_000;
      const { client, endpoint } = await start({ onFire, dataFile: temporaryFile(), now: () => clock });
      const count = 1000;
      const created = Date.now();
      const names = Array.from({ length: count }, (_, i) => `restart-${String(i).padStart(4, '0')}`);
      for (let i = 0; i < count; i += 50) {
        await Promise.all(
          names.slice(i, i + 50).map((Name) =>
            client.send(
              new CreateScheduleCommand(
                input({ Name, ScheduleExpression: atExpressionUtc(instant), ActionAfterCompletion: 'DELETE' }),
              ),
            ),
          ),
        );
      }
      const createMs = Date.now() - created;
      // Otherwise the schedules fired one by one as they were created, not at once.
      expect(fired, 'nothing fired before its instant').toEqual([]);
      clock = instant;
      const reached = Date.now();
      endpoint.poll();
      await vi.waitFor(() => expect(endpoint.schedules()).toEqual([]), { ...SETTLED, interval: 10 });
      const counts = new Map<string, number>();
      for (const f of fired) counts.set(f.name, (counts.get(f.name) ?? 0) + 1);
      expect([...counts.keys()].sort()).toEqual(names);
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
      // Reported, not bounded: how fast 1,000 deliveries go depends on the machine.
      console.log(`scheduler endpoint: ${count} creates in ${createMs} ms; all fired and deleted ${Date.now() - reached} ms after the instant`);
      expect(fired.every((f) => f.context.scheduledAt === instant && f.context.firedAt >= instant)).toBe(true);
    });
  });

  describe('persistence', () => {
    it('brings schedules back after a restart, with the same fields', async () => {
      const dataFile = temporaryFile();
      const first = await start({ dataFile, groups: ['restarts'] });
      await first.client.send(new CreateScheduleCommand(input({ GroupName: 'restarts', Description: 'kept' })));
      await first.client.send(new CreateScheduleCommand(input({ Name: 'paused', State: 'DISABLED' })));
      const before = await first.client.send(new GetScheduleCommand({ Name: 'restart-abc-1', GroupName: 'restarts' }));
      const schedulesBefore = first.endpoint.schedules();
      await stop(first.endpoint);

      const second = await start({ dataFile, groups: ['restarts'] });
      expect(second.endpoint.schedules()).toEqual(schedulesBefore);
      const after = await second.client.send(new GetScheduleCommand({ Name: 'restart-abc-1', GroupName: 'restarts' }));
      expect({ ...after, $metadata: undefined }).toEqual({ ...before, $metadata: undefined });
      await second.client.send(new DeleteScheduleCommand({ Name: 'paused' }));
      await stop(second.endpoint);

      const third = new LocalSchedulerEndpoint({ dataFile, groups: ['restarts'], onFire: async () => undefined });
      expect(third.schedules().map((s) => s.Name)).toEqual(['restart-abc-1']);
      await third.close();
    });

    it('keeps a fired schedule until onFire resolves, and fires it again after a restart', async () => {
      const dataFile = temporaryFile();
      const hung = recorder(() => new Promise<void>(() => undefined));
      const first = await start({ dataFile, onFire: hung.onFire });
      await first.client.send(new CreateScheduleCommand(input({ ScheduleExpression: PAST, ActionAfterCompletion: 'DELETE' })));
      await vi.waitFor(() => expect(hung.fired).toHaveLength(1), SETTLED);
      await stop(first.endpoint);
      const onDisk = JSON.parse(readFileSync(dataFile, 'utf8')) as { schedules: LocalSchedule[] };
      expect(onDisk.schedules.map((s) => s.Name)).toEqual(['restart-abc-1']);

      const { fired, onFire } = recorder();
      const second = await start({ dataFile, onFire });
      await vi.waitFor(() => expect(second.endpoint.schedules()).toEqual([]), SETTLED);
      expect(fired.map((f) => f.name)).toEqual(['restart-abc-1']);
    });

    it('fires schedules that fell due while the endpoint was down at once at start', async () => {
      const dataFile = temporaryFile();
      const first = await start({ dataFile });
      const instant = nextWholeSecond(60_000);
      await first.client.send(
        new CreateScheduleCommand(input({ ScheduleExpression: atExpressionUtc(instant), ActionAfterCompletion: 'DELETE' })),
      );
      await stop(first.endpoint);

      // Started again ten seconds after the instant, by its clock, while in real
      // time the instant is still about a minute away.
      const { fired, onFire } = recorder();
      const now = () => Date.now() + 70_000;
      const startedAt = now();
      const second = await start({ dataFile, onFire, now });
      await vi.waitFor(() => expect(fired).toHaveLength(1), SETTLED);
      // At once at start, not once real time reaches the instant.
      expect(fired[0]!.at).toBeLessThan(instant);
      expect(fired[0]!.context.firedAt).toBeGreaterThanOrEqual(startedAt);
      expect(fired[0]!.context.scheduledAt).toBe(instant);
      await vi.waitFor(() => expect(second.endpoint.schedules()).toEqual([]), SETTLED);
    });

    it('resumes a pending retry after a restart with its attempt count', async () => {
      const dataFile = temporaryFile();
      const failing = recorder(async () => {
        throw new Error('down');
      });
      const first = await start({ dataFile, onFire: failing.onFire, retryBaseDelayMs: 60_000 });
      await first.client.send(new CreateScheduleCommand(input({ ScheduleExpression: justDue() })));
      await vi.waitFor(() => expect(first.endpoint.schedules()[0]?.Delivery?.Attempts).toBe(1), SETTLED);
      await stop(first.endpoint);
      const onDisk = JSON.parse(readFileSync(dataFile, 'utf8')) as { schedules: LocalSchedule[] };
      expect(onDisk.schedules[0]?.Delivery).toMatchObject({ Attempts: 1, LastError: 'down' });

      // The retry is a minute away; a clock a minute ahead makes it due at start.
      const { fired, onFire } = recorder();
      await start({ dataFile, onFire, now: () => Date.now() + 61_000 });
      await vi.waitFor(() => expect(fired).toHaveLength(1), SETTLED);
      expect(fired[0]!.context.attempt).toBe(2);
    });

    it('refuses to start on a file that is not a schedule file', () => {
      const dataFile = temporaryFile();
      writeFileSync(dataFile, '{"schedules": ');
      expect(() => new LocalSchedulerEndpoint({ dataFile, onFire: async () => undefined })).toThrow(/not valid JSON/);
      writeFileSync(dataFile, '{"version": 7, "generation": 0, "schedules": []}');
      expect(() => new LocalSchedulerEndpoint({ dataFile, onFire: async () => undefined })).toThrow(/version 1/);
    });

    it('journals each change and compacts the journal into the snapshot once it outgrows it', async () => {
      const dataFile = temporaryFile();
      const first = await start({ dataFile });
      const bigInput = JSON.stringify({ padding: 'x'.repeat(8000) });
      const names = Array.from({ length: 150 }, (_, i) => `big-${String(i).padStart(3, '0')}`);
      for (const Name of names) {
        await first.client.send(
          new CreateScheduleCommand(input({ Name, Target: { Arn: TARGET_ARN, RoleArn: ROLE_ARN, Input: bigInput } })),
        );
      }
      await first.client.send(new DeleteScheduleCommand({ Name: 'big-000' }));
      // 150 changes of ~8 KiB passed 1 MiB: the journal was folded into the snapshot meanwhile.
      const snapshot = JSON.parse(readFileSync(dataFile, 'utf8')) as { generation: number; schedules: LocalSchedule[] };
      expect(snapshot.generation).toBe(1);
      expect(snapshot.schedules.length).toBeGreaterThan(100);
      const journalLines = readFileSync(`${dataFile}.journal`, 'utf8').split('\n').filter(Boolean);
      expect(journalLines.length).toBeLessThan(50);
      expect(JSON.parse(journalLines.at(-1)!)).toEqual({ delete: { GroupName: 'default', Name: 'big-000' }, generation: 1 });

      // Read back from snapshot + journal, as after a crash (no compaction at close).
      const reread = new LocalSchedulerEndpoint({ dataFile, onFire: async () => undefined });
      expect(reread.schedules().map((s) => s.Name).sort()).toEqual(names.slice(1));
      expect(reread.schedules()).toEqual(expect.arrayContaining([...first.endpoint.schedules()]));
    });

    it('ignores a journal line torn by a crash and lines already in the snapshot', () => {
      const dataFile = temporaryFile();
      const schedule = (Name: string) => ({
        Arn: `arn:aws:scheduler:us-east-1:000000000000:schedule/default/${Name}`,
        Name,
        GroupName: 'default',
        ScheduleExpression: FAR_FUTURE,
        ScheduleExpressionTimezone: 'UTC',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: { Arn: TARGET_ARN, RoleArn: ROLE_ARN, RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 } },
        State: 'ENABLED',
        ActionAfterCompletion: 'NONE',
        CreationDate: 0,
        LastModificationDate: 0,
        ScheduledAt: Date.UTC(2099, 0, 1),
      });
      writeFileSync(dataFile, JSON.stringify({ version: 1, generation: 2, schedules: [schedule('in-snapshot')] }));
      writeFileSync(
        `${dataFile}.journal`,
        [
          // Generation 1: written before the snapshot was taken, whose rename beat the journal's truncation.
          JSON.stringify({ delete: { GroupName: 'default', Name: 'in-snapshot' }, generation: 1 }),
          JSON.stringify({ put: schedule('after-snapshot'), generation: 2 }),
          '{"put": {"Name": "torn',
        ].join('\n'),
      );
      const endpoint = new LocalSchedulerEndpoint({ dataFile, onFire: async () => undefined });
      expect(endpoint.schedules().map((s) => s.Name)).toEqual(['in-snapshot', 'after-snapshot']);

      writeFileSync(`${dataFile}.journal`, '{"torn\n' + JSON.stringify({ put: schedule('x'), generation: 2 }) + '\n');
      expect(() => new LocalSchedulerEndpoint({ dataFile, onFire: async () => undefined })).toThrow(/line 1 is not valid JSON/);
    });

    it('fires 10,000 schedules loaded past due exactly once each', async () => {
      const dataFile = temporaryFile();
      const template = {
        GroupName: 'default',
        ScheduleExpression: PAST,
        ScheduleExpressionTimezone: 'UTC',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: { Arn: TARGET_ARN, RoleArn: ROLE_ARN, RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 } },
        State: 'ENABLED',
        ActionAfterCompletion: 'DELETE',
        CreationDate: 0,
        LastModificationDate: 0,
        ScheduledAt: Date.UTC(2020, 0, 1),
      };
      const count = 10_000;
      const schedules = Array.from({ length: count }, (_, i) => ({
        ...template,
        Name: `s-${i}`,
        Arn: `arn:aws:scheduler:us-east-1:000000000000:schedule/default/s-${i}`,
      }));
      writeFileSync(dataFile, JSON.stringify({ version: 1, generation: 0, schedules }));
      const counts = new Map<string, number>();
      const started = Date.now();
      const { endpoint } = await start({
        dataFile,
        onFire: async (schedule) => {
          counts.set(schedule.Name, (counts.get(schedule.Name) ?? 0) + 1);
        },
      });
      await vi.waitFor(() => expect(endpoint.schedules()).toEqual([]), { ...SETTLED, interval: 10 });
      console.log(`scheduler endpoint: ${count} past-due schedules fired and deleted in ${Date.now() - started} ms`);
      expect(counts.size).toBe(count);
      expect([...counts.values()].every((n) => n === 1)).toBe(true);
      await endpoint.close();
      expect(JSON.parse(readFileSync(dataFile, 'utf8'))).toEqual({ version: 1, generation: 1, schedules: [] });
      expect(readFileSync(`${dataFile}.journal`, 'utf8')).toBe('');
    });
  });
});

describe('DueQueue', () => {
  it('pops entries in due order (insertion order on ties) and removes any entry', () => {
    const queue = new DueQueue<number>();
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const entries = Array.from({ length: 50_000 }, (_, i) => ({ i, dueAt: Math.floor(random() * 1000) }));
    const handles = entries.map((e) => queue.push(e.i, e.dueAt));
    const removed = new Set<number>();
    for (let i = 0; i < entries.length; i += 3) {
      expect(queue.remove(handles[i]!)).toBe(true);
      removed.add(i);
    }
    expect(queue.remove(handles[0]!)).toBe(false);
    const expected = entries
      .filter((e) => !removed.has(e.i))
      .sort((a, b) => a.dueAt - b.dueAt || a.i - b.i)
      .map((e) => e.i);
    const popped: number[] = [];
    for (let entry = queue.pop(); entry; entry = queue.pop()) popped.push(entry.value);
    expect(popped).toEqual(expected);
    expect(queue.size).toBe(0);
  });
});
