import { RemovalPolicy, Stack, ArnFormat } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** The routes of DESIGN §4 served on AWS, each behind IAM authorization. */
export const API_ROUTES = [
  { method: apigw.HttpMethod.POST, path: '/v1/exits' },
  { method: apigw.HttpMethod.GET, path: '/v1/containers' },
  { method: apigw.HttpMethod.GET, path: '/v1/containers/{key}' },
  { method: apigw.HttpMethod.DELETE, path: '/v1/containers/{key}' },
  // The OpenAPI 3.1 document of these routes (docs/openapi.json).
  { method: apigw.HttpMethod.GET, path: '/v1/openapi.json' },
] as const;

export type RouteKey = `${(typeof API_ROUTES)[number]['method']} ${(typeof API_ROUTES)[number]['path']}`;

export interface IngressProps {
  /** The exit handler, which serves every route. */
  readonly handler: lambda.IFunction;
  /**
   * Steady-state requests per second the stage accepts across all callers.
   * @default 100
   */
  readonly throttleRateLimit?: number;
  /**
   * Requests the stage accepts in a burst.
   * @default 200
   */
  readonly throttleBurstLimit?: number;
  /**
   * Retention of the access log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly accessLogRetention?: logs.RetentionDays;
  /**
   * What happens to the access log group when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly accessLogRemovalPolicy?: RemovalPolicy;
}

/**
 * The HTTP API (API Gateway v2): IAM (SigV4) authorization on every route,
 * access logs, stage throttling, and the grant a workload needs to post exits.
 */
export class Ingress extends Construct {
  readonly api: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  readonly accessLogGroup: logs.LogGroup;
  readonly routes: ReadonlyMap<RouteKey, apigw.HttpRoute>;

  constructor(scope: Construct, id: string, props: IngressProps) {
    super(scope, id);
    this.api = new apigw.HttpApi(this, 'Api', {
      description: 'restart-scheduler: exit events and container status (SigV4)',
      // The stage is created below, with access logs and throttling.
      createDefaultStage: false,
    });
    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.accessLogRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.stage = new apigw.HttpStage(this, 'Stage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit ?? 100, burstLimit: props.throttleBurstLimit ?? 200 },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogGroup),
        // One JSON line per request: who called (the SigV4 identity), what, and how it went.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            requestTime: '$context.requestTime',
            sourceIp: '$context.identity.sourceIp',
            caller: '$context.identity.caller',
            userArn: '$context.identity.userArn',
            routeKey: '$context.routeKey',
            status: '$context.status',
            protocol: '$context.protocol',
            responseLength: '$context.responseLength',
            latencyMs: '$context.responseLatency',
            integrationLatencyMs: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
            authorizerError: '$context.authorizer.error',
          }),
        ),
      },
    });

    const integration = new HttpLambdaIntegration('Handler', props.handler);
    const authorizer = new HttpIamAuthorizer();
    const routes = new Map<RouteKey, apigw.HttpRoute>();
    for (const { method, path } of API_ROUTES) {
      const [route] = this.api.addRoutes({ path, methods: [method], integration, authorizer });
      routes.set(`${method} ${path}`, route!);
    }
    this.routes = routes;
  }

  /** The API's base URL (the `$default` stage). */
  get url(): string {
    return this.stage.url;
  }

  /** The execute-api ARN of one route on the deployed stage. */
  routeArn(method: apigw.HttpMethod, path: string): string {
    return Stack.of(this).formatArn({
      service: 'execute-api',
      resource: this.api.apiId,
      resourceName: `${this.stage.stageName}/${method}${path}`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  }

  /**
   * Lets a workload's role post exit events: execute-api:Invoke on the
   * `POST /v1/exits` route of the deployed stage, and nothing else (not the
   * status routes, not other stages).
   */
  grantPostExits(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: [this.routeArn(apigw.HttpMethod.POST, '/v1/exits')],
    });
  }
}
