/** Plots with gnuplot (Debian package gnuplot-nox; `make bench` installs it). */
import { execFileSync } from 'node:child_process';

/** Runs a gnuplot script given on stdin; throws with gnuplot's message on failure. */
export function runGnuplot(script: string): void {
  try {
    execFileSync('gnuplot', [], { input: script, timeout: 60_000, stdio: ['pipe', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`gnuplot failed (is gnuplot-nox installed? make bench installs it): ${(err as Error).message}\n${stderr}`, { cause: err });
  }
}

/** A gnuplot string literal (single quotes, doubled inside). */
export function gnuplotString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
