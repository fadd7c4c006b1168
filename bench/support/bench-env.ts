/** Benchmark knobs from the environment (`BENCH_*`), with their defaults. */

/** The trimmed value of `name`; undefined when unset or empty. */
export function envText(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** A positive number from `name`, else `fallback`. */
export function envNumber(name: string, fallback: number): number {
  const text = envText(name);
  if (text === undefined) return fallback;
  const value = Number(text.replace(/_/g, ''));
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}=${text}: not a positive number`);
  return value;
}

/** A comma-separated list of positive integers, e.g. BENCH_SIZES=1000,5000. */
export function envSizes(name: string, fallback: readonly number[]): number[] {
  const text = envText(name);
  if (text === undefined) return [...fallback];
  return text.split(',').map((part) => {
    const value = Number(part.trim().replace(/_/g, ''));
    if (!Number.isInteger(value) || value <= 0) throw new Error(`${name}=${text}: '${part}' is not a positive integer`);
    return value;
  });
}

/** Space-separated words, e.g. BENCH_DAEMON_NODE_ARGS="--trace-gc --max-semi-space-size=32"; none when unset. */
export function envWords(name: string): string[] {
  return envText(name)?.split(/\s+/) ?? [];
}

export function envFlag(name: string): boolean {
  return envText(name) === '1';
}
