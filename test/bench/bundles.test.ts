import { describe, expect, it } from 'vitest';
import { ESM_REQUIRE_BANNER, handlerBundling, UNREACHED_SDK_MODULES } from '../../lib/infra/bundling.ts';
import { compositionOf, esbuildOptionsOf, packageOf } from '../../scripts/bench/bundles.ts';

describe('packageOf', () => {
  it.each([
    ['node_modules/zod/v4/core/schemas.js', 'zod'],
    ['node_modules/@smithy/core/dist-es/submodules/protocols/HttpProtocol.js', '@smithy/core'],
    // A nested copy counts as the package it is, not the one it sits in.
    ['node_modules/@aws-lambda-powertools/logger/node_modules/@aws-lambda-powertools/commons/lib/esm/envUtils.js', '@aws-lambda-powertools/commons'],
    ['lib/api/exits.ts', 'lib/api'],
    ['lib/config.ts', 'lib/config.ts'],
    ['docs/openapi.json', 'docs/openapi.json'],
  ])('%s is part of %s', (path, name) => {
    expect(packageOf(path)).toBe(name);
  });
});

describe('compositionOf', () => {
  it('sums the output bytes of each package, largest first, and drops what tree-shaking removed', () => {
    const inputs = {
      'node_modules/zod/v4/core/schemas.js': { bytesInOutput: 300 },
      'node_modules/zod/v4/core/util.js': { bytesInOutput: 200 },
      'node_modules/@smithy/core/dist-es/index.js': { bytesInOutput: 400 },
      'node_modules/bowser/bowser.mjs': { bytesInOutput: 0 },
      'lib/api/exits.ts': { bytesInOutput: 400 },
    };
    expect(compositionOf({ bytes: 1_400, inputs, imports: [], exports: [] } as never)).toEqual([
      { package: 'zod', bytes: 500 },
      { package: '@smithy/core', bytes: 400 },
      { package: 'lib/api', bytes: 400 },
    ]);
  });
});

describe('esbuildOptionsOf', () => {
  it('asks esbuild for what the stack asks NodejsFunction for', () => {
    expect(esbuildOptionsOf(handlerBundling())).toEqual({
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      minify: true,
      sourcemap: true,
      sourcesContent: false,
      mainFields: ['module', 'main'],
      banner: { js: ESM_REQUIRE_BANNER },
      external: [...UNREACHED_SDK_MODULES],
      logLevel: 'warning',
    });
  });

  it('leaves the SDK to the runtime, as NodejsFunction does, when the SDK is not bundled and no externals are named', () => {
    const { externalModules: _externals, ...bundling } = handlerBundling();
    expect(esbuildOptionsOf({ ...bundling, bundleAwsSDK: false }).external).toEqual(['@aws-sdk/*']);
  });

  it('refuses a bundling option it does not pass on, naming it', () => {
    expect(() => esbuildOptionsOf({ ...handlerBundling(), keepNames: true })).toThrow(/keepNames/);
  });
});
