/**
 * (7) The Lambda bundles: each handler built as the CDK construct builds it
 * (esbuild with the options of `handlerBundling()` in lib/infra/bundling.ts,
 * as NodejsFunction passes them on), with the AWS SDK bundled and with
 * `@aws-sdk/*` left to the nodejs22.x runtime; what each
 * deployed bundle is made of (esbuild's metafile); and each one's cold import
 * time in a fresh node process.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { build, type BuildOptions, type Format, type LogLevel, type Metafile } from 'esbuild';
import { PROJECT_ROOT } from './child.ts';
import { median, round } from './stats.ts';

/** How the stack bundles (lib/infra/bundling.ts), so the bundles are the deployed ones. */
async function stackBuildOptions(): Promise<BuildOptions> {
  // Imported when bundling: the rest of the benchmark does without aws-cdk-lib.
  const { handlerBundling } = await import('../../lib/infra/bundling.ts');
  return esbuildOptionsOf(handlerBundling());
}

/**
 * The esbuild options NodejsFunction builds from `bundling` (aws-cdk-lib's
 * `buildEsbuildArgs`). An option it does not translate fails the benchmark:
 * a bundle built without it would not be the deployed one.
 */
export function esbuildOptionsOf(bundling: BundlingOptions): BuildOptions {
  // Where NodejsFunction would run esbuild (never Docker here), not what esbuild is asked.
  const { format, target, mainFields, banner, minify, sourceMap, sourcesContent, bundleAwsSDK, externalModules, logLevel, forceDockerBundling: _docker, dockerImage: _image, ...untranslated } = bundling;
  const unknown = Object.keys(untranslated);
  if (unknown.length > 0) throw new Error(`the stack bundles with ${unknown.join(', ')}, which scripts/bench/bundles.ts does not pass on to esbuild`);
  return {
    bundle: true,
    platform: 'node',
    // aws-cdk-lib hands its enums' values to esbuild as they are.
    ...(format !== undefined ? { format: `${format}` as Format } : {}),
    ...(target !== undefined ? { target } : {}),
    ...(minify ? { minify: true } : {}),
    ...(sourceMap ? { sourcemap: true } : {}),
    ...(sourcesContent === false ? { sourcesContent: false } : {}),
    ...(mainFields !== undefined ? { mainFields } : {}),
    ...(banner !== undefined ? { banner: { js: banner } } : {}),
    // The SDK is left to the runtime unless the stack bundles it.
    external: [...(externalModules ?? (bundleAwsSDK ? [] : ['@aws-sdk/*']))],
    ...(logLevel !== undefined ? { logLevel: `${logLevel}` as LogLevel } : {}),
  };
}

export const HANDLERS = ['exit', 'restart', 'sync', 'deliver'] as const;
export type HandlerName = (typeof HANDLERS)[number];

export interface BundleVariant {
  readonly bytes: number;
  readonly kib: number;
  /** Cold `await import(bundle)` in a fresh node, minus an empty node's start-up, ms (median). */
  readonly coldImportMs: number;
}

/** The bytes one package (or one directory of the project's own code) takes in a bundle. */
export interface PackageBytes {
  /** An npm package (`zod`, `@smithy/core`), or the project's code by directory (`lib/api`, `docs/openapi.json`). */
  readonly package: string;
  readonly bytes: number;
}

export interface BundleResult {
  readonly handler: HandlerName;
  /** The SDK inside the bundle (what the stack deploys: bundleAwsSDK true). */
  readonly sdkBundled: BundleVariant;
  /** `@aws-sdk/*` external, provided by the runtime. */
  readonly sdkExternal: BundleVariant;
  /** What the deployed bundle (`sdkBundled`) is made of, largest first: every package in it, from esbuild's metafile. */
  readonly composition: readonly PackageBytes[];
  /** Goal: at most 512 KiB each. */
  readonly withinGoal: boolean;
}

export interface BundlesResult {
  readonly handlers: readonly BundleResult[];
  readonly nodeBaselineMs: number;
  readonly runs: number;
  readonly goalBytes: number;
}

export const GOAL_BYTES = 512 * 1_024;
/** Where bundles are written: inside node_modules, so the external SDK resolves as it would in the runtime. */
const OUT_DIR = join(PROJECT_ROOT, 'node_modules', '.cache', 'restart-scheduler-bench', 'bundles');

