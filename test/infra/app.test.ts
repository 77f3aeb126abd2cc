/**
 * `npx cdk synth` of the real app (bin/app.ts, cdk.json) against the real
 * handler entries, offline and without AWS credentials: the CLI runs the app,
 * cdk-nag passes (an unacknowledged finding fails the synth), and each bundle
 * loads and exports `handler`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/infra/bundling.ts';

const run = promisify(execFile);
let outdir: string;

/** The environment of a machine with no AWS configuration at all. */
function offlineEnvironment(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('AWS_') || name.startsWith('CDK_')) delete env[name];
  return {
    ...env,
    // No instance metadata lookups for credentials, no CLI telemetry or notices over the network.
    AWS_EC2_METADATA_DISABLED: 'true',
    CDK_DISABLE_CLI_TELEMETRY: 'true',
  };
}

beforeAll(async () => {
  outdir = mkdtempSync(join(tmpdir(), 'restart-scheduler-synth-'));
  await run('npx', ['cdk', 'synth', '--quiet', '--no-notices', '--output', outdir], {
    cwd: PROJECT_ROOT,
    env: offlineEnvironment(),
  });
}, 240_000);

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

describe('npx cdk synth', () => {
  it('synthesizes an environment-agnostic stack without credentials', () => {
    const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as {
      artifacts: Record<string, { type: string; environment?: string }>;
    };
    expect(manifest.artifacts.RestartScheduler).toMatchObject({
      type: 'aws:cloudformation:stack',
      environment: 'aws://unknown-account/unknown-region',
    });
    const template = JSON.parse(readFileSync(join(outdir, 'RestartScheduler.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string }>;
    };
    expect(Object.values(template.Resources).filter((resource) => resource.Type === 'AWS::Lambda::Function')).toHaveLength(3);
  });

  it('passes cdk-nag (the validation report holds no plugin failure)', () => {
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as { pluginReports: unknown[] };
    expect(report.pluginReports).toEqual([]);
  });

  it('bundles three handlers that load and export handler', async () => {
    const assets = readdirSync(outdir).filter((name) => name.startsWith('asset.'));
    expect(assets).toHaveLength(3);
    for (const asset of assets) {
      const bundle = pathToFileURL(join(outdir, asset, 'index.mjs')).href;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(bundle)}); console.log(typeof m.handler);`], {
        env: offlineEnvironment(),
      });
      expect(stdout.trim()).toBe('function');
    }
  });
});
