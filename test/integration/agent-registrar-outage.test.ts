/**
 * Registrar outages (issue 14, "the table never lies"): the registrar frozen (SIGSTOP)
 * and killed (UDP: ICMP port unreachable; TCP: reset, then refused) for longer than the
 * registrations last, then back. Every row must stop saying ACTIVE by its expiry, be
 * FAILED with the code the failure deserves, the daemon must idle meanwhile, and every
 * account must be ACTIVE again within one error_retry_interval (plus the ramp) without
 * a burst of REGISTERs per account. CI sizes: 300 accounts, expires 20 s, outages of
 * 25 s, error_retry_interval 10 s; test/long/registrar-outage.long.test.ts runs 10 000
 * accounts for 2 minutes (support: test/support/registrar-outage.ts).
 */
import assert from 'node:assert/strict';
import { UNABLE_TO_SEND } from '../../src/agent/status-transitions';
import { assertOutageHandled, EXPIRED_REASONS, outageRuns, TIMEOUT, type OutageLimits } from '../support/registrar-outage';

const BASE = { accounts: 300, expires: 20, errorRetryInterval: 10, outageMs: 25_000, settleMs: 30_000 } as const;
/** Registration requests per account while the registrar is away: the refresh, then one retry per error_retry_interval. */
const MOST_REQUESTS_PER_ACCOUNT = 1 + Math.ceil(BASE.outageMs / 1000 / BASE.errorRetryInterval);
/** What the registrar and the daemon's window need to take every account again after the retry interval. */
const RAMP_MS = 10_000;
/**
 * Most REGISTER transactions per account at the registrar from its return until all are
 * ACTIVE, besides the refreshes of accounts back early: the request waiting when it
 * returns and its re-send after a stale-nonce challenge (a restarted Kamailio). A storm
 * is dozens.
 */
const MOST_TRANSACTIONS_AFTER_RETURN = 2;
/** Far above an idle daemon's CPU with these accounts, far below a retry loop's (a core). */
const MOST_CPU_SHARE = 0.25;

describe('registration engine: registrar outages (MariaDB + Kamailio frozen and killed)', function () {
  this.timeout(120_000);
  const run = outageRuns(BASE);

  const limits: OutageLimits = {
    mostRequestsPerAccount: MOST_REQUESTS_PER_ACCOUNT, rampMs: RAMP_MS,
    mostTransactionsAfterReturn: MOST_TRANSACTIONS_AFTER_RETURN, mostCpuShare: MOST_CPU_SHARE,
  };

  it('frozen (SIGSTOP): every row FAILED 408 by its expiry, none ACTIVE past it; ACTIVE again after SIGCONT without a storm', async () => {
    const r = await run({ fault: 'freeze', transport: 'udp', tag: 'frozen' });
    assertOutageHandled(r, [...EXPIRED_REASONS, TIMEOUT], limits);
    assert.ok(EXPIRED_REASONS.some((reason) => (r.failedReasons[reason] ?? 0) > 0), 'the expiry, not Timer F, turned rows FAILED');
  });

  it('killed, UDP (ICMP port unreachable, unseen by an unconnected socket): FAILED 408; ACTIVE again after the restart', async () => {
    const r = await run({ fault: 'kill', transport: 'udp', tag: 'killed-udp' });
    assertOutageHandled(r, [...EXPIRED_REASONS, TIMEOUT], limits);
  });

  it('killed, TCP (reset, then refused): FAILED 480 "unable to send request" (408 for a request the reset cut off); ACTIVE again after the restart', async () => {
    const r = await run({ fault: 'kill', transport: 'tcp', tag: 'killed-tcp' });
    const unsendable = `${UNABLE_TO_SEND.code} ${UNABLE_TO_SEND.reason}`;
    assertOutageHandled(r, [unsendable, TIMEOUT, ...EXPIRED_REASONS], limits);
    assert.ok((r.failedReasons[unsendable] ?? 0) > r.plan.accounts / 2, `mostly refused: ${JSON.stringify(r.failedReasons)}`);
  });
});
