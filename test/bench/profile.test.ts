import { describe, expect, it } from 'vitest';
import { componentOf, summarizeProfile, type CpuProfile } from '../../scripts/bench/profile.ts';

const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0 });

describe('componentOf', () => {
  it.each([
    [frame('(garbage collector)', ''), 'GC'],
    [frame('(idle)', ''), 'idle'],
    [frame('(program)', ''), 'V8 / native (program)'],
    [frame('send', 'file:///work/main/node_modules/@smithy/core/dist-cjs/index.js'), 'AWS SDK (client side of each DynamoDB call)'],
    [frame('putItem', 'file:///work/main/node_modules/dynalite/actions/putItem.js'), 'dynalite (DynamoDB emulation)'],
    [frame('encode', 'file:///work/main/node_modules/level-transcoder/lib/formats.js'), 'dynalite (DynamoDB emulation)'],
    [frame('parse', 'file:///work/main/node_modules/zod/v4/core/parse.js'), 'zod (request validation)'],
    [frame('planExit', 'file:///work/main/lib/core/planner.ts'), 'project: lib/core'],
    [frame('handleExit', 'file:///work/main/lib/services/handle-exit.ts'), 'project: lib/services'],
    [frame('writev', 'node:internal/stream_base_commons'), 'node internals (http, streams, timers)'],
  ])('puts %j in %s', (callFrame, component) => {
    expect(componentOf(callFrame)).toBe(component);
  });
});

describe('summarizeProfile', () => {
  // Node 1 is the root; samples hit 2 (SDK), 3 (dynalite) and 4 (idle).
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 3, 4] },
      { id: 2, callFrame: frame('send', 'file:///x/node_modules/@aws-sdk/client-dynamodb/index.js') },
      { id: 3, callFrame: frame('putItem', 'file:///x/node_modules/dynalite/actions/putItem.js') },
      { id: 4, callFrame: frame('(idle)', '') },
    ],
    samples: [2, 2, 3, 4, 2],
    // The time of sample i is the delta before sample i + 1 (µs).
    timeDeltas: [0, 1_000, 1_000, 2_000, 4_000],
    startTime: 0,
    endTime: 8_000,
  };

  it('adds each sample’s time to its frame and leaves idle out of the shares', () => {
    const summary = summarizeProfile(profile);
    // Samples: 2 → 1 ms, 2 → 1 ms, 3 → 2 ms, 4 (idle) → 4 ms, 2 → 0 (last, no following delta).
    expect(summary.busyMs).toBe(4);
    expect(summary.idleMs).toBe(4);
    expect(summary.components).toEqual([
      { name: 'AWS SDK (client side of each DynamoDB call)', ms: 2, share: 0.5 },
      { name: 'dynalite (DynamoDB emulation)', ms: 2, share: 0.5 },
    ]);
    expect(summary.functions.map((entry) => entry.name)).toEqual([
      'send @aws-sdk/client-dynamodb/index.js:1',
      'putItem dynalite/actions/putItem.js:1',
    ]);
  });
});
