/**
 * Stand-in for control-plane-thread.ts that says it listens and then dies, so that
 * ControlPlane's restart can be seen (the real thread is tested through the daemon).
 */
import { parentPort } from 'node:worker_threads';

parentPort?.postMessage({ kind: 'listening' });
setTimeout(() => process.exit(3), 50);
