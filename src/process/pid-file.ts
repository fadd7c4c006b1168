/**
 * The pid file of `-P` (SEMS: `-P <file>`): written once the configuration is read,
 * removed at the end of an orderly stop.
 */
import { unlinkSync, writeFileSync } from 'node:fs';

/** Writes the pid file and returns the function that removes it (a no-op if it is gone). */
export function writePidFile(path: string): () => void {
  try {
    writeFileSync(path, `${process.pid}\n`);
  } catch (err) {
    throw new Error(`cannot write pid file '${path}': ${(err as Error).message}`, { cause: err });
  }
  return () => {
    try {
      unlinkSync(path);
    } catch {
      // already gone: nothing to clean up
    }
  };
}
