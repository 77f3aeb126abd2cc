/**
 * The heap policy of a process that runs the local runtime.
 *
 * V8 lets the old generation grow to up to four times what the last full
 * collection left alive before it collects again, and keeps the pages it grew
 * into. Under a burst of exits the runtime promotes much short-lived garbage
 * (every request in flight survives a few young collections), so its resident
 * memory climbed to several times its live data — its table (in memory), its
 * event log's tail and the requests in flight. Growing the heap by half of
 * what is live instead bounds that, for a little more collection work.
 *
 * A process-wide setting, so it is the process's owner that applies it (the
 * `restart-scheduler local` command, the benchmark's runtime process), not
 * `startLocalRuntime`, which may run inside someone else's process.
 */
import { setFlagsFromString } from 'node:v8';

/** The old generation grows by this share of the live heap between full collections. */
export const HEAP_GROWING_PERCENT = 50;

/**
 * Applies the heap policy to this process. V8 reads the growing factor anew
 * at every full collection, so setting it after start-up takes effect.
 */
export function limitHeapGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
