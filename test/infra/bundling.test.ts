import { readFileSync } from 'node:fs';
import { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { describe, expect, it } from 'vitest';
import { ESM_REQUIRE_BANNER, handlerBundling, localEsbuildVersion, PROJECT_ROOT, UNREACHED_SDK_MODULES } from '../../lib/infra/bundling.ts';

describe('localEsbuildVersion', () => {
  it("is the project's own esbuild (the devDependency), the major version aws-cdk-lib drives", () => {
    const installed = JSON.parse(readFileSync(`${PROJECT_ROOT}node_modules/esbuild/package.json`, 'utf8')) as { version: string };
    expect(localEsbuildVersion()).toBe(installed.version);
    expect(localEsbuildVersion()).toMatch(/^0\./);
  });
});

describe('handlerBundling', () => {
  it('bundles minified ESM for node22 with source maps, a require banner, and the pinned SDK', () => {
    expect(handlerBundling()).toMatchObject({
      format: OutputFormat.ESM,
      target: 'node22',
      minify: true,
      sourceMap: true,
      banner: ESM_REQUIRE_BANNER,
      bundleAwsSDK: true,
      forceDockerBundling: false,
    });
  });

  it('leaves out only the modules the SDK loads on paths no handler takes: the credential chain past the environment, event streams', () => {
    expect(handlerBundling().externalModules).toEqual([...UNREACHED_SDK_MODULES]);
    // Not the SDK as a whole, nor the environment's credentials, which every client reads.
    expect(UNREACHED_SDK_MODULES).not.toContain('@aws-sdk/*');
    expect(UNREACHED_SDK_MODULES).not.toContain('@aws-sdk/credential-provider-env');
    expect(UNREACHED_SDK_MODULES.every((name) => name.startsWith('@aws-sdk/credential-provider-') || name === '@smithy/credential-provider-imds' || name === '@smithy/core/event-streams')).toBe(true);
  });

  it('never falls back to Docker: the image it hands NodejsFunction refuses to run', () => {
    const image = handlerBundling().dockerImage!;
    expect(() => image.run()).toThrow('Docker bundling is disabled');
    expect(() => image.cp('/asset-output')).toThrow('Docker bundling is disabled');
  });
});