function timeNode(args: readonly string[]): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, args, { cwd: OUT_DIR, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  const elapsed = performance.now() - started;
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${result.stderr.toString().slice(0, 500)}`);
  return elapsed;
}

export interface BuiltBundle {
  readonly bytes: number;
  readonly composition: readonly PackageBytes[];
}

/** Bundles `entry` as the stack bundles a handler (SDK inside unless `sdkExternal`), into `outfile`. */
export async function bundleAsDeployed(entry: string, outfile: string, options: { sdkExternal?: boolean } = {}): Promise<BuiltBundle> {
  const stack = await stackBuildOptions();
  const { metafile } = await build({
    ...stack,
    entryPoints: [entry],
    outfile,
    external: [...(stack.external ?? []), ...(options.sdkExternal ? ['@aws-sdk/*'] : [])],
    metafile: true,
  });
  const output = Object.values(metafile.outputs).find((candidate) => candidate.entryPoint !== undefined);
  if (!output) throw new Error(`esbuild reported no output for ${entry}`);
  return { bytes: output.bytes, composition: compositionOf(output) };
}

/** An input's package: the npm package it belongs to (the innermost, for nested node_modules), else its project directory. */
export function packageOf(inputPath: string): string {
  const parts = inputPath.split('/');
  const modules = parts.lastIndexOf('node_modules');
  if (modules >= 0) {
    const name = parts[modules + 1] ?? inputPath;
    return name.startsWith('@') ? `${name}/${parts[modules + 2]}` : name;
  }
  return parts.slice(0, 2).join('/');
}

/** The bytes each package contributes to `output`, largest first (ties by name). */
export function compositionOf(output: Metafile['outputs'][string]): PackageBytes[] {
  const bytes = new Map<string, number>();
  for (const [path, input] of Object.entries(output.inputs)) {
    const name = packageOf(path);
    bytes.set(name, (bytes.get(name) ?? 0) + input.bytesInOutput);
  }
  return [...bytes]
    .filter(([, size]) => size > 0)
    .map(([name, size]) => ({ package: name, bytes: size }))
    .sort((a, b) => b.bytes - a.bytes || a.package.localeCompare(b.package));
}

export async function benchBundles(runs: number, progress: (line: string) => void): Promise<BundlesResult> {
  rmSync(OUT_DIR, { recursive: true, force: true });
  mkdirSync(OUT_DIR, { recursive: true });
  const files: Record<string, string> = {};
  const built: Record<string, BuiltBundle> = {};
  const builds = HANDLERS.flatMap((handler) =>
    (['sdkBundled', 'sdkExternal'] as const).map(async (variant) => {
      const outfile = join(OUT_DIR, `${handler}-${variant}.mjs`);
      built[`${handler}-${variant}`] = await bundleAsDeployed(join(PROJECT_ROOT, 'lambdas', `${handler}.ts`), outfile, { sdkExternal: variant === 'sdkExternal' });
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
    const { bytes } = built[`${handler}-${name}`]!;
    return { bytes, kib: round(bytes / 1_024, 1), coldImportMs: round(Math.max(0, median(imports[`${handler}-${name}`]!) - nodeBaselineMs), 1) };
  };
  const handlers = HANDLERS.map((handler) => {
    const sdkBundled = variant(handler, 'sdkBundled');
    const sdkExternal = variant(handler, 'sdkExternal');
    const composition = built[`${handler}-sdkBundled`]!.composition;
    progress(`bundles      ${handler.padEnd(7)} ${sdkBundled.kib} KiB (SDK bundled, import ${sdkBundled.coldImportMs} ms), ${sdkExternal.kib} KiB (SDK external, import ${sdkExternal.coldImportMs} ms)`);
    progress(`             ${' '.repeat(7)} ${composition.slice(0, 6).map((entry) => `${entry.package} ${round(entry.bytes / 1_024, 1)}`).join(', ')} KiB, …`);
    return { handler, sdkBundled, sdkExternal, composition, withinGoal: sdkBundled.bytes <= GOAL_BYTES && sdkExternal.bytes <= GOAL_BYTES };
  });
  return { handlers, nodeBaselineMs: round(nodeBaselineMs, 1), runs, goalBytes: GOAL_BYTES };
}
