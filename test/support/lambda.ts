import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { LambdaDeps } from '../../lambdas/wiring.ts';
import type { Harness } from './pipeline.ts';

export interface LoggedLine {
  readonly level: string;
  readonly message: string;
  readonly details: unknown[];
}

/** Lambda dependencies around a pipeline harness, with the logger captured (and ECS, when given). */
export function lambdaDeps(h: Harness, extra: Pick<LambdaDeps, 'ecs' | 'delivery'> = {}): { deps: () => LambdaDeps; logged: LoggedLine[]; flushes: () => number } {
  const logged: LoggedLine[] = [];
  let flushes = 0;
  const line = (level: string) => (message: unknown, ...details: unknown[]) => void logged.push({ level, message: String(message), details });
  const deps: LambdaDeps = {
    service: h.deps,
    logger: { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error'), addContext: () => undefined },
    metrics: {
      publishStoredMetrics: () => {
        flushes++;
      },
    },
    exitDeadLetters: h.exitDeadLetters,
    ...extra,
  };
  return { deps: () => deps, logged, flushes: () => flushes };
}

/** An API Gateway HTTP API (payload 2.0) request event. */
export function httpEvent(method: string, path: string, options: { body?: string; headers?: Record<string, string>; query?: Record<string, string> } = {}): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: new URLSearchParams(options.query ?? {}).toString(),
    headers: { 'content-type': 'application/json', ...options.headers },
    ...(options.query ? { queryStringParameters: options.query } : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: 'request',
      routeKey: `${method} ${path}`,
      stage: '$default',
      time: '01/Jan/2026:12:00:00 +0000',
      timeEpoch: 0,
    },
    ...(options.body !== undefined ? { body: options.body } : {}),
    isBase64Encoded: false,
  };
}
