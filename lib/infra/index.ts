/** The CDK constructs of the AWS deployment, one per concern, and the stack that composes them. */
export * from './backoff-table.ts';
export * from './bundling.ts';
export * from './event-queries.ts';
export * from './events-bus.ts';
export * from './handler-settings.ts';
export * from './handlers.ts';
export * from './ingress.ts';
export * from './nag.ts';
export * from './observability.ts';
export * from './restart-timers.ts';
export * from './settings.ts';
export * from './stack.ts';
export * from './sync-schedule.ts';
