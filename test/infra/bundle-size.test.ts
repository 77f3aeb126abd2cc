/**
 * The deployed Lambda bundles, built as the stack builds them (esbuild with
 * the options of lib/infra/bundling.ts's handlerBundling(), the SDK bundled):
 * each within 512 KiB, each carrying the SDK clients its handler calls and
 * none of the default credential chain's, and each loading on its own.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleAsDeployed, GOAL_BYTES, HANDLERS, type BuiltBundle, type HandlerName } from '../../scripts/bench/bundles.ts';
import { PROJECT_ROOT } from '../../lib/infra/bundling.ts';

const run = promisify(execFile);

/** The SDK clients each handler calls (and its IAM role allows). */
const CLIENTS: Record<HandlerName, readonly string[]> = {
  exit: ['client-dynamodb', 'client-ecs', 'client-eventbridge', 'client-scheduler', 'client-sqs'],
  restart: ['client-dynamodb', 'client-eventbridge', 'client-sqs'],
  sync: ['client-dynamodb', 'client-eventbridge', 'client-sqs'],
  deliver: ['client-dynamodb', 'client-ecs', 'client-eventbridge'],
};

/** Packages only the default credential chain past the environment reaches. */
const CREDENTIAL_CHAIN = [
  '@aws-sdk/nested-clients',
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-web-identity',
  '@aws-sdk/credential-provider-http',
  '@aws-sdk/credential-provider-login',
  '@aws-sdk/token-providers',
  '@smithy/credential-provider-imds',
];

let outDir: string;
const bundles = new Map<HandlerName, BuiltBundle & { readonly file: string }>();

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'restart-scheduler-bundles-'));
  await Promise.all(
    HANDLERS.map(async (handler) => {
      const file = join(outDir, `${handler}.mjs`);
      bundles.set(handler, { ...(await bundleAsDeployed(join(PROJECT_ROOT, 'lambdas', `${handler}.ts`), file)), file });
    }),
  );
}, 60_000);

afterAll(() => {
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

describe('the Lambda bundles', () => {
  it.each(HANDLERS)('%s is at most 512 KiB, the SDK bundled', (handler) => {
    const bundle = bundles.get(handler)!;
    const largest = bundle.composition
      .slice(0, 5)
      .map((entry) => `${entry.package} ${Math.round(entry.bytes / 1_024)} KiB`)
      .join(', ');
    expect(bundle.bytes, `${handler}: ${Math.round(bundle.bytes / 1_024)} KiB; largest: ${largest}`).toBeLessThanOrEqual(GOAL_BYTES);
  });

  it.each(HANDLERS)('%s carries the SDK clients its handler calls, and no client of the default credential chain', (handler) => {
    const packages = bundles.get(handler)!.composition.map((entry) => entry.package);
    expect(packages.filter((name) => name.startsWith('@aws-sdk/client-')).sort()).toEqual(CLIENTS[handler].map((client) => `@aws-sdk/${client}`));
    expect(packages.filter((name) => CREDENTIAL_CHAIN.includes(name))).toEqual([]);
  });

  it.each(HANDLERS)('%s loads on its own and exports handler', async (handler) => {
    const bundle = pathToFileURL(bundles.get(handler)!.file).href;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(bundle)}); console.log(typeof m.handler);`], { cwd: outDir });
    expect(stdout.trim()).toBe('function');
  });

  it('accounts for every byte of the bundle but the banner and esbuild’s own glue', () => {
    for (const bundle of bundles.values()) {
      const counted = bundle.composition.reduce((sum, entry) => sum + entry.bytes, 0);
      expect(counted).toBeLessThanOrEqual(bundle.bytes);
      expect(counted).toBeGreaterThan(bundle.bytes * 0.95);
    }
  });
});
