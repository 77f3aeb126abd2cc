#!/usr/bin/env node
// The CLI is written in TypeScript; tsx loads it without a separate build step,
// so `npx restart-scheduler` and `npm start` work straight from a clone.
import { register } from 'tsx/esm/api';

register();
await import('./cli.ts');
