/**
 * The OpenAPI 3.1 document of the HTTP API (DESIGN §4), generated from the
 * zod schemas the validation uses (requests: exits.ts, queries.ts) and the
 * response schemas (responses.ts). `npm run openapi` writes it to
 * docs/openapi.json; the router serves that committed file, so the JSON
 * Schema generator never runs in a handler.
 */
import { readFileSync } from 'node:fs';
import { CONTAINER_PHASES } from '../core/model.ts';
import { WORKLOAD_ID_PATTERN } from '../ports.ts';
import * as z from '../zod.ts';
import { exitEventSchema, MAX_KEY_LENGTH } from './exits.ts';
import { API_LIMITS } from './protocol.ts';
import { containerQuerySchema, eventQuerySchema, streamQuerySchema } from './queries.ts';
import {
  apiErrorBodySchema,
  containerPageSchema,
  containerViewSchema,
  decisionViewSchema,
  eventListSchema,
  eventRecordSchema,
  exitBatchResultSchema,
  instantSchema,
  issueSchema,
  lastExitViewSchema,
  resetResultSchema,
  restartNoticeDataSchema,
  workloadPageSchema,
  workloadViewSchema,
} from './responses.ts';
import { workloadRegistrationSchema } from './workloads.ts';

type JsonObject = Record<string, unknown>;

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** Component schemas: requests described as they are accepted, responses as they are sent. */
function componentSchemas(): JsonObject {
  const requests = z.registry<{ id: string }>();
  requests.add(exitEventSchema, { id: 'ExitEvent' });
  requests.add(z.strictObject({ events: z.array(exitEventSchema).check(z.minLength(1), z.maxLength(API_LIMITS.maxBatch)) }), { id: 'ExitBatch' });
  requests.add(workloadRegistrationSchema, { id: 'WorkloadRegistration' });
  const responses = z.registry<{ id: string }>();
  const named: [z.ZodMiniType, string][] = [
    [instantSchema, 'Instant'],
    [issueSchema, 'Issue'],
    [apiErrorBodySchema, 'ApiError'],
    [decisionViewSchema, 'DecisionView'],
    [exitBatchResultSchema, 'ExitBatchResult'],
    [lastExitViewSchema, 'LastExitView'],
    [containerViewSchema, 'ContainerView'],
    [containerPageSchema, 'ContainerPage'],
    [resetResultSchema, 'ResetResult'],
    [eventRecordSchema, 'EventRecord'],
    [eventListSchema, 'EventList'],
    [restartNoticeDataSchema, 'RestartNoticeData'],
    [workloadViewSchema, 'WorkloadView'],
    [workloadPageSchema, 'WorkloadPage'],
  ];
  for (const [schema, id] of named) responses.add(schema, { id });
  const uri = (id: string) => `#/components/schemas/${id}`;
  const generated = {
    ...z.toJSONSchema(requests, { io: 'input', uri, unrepresentable: 'throw' }).schemas,
    ...z.toJSONSchema(responses, { io: 'output', uri, unrepresentable: 'throw' }).schemas,
  };
  // Each schema is a component of one document, whose dialect OpenAPI 3.1 already states.
  return Object.fromEntries(Object.entries(generated).map(([id, schema]) => [id, withoutDialect(schema as JsonObject)]));
}

function withoutDialect(schema: JsonObject): JsonObject {
  const { $schema: _dialect, $id: _id, ...rest } = schema;
  return rest;
}

/** One query parameter per field of a query schema, described by its own JSON Schema. */
function queryParameters(schema: z.ZodMiniObject): JsonObject[] {
  return Object.entries(schema.shape).map(([name, field]) => {
    const json = withoutDialect(z.toJSONSchema(field as z.ZodMiniType, { io: 'input', unrepresentable: 'throw' }) as JsonObject);
    const { description, ...parameterSchema } = json;
    return { name, in: 'query', required: false, ...(description ? { description } : {}), schema: parameterSchema };
  });
}

const json = (schema: JsonObject, description: string) => ({ description, content: { 'application/json': { schema } } });
const error = (description: string) => json(ref('ApiError'), description);

