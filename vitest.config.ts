import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Only a guard against a hang: on a loaded machine the heaviest tests
    // (generated requests over dynalite, child processes) took half of 30 s.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    env: {
      // The lockfile pins an SDK release that supports Node 20; the notice about
      // future releases is noise in test output.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
  },
});
