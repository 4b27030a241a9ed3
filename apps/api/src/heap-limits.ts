import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/**
 * The API process's JavaScript heap, kept near what it holds (both stores).
 *
 * V8 sizes its heap for the machine: with gigabytes of memory it lets the old generation grow to
 * about four times what survived the last full collection before collecting again, and the young
 * generation to 2 × 16 MB. Under a steady stream of requests the API holds about 45 MB of live
 * objects, yet its old generation reached 100–170 MB of mostly garbage, and the young generation
 * stayed at 32 MB. Both are set here at run time, before the API's modules are loaded: a flag on
 * node's command line would be lost by every way the API is started (node main.js, npm start,
 * the container, the tests' processes).
 */

/** The old generation is collected again once it has grown this much over what survived. */
export const HEAP_GROWING_PERCENT = 30;
/** Each of the young generation's two semi-spaces grows to this at most (V8's own cap: 16). */
export const SEMI_SPACE_MB = 8;

/** Node flags an operator may give instead (command line or NODE_OPTIONS): theirs win. */
const OLD_GENERATION_FLAGS = /--heap-growing-percent\b/;
const YOUNG_GENERATION_FLAGS = /--(max|min)-semi-space-size\b|--semi-space-growth-factor\b/;

export function limitHeap(nodeFlags: string): void {
  if (!OLD_GENERATION_FLAGS.test(nodeFlags)) {
    // Read by V8 at every full collection (it fixes the growing factor V8 would choose).
    setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  }
  if (!YOUNG_GENERATION_FLAGS.test(nodeFlags)) capYoungGeneration(SEMI_SPACE_MB);
}

/**
 * V8 reads its semi-space maximum once, at start; what it reads at every scavenge is the factor
 * by which the young generation grows when much of it survives. So the factor is 1 (no growth)
 * from here on, and 2 only while the young generation is below the cap, looked at after each
 * collection. Growth can overshoot the cap by one doubling when several collections run before
 * the observer does (while modules load); that is V8's own maximum here.
 */
function capYoungGeneration(semiSpaceMb: number): void {
  let growing = false;
  const grow = (yes: boolean) => {
    if (yes === growing) return;
    growing = yes;
    setFlagsFromString(`--semi-space-growth-factor=${yes ? 2 : 1}`);
  };
  setFlagsFromString('--semi-space-growth-factor=1');
  const capacity = () =>
    getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;
  new PerformanceObserver(() => grow(capacity() < 2 * semiSpaceMb * 2 ** 20)).observe({
    entryTypes: ['gc'],
  });
  grow(capacity() < 2 * semiSpaceMb * 2 ** 20);
}

// Imported first by main.ts, so that it runs before the other modules fill the heap (loading the
// config module alone grows the young generation to 16 MB), hence before the config is read.
// eslint-disable-next-line no-restricted-properties -- node's own flags, not Truceline's settings
limitHeap(`${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`);
