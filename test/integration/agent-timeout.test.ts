/**
 * A registrar that never answers (issue 4, SPEC §4/§8): the RFC 3261 non-INVITE client
 * transaction over UDP retransmits at 0.5, 1, 2, 4, 4, ... s and gives up after 32 s
 * (Timer F); the daemon stores 408 "Timeout", status FAILED. Takes ~35 s: the one test
 * of its kind.
 */
import assert from 'node:assert/strict';
import { startDaemon, type RunningDaemon } from '../support/daemon';
import { createTestDatabase, type TestDatabase } from '../support/mariadb';
import {
  di, endDaemon, registers, registrationRow, RegStatus, summarize, waitForRegisters, waitForStatus,
} from '../support/registrations';
import { startSipp, type SippHandle } from '../support/sipp';

/** Gaps between successive copies: T1 doubling from 0.5 s, capped at T2 = 4 s. */
const EXPECTED_GAPS_MS = [500, 1000, 2000, 4000, 4000, 4000, 4000, 4000, 4000, 4000];
const TIMER_F_MS = 32_000;

describe('registration engine: registrar silent (MariaDB + sipp no-answer)', function () {
  this.timeout(70_000);
  let db: TestDatabase | undefined;
  let daemon: RunningDaemon | undefined;
  let peer: SippHandle | undefined;

  afterEach(async function () {
    await endDaemon(this.currentTest, daemon);
    await peer?.stop();
    await db?.drop();
  });

  it('retransmits on the UDP schedule, then FAILED 408 "Timeout" after 32 s; no retry before error_retry_interval', async () => {
    db = await createTestDatabase({ schema: 'readme' });
    peer = await startSipp('no-answer');
    daemon = await startDaemon({ db: db.config, agent: { error_retry_interval: '300' } });
    await daemon.waitForLog(/running/);
    await di(daemon, 'createRegistration', 41, 'silent', 'pw', peer.hostPort);

    const [first] = await waitForRegisters(peer, 1);
    const request = summarize(first as NonNullable<typeof first>);
    const row = await waitForStatus(db, 41, RegStatus.FAILED, TIMER_F_MS + 5000);
    const storedAfterMs = Date.now() - request.at;
    assert.equal(row.last_code, 408);
    assert.equal(row.last_reason, 'Timeout');
    assert.ok(storedAfterMs >= TIMER_F_MS - 500 && storedAfterMs <= TIMER_F_MS + 2500,
      `408 stored ${storedAfterMs} ms after the first copy`);

    const arrivals = peer.arrivalTimes(request.callId, request.cseq);
    const gaps = arrivals.slice(1).map((t, i) => Math.round(t - (arrivals[i] as number)));
    assert.equal(gaps.length, EXPECTED_GAPS_MS.length, `copies every ${JSON.stringify(gaps)} ms`);
    gaps.forEach((gap, i) => {
      const expected = EXPECTED_GAPS_MS[i] as number;
      assert.ok(Math.abs(gap - expected) <= 250, `gap ${i + 1}: ${gap} ms, expected ${expected} ms (all: ${JSON.stringify(gaps)})`);
    });
    assert.equal(registers(peer).length, 1, 'one transaction: no new request before error_retry_interval');
    assert.equal((await registrationRow(db, 41))?.registration_status, RegStatus.FAILED);
  });
});
