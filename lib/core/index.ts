/**
 * The pure core: kubelet's back-off, restart policy, the exit planner,
 * container keys, durations and event shapes. No I/O and no AWS SDK here:
 * the clock and randomness are passed in.
 */
export * from './backoff.ts';
export * from './budget.ts';
export * from './backoff-events.ts';
export * from './container.ts';
export * from './duration.ts';
export * from './events.ts';
export * from './exit-report.ts';
export * from './model.ts';
export * from './planner.ts';
export * from './policy.ts';
export * from './simulate.ts';
export * from './target.ts';
