/**
 * How far V8 lets the heap grow past what survived its last full collection before it
 * collects again. V8 picks a factor of up to 4 when the program allocates fast, and a
 * mass start allocates fast: at 100 000 accounts the daemon peaked at ~500 MB of RSS
 * for ~130 MB of live data. 25 % holds the peak near 260 MB for about a quarter more
 * CPU during the mass start (doc/benchmarks.md); idle and steady refreshing are not
 * affected. Unlike a heap cap, it cannot make the process run out of memory with more
 * accounts than foreseen.
 */
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 25;
const FLAG = '--heap-growing-percent';

/**
 * Sets the growth factor unless node was started with its own
 * (`node --heap-growing-percent=N main.js`; V8 reads the flag at every collection).
 */
export function applyHeapPolicy(execArgv: readonly string[] = process.execArgv): boolean {
  if (heapGrowthGivenToNode(execArgv)) return false;
  setFlagsFromString(`${FLAG}=${HEAP_GROWING_PERCENT}`);
  return true;
}

/** node accepts V8 flags with '-' or '_' between the words. */
export function heapGrowthGivenToNode(execArgv: readonly string[]): boolean {
  return execArgv.some((arg) => `--${arg.slice(2).replace(/_/g, '-')}`.startsWith(FLAG));
}
