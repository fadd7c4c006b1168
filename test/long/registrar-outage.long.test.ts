/**
 * The long registrar outage run (issue 14, item 2): 10 000 accounts with expires 60 s,
 * the registrar frozen (SIGSTOP) and killed (UDP, then TCP) for 2 minutes each, then
 * back; the same checks as the CI test (test/integration/agent-registrar-outage.test.ts)
 * at full size. About 12 minutes, in `make test-long`; alone:
 *   make test-build && node_modules/.bin/mocha build/test/long/registrar-outage.long.test.js
 * It prints its figures (doc/reliability.md quotes them).
 */
import { UNABLE_TO_SEND } from '../../src/agent/status-transitions';
import { assertOutageHandled, EXPIRED_REASONS, outageRuns, TIMEOUT, type OutageLimits } from '../support/registrar-outage';

const BASE = { accounts: 10_000, expires: 60, errorRetryInterval: 60, outageMs: 120_000, settleMs: 180_000 } as const;
const LIMITS: OutageLimits = {
  // The refresh, then one retry per error_retry_interval.
  mostRequestsPerAccount: 1 + Math.ceil(BASE.outageMs / 1000 / BASE.errorRetryInterval),
  // 10 000 accounts through a window that starts again at its minimum after the outage.
  rampMs: 30_000,
  mostTransactionsAfterReturn: 2,
  mostCpuShare: 0.5,
};

describe('registrar outages at full size: 10 000 accounts, 2 minutes (MariaDB + Kamailio)', function () {
  this.timeout(900_000);
  const runOutage = outageRuns(BASE);
  const run = async (plan: Parameters<typeof runOutage>[0], allowedReasons: readonly string[]): Promise<void> => {
    assertOutageHandled(await runOutage(plan), allowedReasons, LIMITS);
  };

  it('frozen for 2 minutes', () => run({ fault: 'freeze', transport: 'udp', tag: 'long-frozen' }, [...EXPIRED_REASONS, TIMEOUT]));
  it('killed for 2 minutes, UDP', () => run({ fault: 'kill', transport: 'udp', tag: 'long-killed-udp' }, [...EXPIRED_REASONS, TIMEOUT]));
  it('killed for 2 minutes, TCP', () => run({ fault: 'kill', transport: 'tcp', tag: 'long-killed-tcp' },
    [`${UNABLE_TO_SEND.code} ${UNABLE_TO_SEND.reason}`, TIMEOUT, ...EXPIRED_REASONS]));
});
