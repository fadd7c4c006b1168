/**
 * The machine a benchmark ran on, and a wait for it to be quiet: other engineers run
 * test suites on the same host, and a loaded machine is a different benchmark.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { sleep } from './time';

export interface MachineDescription {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
}

export function describeMachine(): MachineDescription {
  return {
    cpus: os.cpus().length, // the machine's, not this process's affinity (BENCH_CPU_SPLIT narrows that)
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: os.totalmem() / 2 ** 30,
    kernel: os.release(),
    node: process.version,
  };
}

/** The 1-, 5- and 15-minute load averages. */
export function loadAverages(): [number, number, number] {
  const [one, five, fifteen] = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number);
  return [one, five, fifteen];
}

export function formatLoad(load: readonly number[]): string {
  return load.map((x) => x.toFixed(2)).join(' / ');
}

/**
 * Waits (polling every 10 s, at most `maxWaitMs`) until the 1-minute load is at or
 * below `maxLoad`; returns the load when it went on, whether or not it got there.
 */
export async function waitForQuietMachine(maxLoad: number, maxWaitMs: number, say: (line: string) => void): Promise<[number, number, number]> {
  const deadline = Date.now() + maxWaitMs;
  let load = loadAverages();
  if (load[0] > maxLoad) say(`load ${formatLoad(load)} above ${maxLoad}: waiting up to ${Math.round(maxWaitMs / 1000)} s`);
  while (load[0] > maxLoad && Date.now() < deadline) {
    await sleep(10_000);
    load = loadAverages();
  }
  if (load[0] > maxLoad) say(`load still ${formatLoad(load)}: measuring anyway`);
  return load;
}