/** What any route may answer besides its own responses. */
const COMMON_ERRORS = {
  '401': { $ref: '#/components/responses/Unauthorized' },
  '403': { $ref: '#/components/responses/Forbidden' },
  '500': { $ref: '#/components/responses/InternalError' },
  '503': { $ref: '#/components/responses/ServiceUnavailable' },
};

const ECS_DISABLED = error('ECS workloads are not enabled here (the `restart-scheduler:ecs` context on AWS, `--ecs-endpoint` locally), or there is no such workload.');

const WORKLOAD_ID_PARAMETER = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'The workload id, as `ecs run` printed it (e.g. `worker-0a1b2c3d`).',
  schema: { type: 'string', pattern: WORKLOAD_ID_PATTERN.source },
};

const KEY_PARAMETER = {
  name: 'key',
  in: 'path',
  required: true,
  description: 'The container key, `{pod}_{namespace}_{podUid}_{container}_{containerHash}` (empty parts stay empty: `web-0_default__app_`), percent-encoded.',
  schema: { type: 'string', minLength: 1, maxLength: MAX_KEY_LENGTH },
};

/**
 * Marks a path the local runtime's HTTP server answers itself, outside the
 * router the Lambda shares: it does not exist on AWS.
 */
const LOCAL_SERVER = { 'x-local-server': true };

function stream(what: 'restart' | 'record', dataSchema: string, summary: string, description: string): JsonObject {
  return {
    ...LOCAL_SERVER,
    get: {
      operationId: what === 'restart' ? 'streamRestarts' : 'streamEvents',
      summary,
      description,
      tags: ['local runtime'],
      parameters: [
        ...queryParameters(streamQuerySchema),
        {
          name: 'Last-Event-ID',
          in: 'header',
          required: false,
          description: "The `id:` of the last event received: the stream resumes after it. An id beyond the log's end (from an earlier log) gets a `reset` event and the whole log.",
          schema: { type: 'integer', minimum: 0 },
        },
      ],
      responses: {
        '200': {
          description: `Server-Sent Events: \`id:\` the sequence number, \`event: ${what}\`, \`data:\` a ${dataSchema} as JSON; \`event: reset\` when the client's position came from an earlier log; comments as heartbeats.`,
          content: { 'text/event-stream': { schema: { type: 'string' }, 'x-event-data': { [what]: ref(dataSchema) } } },
        },
        '400': error('A bad `key`, `after` or `Last-Event-ID`, or an unknown parameter.'),
        ...COMMON_ERRORS,
      },
    },
  };
}

