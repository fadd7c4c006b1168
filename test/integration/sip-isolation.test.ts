/**
 * Accounts that fail must not hold up the others behind the same next hop (issue 3,
 * SPEC §8: SEMS blacklists a next hop that answered one account 503, failing everyone
 * behind it). Kamailio answers users named `busy…` with 503 and silently drops the
 * REGISTERs of users named `mute…`; they are mixed among good accounts, first behind
 * the same registrar, then behind the same outbound proxy (the Kamailio itself, with a
 * realm that does not resolve, so the proxy is the only possible next hop). Every good
 * account must be registered at once: all within 2 s, while the dropped ones are still
 * waiting for Timer F.
 *
 * The last test runs the same mix through the registration engine, whose congestion
 * window bounds the transactions in flight per next hop and gives a slot back after
 * 1 s unanswered (src/agent/registration-agent.ts).
 */
import assert from 'node:assert/strict';
import type { AccountKey, AccountData } from '../../src/agent/account';
import { systemClock } from '../../src/core/clock';
import { createRateLimiter } from '../../src/agent/rate-limiter';
import { RefreshLoad } from '../../src/agent/refresh-load';
import { RefreshPlanner } from '../../src/agent/refresh-planner';
import { RegistrationAgent, type AgentSettings, type StatusSink } from '../../src/agent/registration-agent';
import { RegStatus } from '../../src/agent/status-transitions';
import { TimerQueue } from '../../src/agent/timer-queue';
import type { AccountKey as DbKey } from '../../src/db/account-key';
import type { RegistrationUpdate } from '../../src/db/registration-update';
import type { RegistrationOutcome, RegistrationParams } from '../../src/sip/registration-client';
import { startKamailio, type KamailioHandle } from '../support/kamailio';
import { openTestClient, passwordOf, type TestClient } from '../support/sip-client';

const UNAVAILABLE_PREFIX = 'busy';
const DROPPED_PREFIX = 'mute';
/** "At once": every good account is through within this, measured from the first REGISTER. */
const AT_ONCE_MS = 2000;
/** Short RFC 3261 timers (Timer F = 64 × T1 = 8 s), so the dropped REGISTERs end within the test. */
const FAST_TIMERS = { t1: 125, t2: 4000, t4: 5000 };
const TIMER_F_MS = 64 * FAST_TIMERS.t1;
/** A realm nobody can resolve (RFC 2606): only the outbound proxy can be the next hop. */
const UNRESOLVABLE_REALM = 'registrar.invalid';

type Kind = 'good' | 'unavailable' | 'dropped';

interface Account {
  readonly user: string;
  readonly kind: Kind;
}

/**
 * `good` good accounts with one unavailable and one dropped account after every
 * third good one, so the failing ones are spread through the whole run.
 */
