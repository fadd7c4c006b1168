/**
 * Stand-in for control-plane-thread.ts that reports the resource limits it was started
 * with, as the reason of a failed start (the one message that carries text back).
 */
import { parentPort, resourceLimits } from 'node:worker_threads';

parentPort?.postMessage({ kind: 'failed', message: JSON.stringify(resourceLimits) });
