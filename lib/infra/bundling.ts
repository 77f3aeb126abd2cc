/**
 * How the handlers are bundled: the esbuild installed in this project, never
 * Docker. NodejsFunction silently falls back to a Docker build when it cannot
 * find esbuild; here a missing esbuild is a synth error instead, and the
 * Docker image handed to the construct refuses to run.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { DockerImage } from 'aws-cdk-lib';
import { LogLevel, OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';

/** The repository root: lambdas/, package.json and package-lock.json live here. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const LOCK_FILE = fileURLToPath(new URL('../../package-lock.json', import.meta.url));

/** The esbuild major version aws-cdk-lib's NodejsFunction drives (it rejects others). */
const ESBUILD_MAJOR = '0.';

/**
 * ESM bundles have no `require`; CommonJS dependencies inside them (parts of
 * the AWS SDK and its Smithy runtime) call it, so the bundle defines one.
 * The import is renamed so it cannot clash with a bundled `createRequire`.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __bundleCreateRequire } from 'node:module'; const require = __bundleCreateRequire(import.meta.url);";

/**
 * Modules the bundled SDK imports lazily (`import()`), on paths the handlers
 * never take, left out of every bundle (about 110 KiB of each):
 *
 * - the default credential chain's providers other than the environment's
 *   (SSO, shared config files, credential processes, web identity, container
 *   and instance metadata), which bring STS, SSO and sign-in clients of their
 *   own: the chain runs only for a client built without credentials, and the
 *   Lambda wiring (lambdas/wiring.ts) gives every client `fromEnv()`, where
 *   Lambda puts the function's credentials;
 * - event stream (de)serialisation, for operations that stream events: none
 *   of the DynamoDB, SQS, Scheduler, EventBridge and ECS calls the handlers make.
 *
 * Nothing in a bundle loads them, so none is needed beside it.
 */
export const UNREACHED_SDK_MODULES: readonly string[] = [
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-web-identity',
  '@aws-sdk/credential-provider-http',
  '@smithy/credential-provider-imds',
  '@smithy/core/event-streams',
];

/** The version of the project's own esbuild, or a clear error when it is not installed. */
export function localEsbuildVersion(): string {
  const requireFromRoot = createRequire(`${PROJECT_ROOT}package.json`);
  let version: string | undefined;
  try {
    version = (requireFromRoot('esbuild/package.json') as { version?: string }).version;
  } catch {
    version = undefined;
  }
  if (!version) {
    throw new Error(
      'esbuild is not installed in this project (it is a devDependency: run `npm ci`). ' +
        'The handlers are bundled with the local esbuild only; Docker bundling is disabled.',
    );
  }
  if (!version.startsWith(ESBUILD_MAJOR)) {
    throw new Error(`esbuild ${version} is installed, but aws-cdk-lib bundles with esbuild ${ESBUILD_MAJOR}x.`);
  }
  return version;
}

/**
 * Stands in for NodejsFunction's Docker image. Local bundling is always tried
 * first; this only runs if it reports it could not run, and then fails the
 * synth rather than pulling or building an image.
 */
class DockerBundlingDisabled extends DockerImage {
  constructor() {
    super('restart-scheduler/docker-bundling-disabled');
  }

  override run(): void {
    throw new Error('Docker bundling is disabled: the handlers are bundled by the locally installed esbuild (npm ci).');
  }

  override cp(): string {
    throw new Error('Docker bundling is disabled: the handlers are bundled by the locally installed esbuild (npm ci).');
  }
}

/** Bundling options shared by every handler. */
export function handlerBundling(): BundlingOptions {
  localEsbuildVersion();
  return {
    format: OutputFormat.ESM,
    target: 'node22',
    mainFields: ['module', 'main'],
    banner: ESM_REQUIRE_BANNER,
    minify: true,
    sourceMap: true,
    // The sources stay in the repository; the map only needs positions.
    sourcesContent: false,
    // Bundle the SDK clients the project pins and tests, instead of whatever
    // version the runtime happens to ship.
    bundleAwsSDK: true,
    externalModules: [...UNREACHED_SDK_MODULES],
    // esbuild reports warnings and errors only, not a size table per bundle.
    logLevel: LogLevel.WARNING,
    forceDockerBundling: false,
    dockerImage: new DockerBundlingDisabled(),
  };
}
