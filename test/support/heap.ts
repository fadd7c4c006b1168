/**
 * The test process's own heap, measured after a full garbage collection, for checks
 * that something is not kept alive. Works without node --expose-gc.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

let gc: (() => void) | undefined;

/** A full, synchronous garbage collection. */
export function collectGarbage(): void {
  if (gc === undefined) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  }
  gc();
}

/** heapUsed right after a full garbage collection, bytes. */
export function liveHeapBytes(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}
