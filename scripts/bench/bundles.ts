/**
 * (7) The Lambda bundles: each handler built as the CDK construct builds it
 * (esbuild: bundle, minify, node platform, ESM, node22, the createRequire
 * banner), with the AWS SDK bundled and with `@aws-sdk/*` left to the
 * nodejs22.x runtime, and each one's cold import time in a fresh node process.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { PROJECT_ROOT } from './child.ts';
import { median, round } from './stats.ts';

/** The banner the stack's bundling uses (lib/infra/bundling.ts), so the bundles are the deployed ones. */
async function esmRequireBanner(): Promise<string> {
  const { ESM_REQUIRE_BANNER } = await import('../../lib/infra/bundling.ts');
  return ESM_REQUIRE_BANNER;
}

export const HANDLERS = ['exit', 'restart', 'sync'] as const;
export type HandlerName = (typeof HANDLERS)[number];

export interface BundleVariant {
  readonly bytes: number;
  readonly kib: number;
  /** Cold `await import(bundle)` in a fresh node, minus an empty node's start-up, ms (median). */
  readonly coldImportMs: number;
}

export interface BundleResult {
  readonly handler: HandlerName;
  /** The SDK inside the bundle (what the stack deploys: bundleAwsSDK true). */
  readonly sdkBundled: BundleVariant;
  /** `@aws-sdk/*` external, provided by the runtime. */
  readonly sdkExternal: BundleVariant;
  /** Goal: at most 1 MiB each. */
  readonly withinGoal: boolean;
}

export interface BundlesResult {
  readonly handlers: readonly BundleResult[];
  readonly nodeBaselineMs: number;
  readonly runs: number;
  readonly goalBytes: number;
}

const GOAL_BYTES = 1_024 * 1_024;
/** Where bundles are written: inside node_modules, so the external SDK resolves as it would in the runtime. */
const OUT_DIR = join(PROJECT_ROOT, 'node_modules', '.cache', 'restart-scheduler-bench', 'bundles');

function timeNode(args: readonly string[]): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, args, { cwd: OUT_DIR, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  const elapsed = performance.now() - started;
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${result.stderr.toString().slice(0, 500)}`);
  return elapsed;
}

/** Bundles `entry` as the stack bundles a handler (SDK inside unless `sdkExternal`). */
export async function bundleAsDeployed(entry: string, outfile: string, options: { sdkExternal?: boolean } = {}): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    mainFields: ['module', 'main'],
    banner: { js: await esmRequireBanner() },
    external: options.sdkExternal ? ['@aws-sdk/*'] : [],
    logLevel: 'error',
  });
}

export async function benchBundles(runs: number, progress: (line: string) => void): Promise<BundlesResult> {
  rmSync(OUT_DIR, { recursive: true, force: true });
  mkdirSync(OUT_DIR, { recursive: true });
  const files: Record<string, string> = {};
  const builds = HANDLERS.flatMap((handler) =>
    (['sdkBundled', 'sdkExternal'] as const).map(async (variant) => {
      const outfile = join(OUT_DIR, `${handler}-${variant}.mjs`);
      await bundleAsDeployed(join(PROJECT_ROOT, 'lambdas', `${handler}.ts`), outfile, { sdkExternal: variant === 'sdkExternal' });
      files[`${handler}-${variant}`] = outfile;
    }),
  );
  await Promise.all(builds);
  // Interleaved runs, so that a busy moment of the machine spreads over all variants.
  const baseline: number[] = [];
  const imports: Record<string, number[]> = {};
  for (let run = 0; run < runs; run++) {
    baseline.push(timeNode(['-e', '0']));
    for (const [name, file] of Object.entries(files)) {
      (imports[name] ??= []).push(timeNode(['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(file).href)})`]));
    }
  }
  const nodeBaselineMs = median(baseline);
  const variant = (handler: HandlerName, name: 'sdkBundled' | 'sdkExternal'): BundleVariant => {
    const bytes = statSync(files[`${handler}-${name}`]!).size;
    return { bytes, kib: round(bytes / 1_024, 1), coldImportMs: round(Math.max(0, median(imports[`${handler}-${name}`]!) - nodeBaselineMs), 1) };
  };
  const handlers = HANDLERS.map((handler) => {
    const sdkBundled = variant(handler, 'sdkBundled');
    const sdkExternal = variant(handler, 'sdkExternal');
    progress(`bundles      ${handler.padEnd(7)} ${sdkBundled.kib} KiB (SDK bundled, import ${sdkBundled.coldImportMs} ms), ${sdkExternal.kib} KiB (SDK external, import ${sdkExternal.coldImportMs} ms)`);
    return { handler, sdkBundled, sdkExternal, withinGoal: sdkBundled.bytes <= GOAL_BYTES && sdkExternal.bytes <= GOAL_BYTES };
  });
  return { handlers, nodeBaselineMs: round(nodeBaselineMs, 1), runs, goalBytes: GOAL_BYTES };
}
