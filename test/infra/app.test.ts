/**
 * `npx cdk synth` of the real app (bin/app.ts, cdk.json) against the real
 * handler entries, offline and without AWS credentials, with ECS workloads
 * and a webhook namespace set on the command line as a user would: the CLI
 * runs the app, cdk-nag passes (an unacknowledged finding fails the synth),
 * and each bundle loads, exports `handler`, and is at most 512 KiB.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
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
  const ecs = JSON.stringify({ clusters: ['work'], taskDefinitionFamilies: ['worker'], passRoles: ['arn:aws:iam::123456789012:role/worker-task'] });
  const namespaces = JSON.stringify({ hooks: { restartTarget: { webhook: { url: 'https://hooks.example.com/restart' } } } });
  await run('npx', ['cdk', 'synth', '--quiet', '--no-notices', '--output', outdir, '-c', `restart-scheduler:ecs=${ecs}`, '-c', `restart-scheduler:namespaceDefaults=${namespaces}`], {
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
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    expect(Object.values(template.Resources).filter((resource) => resource.Type === 'AWS::Lambda::Function')).toHaveLength(4);
    const patterns = Object.values(template.Resources).filter((resource) => resource.Type === 'AWS::Events::Rule').map((resource) => JSON.stringify(resource.Properties.EventPattern));
    expect(patterns.filter((pattern) => pattern.includes('"aws.ecs"') && pattern.includes('cluster/work') && pattern.includes('{"prefix":"restart-scheduler/"}'))).toHaveLength(1);
    expect(patterns.filter((pattern) => pattern.includes('"namespace":["hooks"]'))).toHaveLength(1);
    const statements = JSON.stringify(Object.values(template.Resources).filter((resource) => resource.Type === 'AWS::IAM::Policy'));
    for (const action of ['ecs:RunTask', 'ecs:StopTask', 'ecs:DescribeTasks', 'iam:PassRole']) expect(statements).toContain(action);
    expect(statements).toContain('arn:aws:iam::123456789012:role/worker-task');
  });

  it('passes cdk-nag (the validation report holds no plugin failure)', () => {
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as { pluginReports: unknown[] };
    expect(report.pluginReports).toEqual([]);
  });

  it('bundles the four handlers, each loading and exporting handler, each at most 512 KiB', async () => {
    const assets = readdirSync(outdir).filter((name) => name.startsWith('asset.'));
    expect(assets).toHaveLength(4);
    for (const asset of assets) {
      expect(statSync(join(outdir, asset, 'index.mjs')).size, asset).toBeLessThanOrEqual(512 * 1_024);
      const bundle = pathToFileURL(join(outdir, asset, 'index.mjs')).href;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(bundle)}); console.log(typeof m.handler);`], {
        env: offlineEnvironment(),
      });
      expect(stdout.trim()).toBe('function');
    }
  });
});
