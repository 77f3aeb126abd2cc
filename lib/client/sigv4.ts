/**
 * SigV4 signing for the AWS deployment of the HTTP API (API Gateway with IAM
 * authorization, service `execute-api`), as a `RequestSigner` for the client.
 * Credentials come from the default chain (environment, shared config and SSO
 * profiles, web identity, container and instance metadata) unless given.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { RequestSigner } from './client.ts';

/** The signing name of API Gateway's invoke endpoint. */
export const EXECUTE_API_SERVICE = 'execute-api';

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/** Fixed credentials, or a provider that is asked before each signature (it caches and refreshes). */
export type CredentialSource = AwsCredentials | (() => Promise<AwsCredentials>);

export interface SigV4SignerOptions {
  readonly region: string;
  /** @default 'execute-api' */
  readonly service?: string;
  /** @default the default credential chain (`defaultProvider()`), with `profile` when given */
  readonly credentials?: CredentialSource;
  /** A named profile of the shared config files, for the default chain. */
  readonly profile?: string;
  /** The signing clock. @default new Date() */
  readonly now?: () => Date;
}

/**
 * `https://{apiId}.execute-api.{region}.amazonaws.com` (and the `.com.cn`
 * partition): the default invoke URL of an API Gateway API.
 */
const EXECUTE_API_HOST = /^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/i;

/** The region of an API Gateway invoke URL, or undefined for any other host. */
export function executeApiRegion(endpoint: string | URL): string | undefined {
  let hostname: string;
  try {
    hostname = (typeof endpoint === 'string' ? new URL(endpoint) : endpoint).hostname;
  } catch {
    return undefined;
  }
  return EXECUTE_API_HOST.exec(hostname)?.[1]?.toLowerCase();
}

/** Signs each request with SigV4 and returns the headers to send (Authorization, X-Amz-Date, …). */
export function createSigV4Signer(options: SigV4SignerOptions): RequestSigner {
  const signer = new SignatureV4({
    service: options.service ?? EXECUTE_API_SERVICE,
    region: options.region,
    credentials: options.credentials ?? defaultProvider(options.profile ? { profile: options.profile } : {}),
    sha256: Sha256,
    // API Gateway does not need the payload hash as a header (it is in the signature either way).
    applyChecksum: false,
  });
  return async ({ method, url, headers, body }) => {
    const query: Record<string, string | string[]> = {};
    for (const name of new Set(url.searchParams.keys())) {
      const values = url.searchParams.getAll(name);
      query[name] = values.length === 1 ? values[0]! : values;
    }
    const signed = await signer.sign(
      {
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path: url.pathname,
        query,
        // `host` is part of every SigV4 signature; fetch sends the same value itself.
        headers: { ...headers, host: url.host },
        ...(body !== undefined ? { body } : {}),
      },
      { signingDate: options.now?.() ?? new Date() },
    );
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(signed.headers)) {
      if (name.toLowerCase() !== 'host' && value !== undefined) out[name] = String(value);
    }
    return out;
  };
}