function mixedAccounts(tag: string, good: number): Account[] {
  const accounts: Account[] = [];
  for (let i = 0; i < good; i++) {
    accounts.push({ user: `good-${tag}-${i}`, kind: 'good' });
    if (i % 3 === 2) {
      accounts.push({ user: `${UNAVAILABLE_PREFIX}-${tag}-${i}`, kind: 'unavailable' });
      accounts.push({ user: `${DROPPED_PREFIX}-${tag}-${i}`, kind: 'dropped' });
    }
  }
  return accounts;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `done()` or the deadline; returns the ms waited from `since`, or undefined when it never held. */
async function msUntil(done: () => boolean, since: number, deadlineMs: number): Promise<number | undefined> {
  while (!done()) {
    if (Date.now() - since > deadlineMs) return undefined;
    await sleep(10);
  }
  return Date.now() - since;
}

interface Run {
  readonly account: Account;
  outcome?: RegistrationOutcome;
}

describe('SIP client: failing accounts do not hold up good ones behind the same next hop (Kamailio)', function () {
  this.timeout(60_000);
  let kam: KamailioHandle;
  let tc: TestClient;

  before(async function () {
    kam = await startKamailio({ reply503Prefix: UNAVAILABLE_PREFIX, dropPrefix: DROPPED_PREFIX });
    tc = await openTestClient({ timers: FAST_TIMERS });
  });

  after(async function () {
    await tc?.close();
    await kam?.stop();
  });

  async function addAccounts(accounts: readonly Account[], domain?: string): Promise<void> {
    await kam.addSubscribers(accounts.map(({ user }) => ({ user, password: passwordOf(user), domain })));
  }

  /**
   * Registers every account at once; asserts the good ones are through within
   * AT_ONCE_MS while the dropped ones are still pending, then that each kind ended as
   * it should: good 200 with a binding, unavailable 503 (sent), dropped 408 at Timer F.
   */
  async function registerMixAndCheck(accounts: readonly Account[], paramsOf: (user: string) => RegistrationParams): Promise<void> {
    const runs: Run[] = accounts.map((account) => ({ account }));
    const started = Date.now();
    const all = Promise.all(runs.map(async (run) => {
      run.outcome = await tc.client.register(tc.client.newDialog(), paramsOf(run.account.user));
    }));
    const of = (kind: Kind) => runs.filter((run) => run.account.kind === kind);
    const answered = (kind: Kind) => of(kind).every((run) => run.outcome !== undefined);

    const goodMs = await msUntil(() => answered('good') && answered('unavailable'), started, AT_ONCE_MS);
    const late = of('good').filter((run) => !run.outcome).map((run) => run.account.user);
    assert.ok(goodMs !== undefined, `not answered within ${AT_ONCE_MS} ms: ${late.join(', ')}`);
    assert.deepEqual(of('dropped').filter((run) => run.outcome), [], 'the dropped ones are still waiting');

    await all;
    const elapsed = Date.now() - started;
    for (const { account, outcome } of of('good')) {
      assert.equal(outcome?.code, 200, `${account.user}: ${JSON.stringify(outcome)}`);
      assert.equal(outcome?.grantedExpires, 3600);
    }
    for (const { account, outcome } of of('unavailable')) {
      assert.deepEqual([outcome?.code, outcome?.sent], [503, true], `${account.user}: ${JSON.stringify(outcome)}`);
    }
    for (const { account, outcome } of of('dropped')) {
      assert.deepEqual([outcome?.code, outcome?.reason], [408, 'Timeout'], `${account.user}: ${JSON.stringify(outcome)}`);
    }
    assert.ok(elapsed >= TIMER_F_MS, `the dropped ones ended after Timer F (${elapsed} ms)`);

    const bound = new Set((await kam.locations()).map((row) => row.username));
    assert.deepEqual(accounts.filter(({ user }) => bound.has(user)).map(({ user }) => user),
      of('good').map((run) => run.account.user), 'bindings for exactly the good accounts');
  }

  it(`behind the same registrar: 30 good accounts registered within ${AT_ONCE_MS} ms among 10 answered 503 and 10 dropped`, async function () {
    const accounts = mixedAccounts('registrar', 30);
    await addAccounts(accounts);
    await registerMixAndCheck(accounts, (user) => tc.params(user, kam.hostPort()));
  });

  it(`behind the same outbound proxy (realm ${UNRESOLVABLE_REALM}): the same, every REGISTER routed through the proxy`, async function () {
    const accounts = mixedAccounts('proxy', 30);
    await addAccounts(accounts, UNRESOLVABLE_REALM);
    const outboundProxy = `sip:${kam.hostPort()}`;
    await registerMixAndCheck(accounts, (user) => tc.params(user, UNRESOLVABLE_REALM, { outboundProxy }));
    const routes = new Set(tc.sent.filter((request) => request.uri === `sip:${UNRESOLVABLE_REALM}`)
      .map((request) => request.headers.get('route')));
    assert.deepEqual([...routes], [`<${outboundProxy};lr>`], 'a pre-loaded loose Route to the proxy (RFC 3261 §8.1.2)');
    const rows = await kam.locations({ domain: UNRESOLVABLE_REALM });
    assert.ok(rows.length > 0 && rows.every((row) => row.socket === `udp:${kam.hostPort()}`), 'bound through the proxy');
  });
});

/** The status writes the engine makes, with when each arrived. */
class RecordingSink implements StatusSink {
  readonly updates = new Map<number, { at: number; update: RegistrationUpdate }>();
  insertIfMissing(): void {}
  update(key: DbKey, update: RegistrationUpdate): void {
    this.updates.set(key.id, { at: Date.now(), update });
  }
  remove(): void {}
}

describe('registration engine with the real SIP client: dropped accounts do not delay good ones (Kamailio)', function () {
  this.timeout(60_000);
  /** Below the number of dropped accounts: without the 1-s slot return they would fill the window and stall the rest until Timer F. */
  const MAX_PENDING_TRANSACTIONS = 40;
  /** Once the dropped ones fill the window, the rest waits for the engine's 1-s slot return: 1 s on top of "at once". */
  const ENGINE_AT_ONCE_MS = 1000 + 1500;
  let kam: KamailioHandle;
  let tc: TestClient;
  let timers: TimerQueue<AccountKey> | undefined;

  before(async function () {
    kam = await startKamailio({ dropPrefix: DROPPED_PREFIX });
    tc = await openTestClient({ timers: FAST_TIMERS });
  });

  after(async function () {
    await tc?.close();
    timers?.clear(); // outcomes that ended after stop() planned retries
    await kam?.stop();
  });

  function startAgent(sink: StatusSink): RegistrationAgent {
    const load = new RefreshLoad();
    timers = new TimerQueue<AccountKey>(systemClock, { observer: load });
    const settings: AgentSettings = {
      rules: { usernameWithDomain: false, contactHostport: '', localHostport: tc.hostPort, expires: 3600, outboundProxy: '' },
      policy: { saveContacts: true, saveAuthReplies: false, deleteRemovedRegistrations: true, deleteFailedDeregistrations: false },
      errorRetryInterval: 300,
      dbReadContact: true,
      maxPendingTransactions: MAX_PENDING_TRANSACTIONS,
    };
    return new RegistrationAgent(settings, {
      client: tc.client,
      writer: sink,
      clock: systemClock,
      timers,
      planner: new RefreshPlanner({ reregisterInterval: 0.5 }, systemClock, load),
      rateLimiter: createRateLimiter(systemClock, undefined),
    });
  }

  it(`200 good accounts ACTIVE within ${ENGINE_AT_ONCE_MS} ms among 50 dropped (window ${MAX_PENDING_TRANSACTIONS}), the dropped still pending`, async function () {
    const accounts = Array.from({ length: 250 }, (_, i): Account => (i % 5 === 4
      ? { user: `${DROPPED_PREFIX}-engine-${i}`, kind: 'dropped' }
      : { user: `good-engine-${i}`, kind: 'good' }));
    await kam.addSubscribers(accounts.map(({ user }) => ({ user, password: passwordOf(user) })));
    const sink = new RecordingSink();
    const agent = startAgent(sink);
    const ids = (kind: Kind) => accounts.flatMap((account, id) => (account.kind === kind ? [id] : []));
    const active = (id: number) => sink.updates.get(id)?.update.status === RegStatus.Active;

    const started = Date.now();
    accounts.forEach(({ user }, id) => {
      const data: AccountData = { user, password: passwordOf(user), realm: kam.hostPort(), contact: '', authUser: '' };
      agent.create('subscriber', id, data);
    });
    const goodMs = await msUntil(() => ids('good').every(active), started, ENGINE_AT_ONCE_MS);
    const inactive = ids('good').filter((id) => !active(id));
    agent.stop();
    assert.ok(goodMs !== undefined, `${inactive.length} good accounts not ACTIVE within ${ENGINE_AT_ONCE_MS} ms: ${JSON.stringify(
      inactive.slice(0, 5).map((id) => agent.describe('subscriber', id)))}`);
    for (const id of ids('dropped')) {
      assert.equal(sink.updates.has(id), false, `dropped account ${id} has no outcome yet`);
      assert.equal(agent.describe('subscriber', id)?.status, RegStatus.Inactive);
    }
    assert.equal((await kam.locations()).length, ids('good').length);
  });
});
