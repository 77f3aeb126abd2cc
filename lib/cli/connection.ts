/**
 * How the commands that talk to the API connect: `--endpoint`, `--token` for a
 * local runtime started with one, and SigV4 signing (default credential chain)
 * for the AWS deployment. Also the one place that turns a failed request into
 * a message a user can act on.
 */
import { Option, type Command } from 'commander';
import { ApiError, RestartSchedulerClient } from '../client/client.ts';
import { createSigV4Signer, executeApiRegion, type CredentialSource } from '../client/sigv4.ts';
import { isLoopbackHost } from '../local/runtime.ts';
import { UsageError } from './errors.ts';
import { ENV_PREFIX } from './local.ts';

/** Where `restart-scheduler local` (and `npm start`) listens by default. */
export const DEFAULT_ENDPOINT = 'http://127.0.0.1:4750';
export const ENDPOINT_ENV = `${ENV_PREFIX}ENDPOINT`;
export const TOKEN_ENV = `${ENV_PREFIX}TOKEN`;

export interface ConnectionFlags {
  readonly endpoint: string;
  readonly token?: string;
  readonly aws?: boolean;
  readonly region?: string;
  readonly profile?: string;
}

/** The connection flags, added to each command that calls the API. */
export function addConnectionOptions(command: Command): Command {
  return command
    .addOption(new Option('--endpoint <url>', 'the API: a local runtime or the AWS invoke URL').env(ENDPOINT_ENV).default(DEFAULT_ENDPOINT))
    .addOption(new Option('--token <token>', 'bearer token of a local runtime started with --token').env(TOKEN_ENV))
    .addOption(new Option('--aws', 'sign requests with SigV4 (implied by an *.execute-api.<region>.amazonaws.com endpoint)'))
    .addOption(new Option('--region <region>', 'AWS region for signing and Logs Insights (default: from the endpoint, else AWS_REGION)'))
    .addOption(new Option('--profile <name>', 'AWS profile for the default credential chain').env('AWS_PROFILE'));
}

export interface AwsTarget {
  readonly region: string;
  readonly profile?: string;
}

export interface Connection {
  readonly client: RestartSchedulerClient;
  readonly endpoint: string;
  /** Set when requests are signed for the AWS deployment. */
  readonly aws?: AwsTarget;
}

export interface ConnectOptions {
  /** Overrides the default credential chain (tests). */
  readonly credentials?: CredentialSource;
  readonly fetch?: typeof fetch;
  readonly env?: NodeJS.ProcessEnv;
}

/** The client the flags describe; a bad endpoint or a missing region is a usage error. */
export function connect(flags: ConnectionFlags, options: ConnectOptions = {}): Connection {
  const env = options.env ?? process.env;
  let url: URL;
  try {
    url = new URL(flags.endpoint);
  } catch {
    throw new UsageError(`--endpoint: expected a URL such as ${DEFAULT_ENDPOINT}, got ${JSON.stringify(flags.endpoint)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--endpoint: expected an http:// or https:// URL, got ${JSON.stringify(flags.endpoint)}`);
  }
  const hostRegion = executeApiRegion(url);
  const endpoint = url.toString().replace(/\/$/, '');
  if (!flags.aws && hostRegion === undefined) {
    return { endpoint, client: new RestartSchedulerClient({ endpoint, ...(flags.token ? { token: flags.token } : {}), ...(options.fetch ? { fetch: options.fetch } : {}) }) };
  }
  const region = flags.region ?? hostRegion ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) throw new UsageError('--region: required to sign requests for this endpoint (or set AWS_REGION)');
  const aws: AwsTarget = { region, ...(flags.profile ? { profile: flags.profile } : {}) };
  const signer = createSigV4Signer({
    region,
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(flags.profile ? { profile: flags.profile } : {}),
  });
  // IAM authorizes the AWS deployment: a bearer token would only be in the way of the signature.
  return { endpoint, aws, client: new RestartSchedulerClient({ endpoint, signer, ...(options.fetch ? { fetch: options.fetch } : {}) }) };
}

/** Network error codes (Node and undici) that mean "nothing answered there". */
const UNREACHABLE: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connect timeout',
  UND_ERR_SOCKET: 'connection closed',
};

/** The first known network error code in an error's cause chain. */
function networkErrorCode(error: unknown, depth = 0): string | undefined {
  if (depth > 5 || typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code in UNREACHABLE) return code;
  if (error instanceof AggregateError) {
    for (const inner of error.errors) {
      const found = networkErrorCode(inner, depth + 1);
      if (found) return found;
    }
  }
  return networkErrorCode((error as { cause?: unknown }).cause, depth + 1);
}

function isLocalEndpoint(endpoint: string): boolean {
  try {
    return isLoopbackHost(new URL(endpoint).hostname);
  } catch {
    return false;
  }
}

/**
 * A failed API call as an error whose message says what happened and what
 * to do: the API's message and every issue it named, or why the endpoint
 * could not be reached.
 */
export function explainRequestError(error: unknown, connection: Pick<Connection, 'endpoint' | 'aws'>): Error {
  if (error instanceof ApiError) {
    const lines = [`the API answered ${error.status}${error.body.error ? ` ${error.body.error}` : ''}: ${error.body.message ?? '(no message)'}`];
    for (const issue of error.body.issues ?? []) lines.push(`  ${issue.path || '(body)'}: ${issue.message}`);
    if (error.status === 401) lines.push(`hint: this runtime requires a token: pass --token or set ${TOKEN_ENV}`);
    if (error.status === 403 && connection.aws) lines.push('hint: the credentials need execute-api:Invoke on this route of the API');
    if (error.status === 403 && !connection.aws) lines.push('hint: an AWS endpoint behind a custom domain needs --aws (and --region) to sign requests');
    return new Error(lines.join('\n'));
  }
  const code = networkErrorCode(error);
  if (code) {
    const what = `cannot reach ${connection.endpoint} (${UNREACHABLE[code]})`;
    if (isLocalEndpoint(connection.endpoint)) {
      return new Error(`${what}: is \`restart-scheduler local\` running? Start it with \`npm start\`, or point --endpoint (${ENDPOINT_ENV}) at the API`);
    }
    return new Error(`${what}: check --endpoint (${ENDPOINT_ENV}) and the network`);
  }
  if (error instanceof TypeError && error.message === 'fetch failed') {
    // fetch's own wording says nothing; its cause says why (a port fetch refuses, a TLS failure, …).
    const cause = (error as { cause?: unknown }).cause;
    return new Error(`cannot reach ${connection.endpoint}: ${cause instanceof Error ? cause.message : String(cause ?? 'the request failed')}`);
  }
  if (error instanceof Error && error.name === 'CredentialsProviderError') {
    return new Error(`no AWS credentials: ${error.message} (configure the default credential chain, e.g. AWS_PROFILE or \`aws sso login\`, or pass --profile)`);
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** Runs one or more API calls, turning a failure into an explained error. */
export async function callApi<T>(connection: Pick<Connection, 'endpoint' | 'aws'>, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw explainRequestError(error, connection);
  }
}