export function openApiDocument(options: { readonly version: string }): JsonObject {
  return {
    openapi: '3.1.0',
    info: {
      title: 'restart-scheduler',
      version: options.version,
      summary: "Kubelet's CrashLoopBackOff restart scheduling for any workload.",
      description:
        'Workloads post container exits; the service decides when each container may restart, with the restart instants of the kubelet, and records every decision. ' +
        'The same routes are served on AWS (API Gateway, IAM auth) and by the local runtime (`npm start`), which adds the event log, the two Server-Sent Events streams and the web console.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [
      { url: 'http://127.0.0.1:4750', description: 'The local runtime (`npm start`)' },
      { url: '{apiUrl}', description: 'The AWS deployment (the stack output `ApiUrl`), SigV4-signed', variables: { apiUrl: { default: 'https://abc123.execute-api.us-east-1.amazonaws.com' } } },
    ],
    // No auth on a local runtime without --token; a bearer token with one; SigV4 on AWS.
    security: [{}, { bearerToken: [] }, { sigv4: [] }],
    tags: [
      { name: 'exits', description: 'Report container exits' },
      { name: 'containers', description: 'Container status, like kubectl get pods' },
      { name: 'ecs', description: 'ECS tasks the service starts and restarts itself (`restart-scheduler ecs …`)' },
      { name: 'local runtime', description: 'Only in the local runtime' },
      { name: 'meta', description: 'This document' },
    ],
    paths: {
      '/v1/exits': {
        post: {
          operationId: 'postExits',
          summary: 'Report one container exit, or a batch of up to 100',
          tags: ['exits'],
          requestBody: {
            required: true,
            description: `One exit event, or \`{ "events": [...] }\` with 1 to ${API_LIMITS.maxBatch}. At most ${API_LIMITS.maxBodyBytes} bytes; \`finishedAt\` at most ${API_LIMITS.maxFutureSkewMs / 60_000} minutes ahead of the service's clock.`,
            content: { 'application/json': { schema: { oneOf: [ref('ExitEvent'), ref('ExitBatch')] } } },
          },
          responses: {
            '200': json({ oneOf: [ref('DecisionView'), ref('ExitBatchResult')] }, 'The decision (or, for a batch, the decisions in order).'),
            '400': error('The body names every bad field in `issues`; nothing was written.'),
            '413': error(`The body is larger than ${API_LIMITS.maxBodyBytes} bytes; nothing was written.`),
            '415': error('The body is not JSON (or not UTF-8); nothing was written.'),
            ...COMMON_ERRORS,
          },
        },
      },
      '/v1/containers': {
        get: {
          operationId: 'listContainers',
          summary: 'List containers (a page at a time)',
          description: `States: ${CONTAINER_PHASES.join(', ')}.`,
          tags: ['containers'],
          parameters: queryParameters(containerQuerySchema),
          responses: { '200': json(ref('ContainerPage'), 'One page of containers.'), '400': error('A bad or unknown parameter.'), ...COMMON_ERRORS },
        },
      },
      '/v1/containers/{key}': {
        parameters: [KEY_PARAMETER],
        get: {
          operationId: 'getContainer',
          summary: "One container's status",
          tags: ['containers'],
          responses: { '200': json(ref('ContainerView'), 'The container.'), '400': error('Not a container key.'), '404': error('No such container.'), ...COMMON_ERRORS },
        },
        delete: {
          operationId: 'resetContainer',
          summary: "Forget a container's back-off entry (kubelet's Reset)",
          description: 'Its next exit restarts at once and its restart count starts again; its event records stay.',
          tags: ['containers'],
          responses: { '200': json(ref('ResetResult'), 'The entry was forgotten.'), '400': error('Not a container key.'), '404': error('No such container.'), ...COMMON_ERRORS },
        },
      },
      '/v1/events': {
        get: {
          operationId: 'listEvents',
          summary: 'Event records (local runtime; on AWS they are in CloudWatch Logs)',
          tags: ['local runtime'],
          parameters: queryParameters(eventQuerySchema),
          responses: {
            '200': json(ref('EventList'), 'The latest matching records, oldest first.'),
            '400': error('A bad or unknown parameter.'),
            '404': error('On AWS: the records are in CloudWatch Logs (`restart-scheduler events`).'),
            ...COMMON_ERRORS,
          },
        },
      },
      '/v1/ecs/workloads': {
        post: {
          operationId: 'runEcsWorkload',
          summary: 'Register an ECS workload (its RunTask input) and start its first task',
          description: 'Its tasks run with `startedBy = restart-scheduler/<id>/<restartCount>`; each stopped task is an exit of pod `<id>`, and each restart the same RunTask, its `clientToken` derived from the restart id.',
          tags: ['ecs'],
          requestBody: { required: true, content: { 'application/json': { schema: ref('WorkloadRegistration') } } },
          responses: {
            '201': json(ref('WorkloadView'), 'Registered, and its first task started.'),
            '400': error('A bad field, or ECS would not run the task (the issue says why); nothing is left running.'),
            '404': ECS_DISABLED,
            '413': error(`The body is larger than ${API_LIMITS.maxBodyBytes} bytes.`),
            '415': error('The body is not JSON (or not UTF-8).'),
            ...COMMON_ERRORS,
          },
        },
        get: {
          operationId: 'listEcsWorkloads',
          summary: 'List ECS workloads, with the status of their latest task (a page at a time)',
          tags: ['ecs'],
          parameters: [{ name: 'cursor', in: 'query', required: false, description: 'From the previous page.', schema: { type: 'string' } }],
          responses: { '200': json(ref('WorkloadPage'), 'One page of workloads.'), '400': error('A bad or unknown parameter.'), '404': ECS_DISABLED, ...COMMON_ERRORS },
        },
      },
      '/v1/ecs/workloads/{id}': {
        parameters: [WORKLOAD_ID_PARAMETER],
        get: {
          operationId: 'getEcsWorkload',
          summary: 'One ECS workload',
          tags: ['ecs'],
          responses: { '200': json(ref('WorkloadView'), 'The workload.'), '400': error('Not a workload id.'), '404': ECS_DISABLED, ...COMMON_ERRORS },
        },
        delete: {
          operationId: 'stopEcsWorkload',
          summary: 'Stop an ECS workload for good (like deleting a pod)',
          description: 'Its task is stopped (StopTask), its back-off entry forgotten, and nothing starts it again. Stopping it twice is harmless.',
          tags: ['ecs'],
          responses: { '200': json(ref('WorkloadView'), 'Stopped.'), '400': error('Not a workload id.'), '404': ECS_DISABLED, ...COMMON_ERRORS },
        },
      },
      '/v1/restarts/stream': stream('restart', 'RestartNoticeData', 'Follow dispatched restarts', 'One `restart` event per dispatched restart, from now (or after `Last-Event-ID` / `after`). On AWS restarts are EventBridge events instead.'),
      '/v1/events/stream': stream('record', 'EventRecord', 'Follow event records', "One `record` event per event record as it is written, from now (or after `Last-Event-ID` / `after`); each record's sequence number is its line in the event log."),
      '/v1/openapi.json': {
        get: {
          operationId: 'getOpenApiDocument',
          summary: 'This document',
          tags: ['meta'],
          responses: { '200': json({ type: 'object' }, 'The OpenAPI 3.1 document of this API.'), ...COMMON_ERRORS },
        },
      },
      '/': {
        ...LOCAL_SERVER,
        get: {
          operationId: 'getConsole',
          summary: 'The web console (local runtime)',
          description: 'An HTML page; it loads its script and styles from `/console/` on the same origin, and asks for the token when the runtime has one. It needs no token itself.',
          tags: ['local runtime'],
          security: [{}],
          responses: {
            '200': { description: 'The console page.', content: { 'text/html': { schema: { type: 'string' } } } },
            '304': { description: 'Unchanged since the ETag in If-None-Match.' },
            '403': { $ref: '#/components/responses/Forbidden' },
            '503': error('The console could not be built (esbuild is missing: `npm ci`).'),
          },
        },
      },
      '/console/{asset}': {
        ...LOCAL_SERVER,
        get: {
          operationId: 'getConsoleAsset',
          summary: "The web console's script, styles and icon (local runtime)",
          tags: ['local runtime'],
          security: [{}],
          parameters: [{ name: 'asset', in: 'path', required: true, schema: { type: 'string', enum: ['main.js', 'main.css', 'icon.svg'] } }],
          responses: {
            '200': {
              description: 'The asset, gzipped when the client accepts it; revalidated with ETag.',
              content: { 'text/javascript': { schema: { type: 'string' } }, 'text/css': { schema: { type: 'string' } }, 'image/svg+xml': { schema: { type: 'string' } } },
            },
            '304': { description: 'Unchanged since the ETag in If-None-Match.' },
            '403': { $ref: '#/components/responses/Forbidden' },
            '404': error('No such asset.'),
            '503': error('The console could not be built (esbuild is missing: `npm ci`).'),
          },
        },
      },
    },
    components: {
      schemas: componentSchemas(),
      responses: {
        Unauthorized: error('Local runtime with `--token`: the bearer token is missing or wrong.'),
        Forbidden: error('Local runtime without a token: a cross-site request, or a Host that is not a loopback name.'),
        InternalError: error('An unexpected failure; it is logged, and the response says nothing more.'),
        ServiceUnavailable: {
          ...error('The store or the timers are unavailable for a moment: retry.'),
          headers: { 'Retry-After': { description: 'Seconds to wait.', schema: { type: 'integer' } } },
        },
      },
      securitySchemes: {
        bearerToken: { type: 'http', scheme: 'bearer', description: 'The local runtime started with `--token`.' },
        sigv4: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description: 'AWS Signature Version 4 (service `execute-api`), as the CLI signs with the default credential chain.',
          'x-amazon-apigateway-authtype': 'awsSigv4',
        },
      },
    },
  };
}

/** The document as docs/openapi.json holds it: two-space JSON and a final newline, for readable diffs. */
export function renderOpenApiDocument(): string {
  return `${JSON.stringify(openApiDocument({ version: PACKAGE_VERSION }), null, 2)}\n`;
}
