/**
 * The CDK app: `npx cdk deploy` (cdk.json runs this file with tsx). Settings
 * come from CDK context; see docs/DEPLOY.md.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { RestartSchedulerStack } from '../lib/infra/stack.ts';

const app = new App();
new RestartSchedulerStack(app, 'RestartScheduler', {
  // Environment-agnostic unless the CLI resolved an account and region (it
  // does when credentials are configured); synth needs neither.
  ...(process.env.CDK_DEFAULT_ACCOUNT && process.env.CDK_DEFAULT_REGION
    ? { env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } }
    : {}),
});
// cdk-nag 3 runs as a policy validation plugin: any unacknowledged finding fails the synth.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
