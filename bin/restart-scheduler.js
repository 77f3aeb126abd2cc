#!/usr/bin/env node
// The CLI is written in TypeScript; tsx loads it without a separate build step,
// so `npx restart-scheduler` and `npm start` work straight from a clone.
import { register } from 'tsx/esm/api';

// The lockfile pins an AWS SDK release that supports Node 20; its notice about
// later releases needing Node 22 is not for users of this CLI.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

register();
await import('./cli.ts');
