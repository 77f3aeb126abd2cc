/** The HTTP API: routing, validation, views, and the API Gateway adapter. */
export * from './apigateway.ts';
export * from './backend.ts';
export * from './ecs-events.ts';
export * from './exits.ts';
export * from './protocol.ts';
export * from './queries.ts';
export * from './router.ts';
export * from './targets.ts';
export * from './views.ts';
export * from './workloads.ts';
