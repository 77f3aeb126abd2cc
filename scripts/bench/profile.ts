/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and says where the time went:
 * self time by component (dynalite, the AWS SDK, the project's own layers,
 * node internals, GC) and the hottest functions. Pure.
 */

export interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface ProfileShare {
  readonly name: string;
  readonly ms: number;
  /** Of all sampled time, idle excluded. */
  readonly share: number;
}

export interface ProfileSummary {
  /** Sampled time, idle excluded, ms. */
  readonly busyMs: number;
  readonly idleMs: number;
  readonly components: readonly ProfileShare[];
  readonly functions: readonly ProfileShare[];
}

/** dynalite and the storage packages under it. */
const DYNALITE_PACKAGES = new Set(['dynalite', 'lazy', 'async', 'big.js', 'buffer-crc32', 'lock', 'once', 'wrappy', 'module-error', 'functional-red-black-tree', 'queue-microtask', 'catering', 'napi-macros', 'node-gyp-build']);

/** The component a stack frame belongs to, from its script URL. */
export function componentOf(frame: CpuProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(program)') return 'V8 / native (program)';
  if (functionName === '(idle)') return 'idle';
  if (url === '') return 'V8 / native (program)';
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (module) {
    if (module.startsWith('@aws-sdk/') || module.startsWith('@smithy/') || module.startsWith('@aws-crypto/')) return 'AWS SDK (client side of each DynamoDB call)';
    if (DYNALITE_PACKAGES.has(module) || /level/.test(module)) return 'dynalite (DynamoDB emulation)';
    if (module === 'zod') return 'zod (request validation)';
    if (module === 'tsx' || module === 'esbuild' || module === 'get-tsconfig') return 'tsx (loader)';
    return `other packages (${module})`;
  }
  const own = /\/(lib\/[a-z-]+|lambdas|scripts\/bench)\//.exec(url)?.[1];
  if (own) return `project: ${own}`;
  if (url.startsWith('node:') || !url.includes('/')) return 'node internals (http, streams, timers)';
  return 'other';
}

export function summarizeProfile(profile: CpuProfile, topFunctions = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // timeDeltas[i] is the time before sample i; the time of sample i is the next delta.
  for (let index = 0; index < samples.length; index++) {
    const duration = deltas[index + 1] ?? 0;
    const id = samples[index]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, duration));
  }
  const components = new Map<string, number>();
  const functions = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    const component = componentOf(frame);
    if (component === 'idle') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    components.set(component, (components.get(component) ?? 0) + us);
    const where = frame.url ? `${frame.url.replace(/^.*\/(node_modules|work\/main)\//, '')}:${frame.lineNumber + 1}` : '';
    const name = `${frame.functionName || '(anonymous)'} ${where}`.trim();
    functions.set(name, (functions.get(name) ?? 0) + us);
  }
  const shares = (map: Map<string, number>, limit: number) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, us]) => ({ name, ms: us / 1_000, share: busyUs > 0 ? us / busyUs : 0 }));
  return { busyMs: busyUs / 1_000, idleMs: idleUs / 1_000, components: shares(components, 50), functions: shares(functions, topFunctions) };
}
