/**
 * When the SIP side of a mass start was done: polls getStatistics once a second until
 * the daemon holds a final reply for every account. Set beside the time the database
 * showed them all ACTIVE, it tells SIP throughput from status-writing lag.
 */
import type { RunningDaemon } from '../../test/support/daemon';
import { agentStatistics } from './agent-statistics';
import { sleep } from './time';

export interface ReplyWatch {
  /** Stops polling; resolves with the seconds from `start` to N final replies, if seen. */
  stop(): Promise<number | undefined>;
}

export function watchReplies(daemon: RunningDaemon, expected: number, start: number): ReplyWatch {
  let stopped = false;
  let doneAt: number | undefined;
  const loop = (async () => {
    while (!stopped && doneAt === undefined) {
      try {
        const replies = Object.values((await agentStatistics(daemon)).replies).reduce((a, b) => a + b, 0);
        if (replies >= expected) doneAt = (performance.now() - start) / 1000;
      } catch {
        // RPC not up yet (it starts after the accounts are loaded)
      }
      await sleep(1000);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return doneAt;
    },
  };
}
