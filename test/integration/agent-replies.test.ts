/**
 * Registration engine against misbehaving registrars (issue 4): sipp peers answer
 * the daemon's REGISTERs in scripted ways, and their message traces show exactly what
 * went over the wire and when. The registrations table shows what the daemon made of it.
 */
import assert from 'node:assert/strict';
import { startDaemon, type RunningDaemon } from '../support/daemon';
import { createTestDatabase, type TestDatabase } from '../support/mariadb';
import {
  defaultContact, di, endDaemon, registers, RegStatus, sleep, summarize,
  waitForRegisters, waitForRow, waitForStatus,
} from '../support/registrations';
import { uriOf } from '../support/sip-message';
import { startSipp, type SippHandle, type SippOptions, type SippScenario } from '../support/sipp';

const OK = [200, 'OK'];

/** Asserts `actualMs` lies in [lowMs, highMs]. */
function assertBetween(actualMs: number, lowMs: number, highMs: number, what: string): void {
  assert.ok(actualMs >= lowMs && actualMs <= highMs, `${what}: ${Math.round(actualMs)} ms, expected ${lowMs}..${highMs} ms`);
}

describe('registration engine: misbehaving registrars (MariaDB + sipp)', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let daemon: RunningDaemon | undefined;
  let peer: SippHandle | undefined;

  beforeEach(async () => {
    db = await createTestDatabase({ schema: 'readme' });
  });
  afterEach(async function () {
    await endDaemon(this.currentTest, daemon);
    daemon = undefined;
    await peer?.stop();
    peer = undefined;
    await db?.drop();
  });

  /** A sipp registrar and a daemon (expires 3600) pointed at nothing yet. */
  async function start(scenario: SippScenario, sipp: SippOptions, agent: Record<string, string> = {}): Promise<RunningDaemon> {
    peer = await startSipp(scenario, sipp);
    daemon = await startDaemon({ db: db.config, agent: { expires: '3600', ...agent } });
    await daemon.waitForLog(/running/);
    return daemon;
  }

  it('refresh and remove on the wire: one dialog, CSeq 50, 51, 52; the de-REGISTER has Contact ;expires=0 and Expires: 0; row deleted', async () => {
    const d = await start('reply-200-expires-60', { grantedExpires: 3600 });
    const sipp = peer as SippHandle;
    await di(d, 'createRegistration', 21, 'wire-a', 'pw', sipp.hostPort);
    await waitForStatus(db, 21, RegStatus.ACTIVE);
    assert.deepEqual(await di(d, 'refreshRegistration', 21), OK);
    await waitForRegisters(sipp, 2);
    assert.deepEqual(await di(d, 'removeRegistration', 21), OK);
    await waitForRow(db, 21, 'deleted (delete_removed_registrations=yes)', (r) => r === undefined);

    const [register, refresh, deregister, ...more] = registers(sipp).map(summarize);
    assert.equal(more.length, 0, 'three requests in all');
    assert.ok(register && refresh && deregister);
    assert.equal(register.cseq, 50, 'SEMS starts at CSeq 50');
    assert.equal(register.expires, '3600');
    assert.equal(uriOf(register.contact), defaultContact(d, 'wire-a'));
    for (const later of [refresh, deregister]) {
      assert.equal(later.callId, register.callId, 'same Call-ID for the registration\'s life');
      assert.equal(later.fromTag, register.fromTag, 'same From tag');
    }
    assert.equal(refresh.cseq, 51, 'refresh: CSeq + 1');
    assert.equal(refresh.expires, '3600');
    assert.equal(deregister.cseq, 52);
    assert.equal(uriOf(deregister.contact), defaultContact(d, 'wire-a'));
    assert.equal(deregister.contactExpires, '0', `Contact ${deregister.contact}`);
    assert.equal(deregister.expires, '0');
  });

  it('remove with an explicit contact and delete_removed_registrations=no: Expires: 0 as well (unlike SEMS), status 4 REMOVED', async () => {
    const d = await start('reply-200-expires-60', { grantedExpires: 3600 }, { delete_removed_registrations: 'no' });
    const sipp = peer as SippHandle;
    const contact = 'sip:wire-b-desk@127.0.0.1:5999';
    await di(d, 'createRegistration', 22, 'wire-b', 'pw', sipp.hostPort, contact);
    const active = await waitForStatus(db, 22, RegStatus.ACTIVE);
    assert.ok(active.contacts?.includes(`<${contact}>`), `contacts ${active.contacts}`);
    await di(d, 'removeRegistration', 22);
    const row = await waitForStatus(db, 22, RegStatus.REMOVED);
    assert.equal(row.last_code, 200);

    const [register, deregister] = registers(sipp).map(summarize);
    assert.ok(register && deregister);
    assert.equal(uriOf(register.contact), contact);
    assert.equal(uriOf(deregister.contact), contact);
    assert.equal(deregister.callId, register.callId);
    assert.equal(deregister.cseq, register.cseq + 1);
    assert.equal(deregister.contactExpires, '0');
    assert.equal(deregister.expires, '0');
  });

  it('wrong password: one re-send with credentials, FAILED 401 with contacts emptied, retried after error_retry_interval', async () => {
    const d = await start('reply-401-always', {}, { error_retry_interval: '3' });
    const sipp = peer as SippHandle;
    await di(d, 'createRegistration', 23, 'wire-k', 'wrong', sipp.hostPort);
    const row = await waitForStatus(db, 23, RegStatus.FAILED);
    assert.equal(row.last_code, 401);
    assert.equal(row.last_reason, 'Unauthorized');
    assert.equal(row.contacts ?? '', '');

    const first = registers(sipp).map(summarize);
    assert.equal(first.length, 2, 'one attempt = the request and one re-send with credentials');
    const [plain, withCredentials] = first as [ReturnType<typeof summarize>, ReturnType<typeof summarize>];
    assert.equal(plain.authorized, false);
    assert.equal(withCredentials.authorized, true);
    assert.equal(withCredentials.callId, plain.callId);
    assert.equal(withCredentials.cseq, plain.cseq + 1, 'the re-send with credentials takes CSeq + 1');
    // Nothing more until the retry is due (3 s after the second 401).
    await sleep(Math.max(0, withCredentials.at + 2000 - Date.now()));
    assert.equal(registers(sipp).length, 2, 'a second challenge is final: no third request');

    const retry = (await waitForRegisters(sipp, 4, 8000)).map(summarize);
    const [again, againWithCredentials] = retry.slice(2) as [ReturnType<typeof summarize>, ReturnType<typeof summarize>];
    assertBetween(again.at - withCredentials.at, 2800, 4500, 'retry after error_retry_interval=3');
    assert.equal(again.callId, plain.callId);
    assert.deepEqual([again.cseq, again.authorized, againWithCredentials.cseq, againWithCredentials.authorized],
      [plain.cseq + 2, false, plain.cseq + 3, true]);
    assert.equal((await waitForStatus(db, 23, RegStatus.FAILED)).last_code, 401);
  });

  it('a 2xx without our Contact → FAILED naming the missing Contact; no re-REGISTER loop, a retry only after error_retry_interval', async () => {
    const d = await start('reply-200-without-contact', {}, { error_retry_interval: '4' });
    const sipp = peer as SippHandle;
    await di(d, 'createRegistration', 24, 'wire-c', 'pw', sipp.hostPort);
    const row = await waitForStatus(db, 24, RegStatus.FAILED);
    assert.equal(row.last_code, 200);
    assert.match(row.last_reason ?? '', /Contact is missing/);
    assert.ok(row.contacts?.includes('someone-else@192.0.2.1'), `contacts as received: ${row.contacts}`);

    const [first] = await waitForRegisters(sipp, 1);
    await sleep(Math.max(0, (first?.at ?? 0) + 3000 - Date.now()));
    assert.equal(registers(sipp).length, 1, 'exactly one REGISTER in the first 3 s');
    const [, second] = await waitForRegisters(sipp, 2, 6000);
    assertBetween((second?.at ?? 0) - (first?.at ?? 0), 3800, 5500, 'retry after error_retry_interval=4');
    assert.equal((await waitForStatus(db, 24, RegStatus.FAILED)).last_code, 200);
  });

  it('423 with Min-Expires 3600 → retried at once with Expires: 3600 → ACTIVE', async () => {
    const d = await start('reply-423', { minExpires: 3600 }, { expires: '600' });
    const sipp = peer as SippHandle;
    await di(d, 'createRegistration', 25, 'wire-d', 'pw', sipp.hostPort);
    const row = await waitForStatus(db, 25, RegStatus.ACTIVE);
    assert.equal(row.last_code, 200);
    assert.ok(row.expires_in !== null && row.expires_in >= 3595 && row.expires_in <= 3600, `expires_in ${row.expires_in}`);

    const [brief, retry, ...more] = registers(sipp).map(summarize);
    assert.equal(more.length, 0);
    assert.ok(brief && retry);
    assert.equal(brief.expires, '600');
    assert.equal(retry.expires, '3600');
    assert.equal(retry.callId, brief.callId);
    assert.equal(retry.cseq, brief.cseq + 1);
    assertBetween(retry.at - brief.at, 0, 500, 'retried at once');
  });

  it('SPEC §8: a grant of 60 in the 2xx Contact → expiry = now + 60, refresh planned for +30 s', async () => {
    const d = await start('reply-200-expires-60', { grantedExpires: 60 });
    const sipp = peer as SippHandle;
    await di(d, 'createRegistration', 27, 'wire-f', 'pw', sipp.hostPort);
    const row = await waitForStatus(db, 27, RegStatus.ACTIVE);
    assert.ok(row.expires_in !== null && row.expires_in >= 58 && row.expires_in <= 60, `expires_in ${row.expires_in}`);
    // Waiting 30 s for the refresh is the next test's job at a smaller scale; here the plan is read back.
    const plan = await di(d, 'getRegistration', 27) as Record<string, unknown>;
    assert.equal(plan.expires, 60);
    assert.equal(plan.next_action, 'refresh');
    assert.ok(typeof plan.next_action_in === 'number' && plan.next_action_in >= 28 && plan.next_action_in <= 30,
      `next_action_in ${String(plan.next_action_in)}`);
    assert.equal(registers(sipp).length, 1);
  });

  it('a shorter grant in the 2xx Contact is honoured: expiry = now + 10 s, refresh at +5 s still asking for 3600', async () => {
    const d = await start('reply-200-expires-60', { grantedExpires: 10 });
    const sipp = peer as SippHandle;
    await di(d, 'createRegistration', 26, 'wire-e', 'pw', sipp.hostPort);
    const row = await waitForStatus(db, 26, RegStatus.ACTIVE);
    assert.ok(row.expires_in !== null && row.expires_in >= 8 && row.expires_in <= 10, `expires_in ${row.expires_in}`);

    const [first, refresh] = (await waitForRegisters(sipp, 2, 9000)).map(summarize);
    assert.ok(first && refresh);
    assert.equal(first.expires, '3600');
    assertBetween(refresh.at - first.at, 4500, 6000, 'refresh at reregister_interval (0.5) × 10 s');
    assert.equal(refresh.expires, '3600', 'the request keeps asking for the configured expires');
    assert.equal(refresh.callId, first.callId);
    assert.equal(refresh.cseq, first.cseq + 1);
    await waitForRow(db, 26, 'refreshed', (r) => r?.registration_status === RegStatus.ACTIVE && (r.registered_ago ?? 99) <= 1
      && (r.expires_in ?? 0) >= 8);
  });
});
