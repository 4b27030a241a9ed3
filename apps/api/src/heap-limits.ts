import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/**
 * The API process's JavaScript heap, kept near what it holds.
 *
 * V8 sizes its heap for the machine: with gigabytes of memory it lets the old generation grow to
 * about four times what survived the last full collection before collecting again, and the young
 * generation to 2 × 16 MB. Under a steady stream of requests the API holds about 45 MB of live
 * objects, yet its old generation reached 100–170 MB of mostly garbage, and the young generation
 * stayed at 32 MB. Both are set here at run time: a flag on node's command line would be lost by
 * every way the API is started (node main.js, npm start, the container, the tests' processes).
 */

/**
 * The old generation is collected again once it has grown this much over what survived. On the
 * embedded store every MB counts (PGlite's memory is resident beside the heap); on PostgreSQL it
 * grows further, as each full collection costs requests their rate, but not twice what survived:
 * at that the API under a closed loop of reports stood at its 250 MB limit after the load.
 */
export const HEAP_GROWING_PERCENT = { embedded: 30, postgres: 50 } as const;
/**
 * Each of the young generation's two semi-spaces grows to this at most (V8's own cap: 16). On
 * PostgreSQL the API runs worker threads (the sealer's, a rebuild's parts), and V8 raises the
 * growth factor (below) to at least 2 whenever it creates an isolate, for the whole process: a
 * cap below V8's own did not hold there (the API grew to 2 × 16 MB seconds after start, when its
 * sealing thread started), so it is V8's own, at which the API stood after the load at 228 MB.
 */
export const SEMI_SPACE_MB = { embedded: 8, postgres: 16 } as const;

/** Node flags an operator may give instead (command line or NODE_OPTIONS): theirs win. */
const OLD_GENERATION_FLAGS = /--heap-growing-percent\b/;
const YOUNG_GENERATION_FLAGS = /--(max|min)-semi-space-size\b|--semi-space-growth-factor\b/;

// eslint-disable-next-line no-restricted-properties -- node's own flags, not Truceline's settings
const nodeFlags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;

/** The heap's limits for the store the API serves (call once the config is read). */
export function limitHeap(store: keyof typeof HEAP_GROWING_PERCENT): void {
  // Read by V8 at every full collection (it fixes the growing factor V8 would choose).
  if (!OLD_GENERATION_FLAGS.test(nodeFlags)) {
    setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT[store]}`);
  }
  youngGeneration?.capAt(SEMI_SPACE_MB[store]);
}

/**
 * V8 reads its semi-space maximum once, at start; what it reads whenever the young generation
 * grows (after a scavenge in which much of it survived) is the factor by which it grows. So the
 * factor is 1 (no growth) from the start, and the observer of collections, after each one, sets
 * it to what takes the young generation to the cap in one step. While the modules load,
 * synchronously, the observer cannot run; a factor of 2 left on then doubled the young
 * generation over and over, past the cap, to V8's own maximum of 2 × 16 MB. Until the store is
 * known, the cap is the embedded store's.
 */
function capYoungGeneration(semiSpaceMb: number): { capAt: (semiSpaceMb: number) => void } {
  let cap = 2 * semiSpaceMb * 2 ** 20;
  let factor = 1;
  setFlagsFromString('--semi-space-growth-factor=1');
  const capacity = () =>
    getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;
  const follow = () => {
    // cap and capacity count both semi-spaces, as V8 reports new_space
    const next = Math.max(1, Math.floor(cap / Math.max(capacity(), 1)));
    if (next === factor) return;
    factor = next;
    setFlagsFromString(`--semi-space-growth-factor=${next}`);
  };
  const capAt = (mb: number) => {
    cap = 2 * mb * 2 ** 20;
    follow();
  };
  new PerformanceObserver(follow).observe({ entryTypes: ['gc'] });
  return { capAt };
}

// Imported first by main.ts, so that the young generation is capped before the other modules
// fill the heap (loading the config module alone grew it to 16 MB).
const youngGeneration = YOUNG_GENERATION_FLAGS.test(nodeFlags)
  ? undefined
  : capYoungGeneration(SEMI_SPACE_MB.embedded);
