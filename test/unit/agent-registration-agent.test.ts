/**
 * The engine with a fake clock and a scripted SIP client. The real client and
 * database are exercised end to end in test/integration/agent-*.test.ts.
 */
import assert from 'node:assert/strict';
import type { AccountData, AccountKey } from '../../src/agent/account';
import { FakeClock } from '../../src/core/clock';
import { createRateLimiter } from '../../src/agent/rate-limiter';
import { RefreshLoad } from '../../src/agent/refresh-load';
import { RefreshPlanner } from '../../src/agent/refresh-planner';
import { RegistrationAgent, type AgentSettings, type StatusSink } from '../../src/agent/registration-agent';
import { EXPIRED, RegStatus } from '../../src/agent/status-transitions';
import { TimerQueue } from '../../src/agent/timer-queue';
import type { AccountKey as DbKey } from '../../src/db/account-key';
import type { AccountRow } from '../../src/db/account-row';
import type { DiValue } from '../../src/core/di';
import type { RegistrationUpdate } from '../../src/db/registration-update';
import type { RateLimitConfig } from '../../src/config/agent-config';
import type {
  RegistrationClient, RegistrationDialog, RegistrationOutcome, RegistrationParams,
} from '../../src/sip/registration-client';

interface SentRequest {
  op: 'register' | 'unregister';
  dialog: RegistrationDialog;
  params: RegistrationParams;
  at: number;
  answer(o: Partial<RegistrationOutcome>): void;
}

class ScriptedClient implements RegistrationClient {
  readonly sent: SentRequest[] = [];
  private dialogs = 0;
  /** When set, requests are answered at once with this. */
  autoAnswer?: (r: SentRequest) => Partial<RegistrationOutcome>;
  constructor(private readonly clock: FakeClock) {}
  newDialog(): RegistrationDialog {
    this.dialogs++;
    return { callId: `call-${this.dialogs}`, fromTag: `tag-${this.dialogs}`, cseq: 50 };
  }
  register(dialog: RegistrationDialog, params: RegistrationParams): Promise<RegistrationOutcome> {
    return this.push('register', dialog, params);
  }
  unregister(dialog: RegistrationDialog, params: RegistrationParams): Promise<RegistrationOutcome> {
    return this.push('unregister', dialog, params);
  }
  async close(): Promise<void> {}
  private push(op: SentRequest['op'], dialog: RegistrationDialog, params: RegistrationParams): Promise<RegistrationOutcome> {
    return new Promise((resolve) => {
      const req: SentRequest = {
        op, dialog, params, at: this.clock.now(),
        answer: (o) => resolve({ code: 200, reason: 'OK', sent: true, retransmissions: 0, ...o }),
      };
      this.sent.push(req);
      if (this.autoAnswer) req.answer(this.autoAnswer(req));
    });
  }
}

class RecordingSink implements StatusSink {
  readonly ops: Array<[string, string, RegistrationUpdate?]> = [];
  insertIfMissing(key: DbKey): void {
    this.ops.push(['insert', `${key.type}:${key.id}`]);
  }
  update(key: DbKey, update: RegistrationUpdate): void {
    this.ops.push(['update', `${key.type}:${key.id}`, update]);
  }
  remove(key: DbKey): void {
    this.ops.push(['remove', `${key.type}:${key.id}`]);
  }
}

const SETTINGS: AgentSettings = {
  rules: { usernameWithDomain: false, contactHostport: '', localHostport: '127.0.0.1:5080', expires: 3600, outboundProxy: '' },
  policy: { saveContacts: true, saveAuthReplies: false, deleteRemovedRegistrations: true, deleteFailedDeregistrations: false },
  errorRetryInterval: 300,
  dbReadContact: true,
  maxPendingTransactions: 1000,
};

const ALICE: AccountData = { user: 'alice', password: 'secret', realm: '127.0.0.1:5070', contact: '', authUser: '' };

/** Lets promise callbacks run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Moves the clock in steps, letting the answers of each step arrive before the next. */
async function advanceSettling(clock: FakeClock, ms: number, stepMs = 100): Promise<void> {
  for (let done = 0; done < ms; done += stepMs) {
    clock.advance(Math.min(stepMs, ms - done));
    await settle();
  }
}

function setup(opts: { settings?: Partial<AgentSettings>; rateLimit?: RateLimitConfig; reregisterInterval?: number } = {}) {
  const clock = new FakeClock(1_000_000);
  const client = new ScriptedClient(clock);
  const sink = new RecordingSink();
  const load = new RefreshLoad();
  const timers = new TimerQueue<AccountKey>(clock, { observer: load });
  const planner = new RefreshPlanner({ reregisterInterval: opts.reregisterInterval ?? 0.5 }, clock, load);
  const rateLimiter = createRateLimiter(clock, opts.rateLimit);
  const agent = new RegistrationAgent({ ...SETTINGS, ...opts.settings }, { client, writer: sink, clock, timers, planner, rateLimiter });
  return { clock, client, sink, agent, timers, load };
}

function row(id: number, status: number | null, extra: Partial<AccountRow> = {}): AccountRow {
  return {
    type: 'subscriber', id, user: `u${id}`, pass: 'p', realm: '127.0.0.1:5070', contact: null, authUser: null,
    status, lastRegistration: null, expiry: null, ...extra,
  };
}

describe('RegistrationAgent', () => {
  it('create → REGISTER; 2xx → ACTIVE written, refresh at granted × reregister_interval with the same dialog', async () => {
    const { clock, client, sink, agent } = setup();
    agent.create('subscriber', 1, ALICE);
    assert.equal(client.sent.length, 1);
    const first = client.sent[0] as SentRequest;
    assert.equal(first.op, 'register');
    assert.equal(first.params.contact, 'sip:alice@127.0.0.1:5080');
    first.answer({ grantedExpires: 600, contacts: '<sip:alice@127.0.0.1:5080>;expires=600' });
    await settle();
    assert.deepEqual(sink.ops, [['update', 'subscriber:1', {
      lastCode: 200, lastReason: 'OK', status: RegStatus.Active,
      contacts: '<sip:alice@127.0.0.1:5080>;expires=600', registered: { grantedSeconds: 600 },
    }]]);
    clock.advance(299_000);
    assert.equal(client.sent.length, 1, 'no refresh before 300 s');
    clock.advance(2_000);
    assert.equal(client.sent.length, 2, 'refresh at 300 s');
    assert.equal(client.sent[1]?.dialog, first.dialog, 'same Call-ID/From tag across refreshes');
    assert.equal(agent.describe('subscriber', 1)?.status, RegStatus.Active);
  });

  it('a failure → FAILED, retried after error_retry_interval', async () => {
    const { clock, client, sink, agent } = setup({ settings: { errorRetryInterval: 60 } });
    agent.create('subscriber', 1, ALICE);
    client.sent[0]?.answer({ code: 403, reason: 'Forbidden' });
    await settle();
    assert.equal(sink.ops[0]?.[2]?.status, RegStatus.Failed);
    clock.advance(59_000);
    assert.equal(client.sent.length, 1);
    clock.advance(1_500);
    assert.equal(client.sent.length, 2);
  });

  it('error_retry_interval=0 does not retry', async () => {
    const { clock, client, agent } = setup({ settings: { errorRetryInterval: 0 } });
    agent.create('subscriber', 1, ALICE);
    client.sent[0]?.answer({ code: 408, reason: 'Timeout' });
    await settle();
    clock.advance(3_600_000);
    assert.equal(client.sent.length, 1);
  });

  it('update: a changed realm re-registers at once with a new dialog; an unchanged one sends nothing', async () => {
    const { client, agent } = setup();
    client.autoAnswer = () => ({ grantedExpires: 3600 });
    agent.create('subscriber', 1, ALICE);
    await settle();
    agent.update('subscriber', 1, { ...ALICE });
    await settle();
    assert.equal(client.sent.length, 1, 'nothing changed → nothing sent');
    agent.update('subscriber', 1, { ...ALICE, password: 'new' });
    await settle();
    assert.equal(client.sent.length, 2, 'password change → re-REGISTER');
    assert.equal(client.sent[1]?.dialog, client.sent[0]?.dialog, 'same dialog when identity is unchanged');
    agent.update('subscriber', 1, { ...ALICE, password: 'new', realm: '127.0.0.2:5070' });
    await settle();
    assert.equal(client.sent.length, 3);
    assert.notEqual(client.sent[2]?.dialog.callId, client.sent[0]?.dialog.callId, 'new Call-ID for a new realm');
    assert.equal(client.sent[2]?.params.domain, '127.0.0.2:5070');
  });

  it('update of an unknown id creates it', () => {
    const { client, agent } = setup();
    agent.update('subscriber', 9, ALICE);
    assert.equal(client.sent.length, 1);
    assert.ok(agent.describe('subscriber', 9));
  });

  it('create with auth_user "NULL" (as SEMS scripts send it) authenticates as the user', () => {
    const { client, agent } = setup();
    agent.create('subscriber', 1, { ...ALICE, authUser: 'NULL' });
    assert.equal(client.sent[0]?.params.authUser, 'alice');
  });

  it('remove → de-REGISTER; 2xx → row deleted and the account forgotten', async () => {
    const { client, sink, agent, timers } = setup();
    client.autoAnswer = () => ({ grantedExpires: 3600 });
    agent.create('subscriber', 1, ALICE);
    await settle();
    assert.equal(timers.size, 1);
    agent.remove('subscriber', 1);
    await settle();
    assert.equal(client.sent[1]?.op, 'unregister');
    assert.deepEqual(sink.ops.at(-1), ['remove', 'subscriber:1']);
    assert.equal(agent.describe('subscriber', 1), undefined);
    assert.equal(timers.size, 0, 'refresh timer cancelled');
  });

  it('a de-REGISTER that could not be sent keeps the account, with nothing scheduled, for a later remove (SEMS)', async () => {
    const { clock, client, sink, agent, timers } = setup();
    let sendable = true;
    client.autoAnswer = () => (sendable ? { grantedExpires: 3600 } : { code: 480, sent: false });
    agent.create('subscriber', 1, ALICE);
    await settle();
    sendable = false;
    agent.remove('subscriber', 1);
    await settle();
    assert.equal(agent.describe('subscriber', 1)?.status, RegStatus.ToBeRemoved);
    assert.equal(timers.size, 0);
    clock.advance(7_200_000);
    assert.equal(client.sent.length, 2, 'no retry of its own');
    sendable = true;
    agent.remove('subscriber', 1);
    await settle();
    assert.equal(client.sent[2]?.op, 'unregister');
    assert.deepEqual(sink.ops.at(-1), ['remove', 'subscriber:1']);
    assert.equal(agent.describe('subscriber', 1), undefined);
  });

  it('remove while the REGISTER is in flight sends the de-REGISTER after it, and no refresh', async () => {
    const { clock, client, agent, timers } = setup();
    agent.create('subscriber', 1, ALICE);
    agent.remove('subscriber', 1);
    assert.equal(client.sent.length, 1, 'one transaction at a time');
    client.sent[0]?.answer({ grantedExpires: 3600 });
    await settle();
    assert.equal(client.sent.length, 2);
    assert.equal(client.sent[1]?.op, 'unregister');
    client.sent[1]?.answer({});
    await settle();
    assert.equal(timers.size, 0);
    clock.advance(7_200_000);
    assert.equal(client.sent.length, 2);
  });

  it('refresh and remove of an unknown id are ignored', () => {
    const { client, agent } = setup();
    agent.refresh('subscriber', 5);
    agent.remove('peering', 5);
    assert.equal(client.sent.length, 0);
  });

  it('subscribers and peerings with the same id are different accounts', async () => {
    const { client, agent } = setup();
    agent.create('subscriber', 1, ALICE);
    agent.create('peering', 1, { ...ALICE, user: 'trunk' });
    assert.equal(client.sent.length, 2);
    assert.ok(agent.describe('subscriber', 1));
    assert.equal(agent.describe('peering', 1)?.user, 'trunk');
  });

  describe('start-up restore (SPEC §3)', () => {
    it('registers 0/1/3 and rows without status, de-registers 5, ignores 4, waits for ACTIVE rows', async () => {
      const { clock, client, sink, agent } = setup();
      agent.restore(row(1, null), clock.now());
      agent.restore(row(2, RegStatus.Inactive), clock.now());
      agent.restore(row(3, RegStatus.Pending), clock.now());
      agent.restore(row(4, RegStatus.Failed), clock.now());
      agent.restore(row(5, RegStatus.Removed), clock.now());
      agent.restore(row(6, RegStatus.ToBeRemoved), clock.now());
      agent.restore(row(7, RegStatus.Active, { lastRegistration: -1000, expiry: 2600 }), clock.now());
      agent.restore(row(8, RegStatus.Active, { lastRegistration: -4000, expiry: -400 }), clock.now());
      assert.deepEqual(sink.ops, [['insert', 'subscriber:1']]);
      assert.deepEqual(client.sent.map((r) => [r.params.user, r.op]), [
        ['u1', 'register'], ['u2', 'register'], ['u3', 'register'], ['u4', 'register'],
        ['u6', 'unregister'], ['u8', 'register'],
      ]);
      assert.equal(agent.describe('subscriber', 5), undefined, 'REMOVED rows stay out of memory');
      // Row 7: registered 1000 s ago for 3600 s → refresh at +800 s.
      clock.advance(799_000);
      assert.equal(client.sent.length, 6);
      clock.advance(2_000);
      assert.equal(client.sent.length, 7);
      assert.equal(client.sent[6]?.params.user, 'u7');
    });

    it('a restart of a fully registered population sends nothing until the refresh times', () => {
      const { clock, client, agent } = setup();
      for (let i = 0; i < 1000; i++) agent.restore(row(i, RegStatus.Active, { lastRegistration: -(i % 100), expiry: 3600 - (i % 100) }), clock.now());
      clock.advance(1_700_000);
      assert.equal(client.sent.length, 0);
      clock.advance(200_000);
      assert.equal(client.sent.length, 1000);
    });

    it('counts ACTIVE rows\' times from the DB clock reading: a row that expired during the load registers at once', () => {
      const { clock, client, agent } = setup();
      const readAt = clock.now();
      clock.advance(10_000); // the load so far
      agent.restore(row(1, RegStatus.Active, { lastRegistration: -3595, expiry: 5 }), readAt);
      agent.restore(row(2, RegStatus.Active, { lastRegistration: -1770, expiry: 1830 }), readAt);
      assert.deepEqual(client.sent.map((r) => r.params.user), ['u1']);
      // Row 2: registered 1770 s before the reading for 3600 s → refresh 30 s after it.
      clock.advance(readAt + 30_000 - clock.now() - 1);
      assert.equal(client.sent.length, 1);
      clock.advance(1);
      assert.deepEqual(client.sent.map((r) => r.params.user), ['u1', 'u2']);
    });

    it('reads contact (with db_read_contact) and auth_user from the row', () => {
      const { clock, client, agent } = setup();
      agent.restore(row(1, 0, { contact: 'sip:x@10.0.0.1:5060;transport=tcp', authUser: 'auth1' }), clock.now());
      assert.equal(client.sent[0]?.params.contact, 'sip:x@10.0.0.1:5060;transport=tcp');
      assert.equal(client.sent[0]?.params.authUser, 'auth1');
    });

    it('takes an auth_user column holding the text NULL or nothing as the user', () => {
      const { clock, client, agent } = setup();
      agent.restore(row(1, 0, { authUser: 'NULL' }), clock.now());
      agent.restore(row(2, 0, { authUser: '' }), clock.now());
      assert.deepEqual(client.sent.map((r) => r.params.authUser), ['u1', 'u2']);
    });

    it('ignores the contact column without db_read_contact', () => {
      const { clock, client, agent } = setup({ settings: { dbReadContact: false } });
      agent.restore(row(1, 0, { contact: 'sip:x@10.0.0.1:5060' }), clock.now());
      assert.equal(client.sent[0]?.params.contact, 'sip:u1@127.0.0.1:5080');
    });
  });

  it('stopping: an ACTIVE account\'s refresh that ends aborted keeps its row and status; a finished one is stored; neither plans anything', async () => {
    const { clock, client, sink, agent, timers } = setup();
    // Both registered 3000 s ago for 3600 s: their refreshes are due at once.
    agent.restore(row(1, RegStatus.Active, { lastRegistration: -3000, expiry: 600 }), clock.now());
    agent.restore(row(2, RegStatus.Active, { lastRegistration: -3000, expiry: 600 }), clock.now());
    assert.equal(client.sent.length, 2);
    agent.stop();
    const [aborted, finished] = client.sent;
    aborted?.answer({ code: 0, reason: 'not sent: stopping', sent: false, aborted: true });
    finished?.answer({ grantedExpires: 600, contacts: '<sip:u2@127.0.0.1:5080>;expires=600' });
    await settle();
    assert.deepEqual(sink.ops.map(([op, key, update]) => [op, key, update?.status, update?.lastCode]), [
      ['update', 'subscriber:2', RegStatus.Active, 200],
    ]);
    assert.deepEqual([agent.describe('subscriber', 1)?.status, agent.describe('subscriber', 1)?.in_flight], [RegStatus.Active, 0]);
    assert.equal(timers.size, 0, 'nothing planned after stop');
    assert.deepEqual(agent.statistics().replies, { '200': 1 }, 'the aborted request has no reply code');
  });

  it('passes new requests through the rate limiter', () => {
    const { clock, client, agent } = setup({ rateLimit: { rate: 2, perSeconds: 1, slowstart: false } });
    for (let i = 0; i < 10; i++) agent.create('subscriber', i, { ...ALICE, user: `u${i}` });
    assert.equal(client.sent.length, 2);
    clock.advance(1000);
    assert.equal(client.sent.length, 4);
    assert.equal(agent.statistics().ratelimit_queue, 6);
  });

  it('bounds transactions in flight per next hop, and a silent account does not hold its slot', async () => {
    const { clock, client, agent } = setup({ settings: { maxPendingTransactions: 8 } });
    for (let i = 0; i < 20; i++) agent.create('subscriber', i, { ...ALICE, user: `u${i}` });
    assert.equal(client.sent.length, 8);
    clock.advance(1000); // nothing answered: slots are given back, the window halves to its minimum
    assert.ok(client.sent.length > 8, `sent ${client.sent.length}`);
    const other = { ...ALICE, realm: '127.0.0.9:5070' };
    agent.create('subscriber', 100, other);
    assert.equal(client.sent.at(-1)?.params.domain, '127.0.0.9:5070', 'another registrar is not held up');
  });

  it('statistics count accounts per status and replies per code', async () => {
    const { client, agent } = setup();
    client.autoAnswer = (r) => (r.params.user === 'bad' ? { code: 401, reason: 'Unauthorized' } : { grantedExpires: 60 });
    agent.create('subscriber', 1, ALICE);
    agent.create('subscriber', 2, { ...ALICE, user: 'bad' });
    await settle();
    const s = agent.statistics();
    assert.deepEqual(s.by_status, { '0': 0, '1': 0, '2': 1, '3': 1, '4': 0, '5': 0 });
    assert.deepEqual(s.replies, { '200': 1, '401': 1 });
    assert.deepEqual(s.sent, { REGISTER: 2, deREGISTER: 0 });
  });

  it('statistics keep their per-status and in-flight counts right through create, replace, update, remove and restore (recounted after every step)', async () => {
    const { clock, client, agent } = setup({ settings: { policy: { ...SETTINGS.policy, deleteRemovedRegistrations: false } } });
    const ids = [1, 2, 3, 4, 5, 6, 7, 8];
    const recount = (): { byStatus: Record<string, number>; inFlight: number } => {
      const byStatus: Record<string, number> = { '0': 0, '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 };
      let inFlight = 0;
      for (const type of ['subscriber', 'peering'] as const) {
        for (const id of ids) {
          const d = agent.describe(type, id);
          if (!d) continue;
          byStatus[String(d.status)] = (byStatus[String(d.status)] ?? 0) + 1;
          inFlight += Number(d.in_flight);
        }
      }
      return { byStatus, inFlight };
    };
    const check = (step: string): void => {
      const s = agent.statistics();
      assert.deepEqual({ byStatus: s.by_status, inFlight: s.in_flight }, recount(), step);
    };
    const answerAll = async (o: Partial<RegistrationOutcome>): Promise<void> => {
      for (const r of client.sent.splice(0)) r.answer(o);
      await settle();
    };
    agent.create('subscriber', 1, ALICE);
    agent.create('subscriber', 2, ALICE);
    agent.create('peering', 1, ALICE);
    check('three created, in flight');
    agent.create('subscriber', 2, { ...ALICE, user: 'other' });
    check('one replaced while in flight');
    await answerAll({ grantedExpires: 3600 });
    check('answered 200');
    agent.restore(row(3, RegStatus.Active, { lastRegistration: -10, expiry: 3590 }), clock.now());
    agent.restore(row(4, RegStatus.Removed), clock.now());
    agent.restore(row(5, RegStatus.ToBeRemoved), clock.now());
    agent.restore(row(6, RegStatus.Failed), clock.now());
    agent.restore(row(6, RegStatus.Inactive), clock.now());
    check('restored, one row twice');
    await answerAll({ code: 403, reason: 'Forbidden' });
    check('403 to the restored requests');
    agent.update('subscriber', 1, { ...ALICE, password: 'new' });
    agent.remove('subscriber', 3);
    agent.remove('peering', 1);
    check('update and removes in flight');
    await answerAll({});
    check('de-registered (kept as REMOVED) and re-registered');
    agent.create('subscriber', 7, ALICE);
    agent.remove('subscriber', 7);
    await answerAll({});
    await answerAll({});
    check('created then removed at once');
    agent.update('subscriber', 8, ALICE);
    await answerAll({ code: 408, reason: 'Timeout' });
    check('update of an unknown id creates it; no answer');
  });

  it('statistics time each transaction from sending to its final outcome, per method', async () => {
    const { clock, client, agent } = setup();
    agent.create('subscriber', 1, ALICE);
    clock.advance(30);
    client.sent[0]?.answer({ grantedExpires: 3600 });
    await settle();
    agent.remove('subscriber', 1);
    clock.advance(2000);
    client.sent[1]?.answer({ code: 408, reason: 'Request Timeout' });
    await settle();
    const { REGISTER, deREGISTER } = agent.statistics().transactions as Record<string, Record<string, DiValue>>;
    assert.deepEqual(REGISTER?.replies, { '200': 1 });
    assert.deepEqual(deREGISTER?.replies, { '408': 1 });
    const latency = (m: Record<string, DiValue> | undefined) => m?.latency as { bounds: number[]; cumulative: number[]; sum: number; count: number };
    assert.equal(latency(REGISTER).sum, 0.03);
    assert.equal(latency(REGISTER).cumulative[latency(REGISTER).bounds.indexOf(0.05)], 1, '30 ms is within 0.05 s');
    assert.equal(latency(REGISTER).cumulative[latency(REGISTER).bounds.indexOf(0.025)], 0);
    assert.equal(latency(deREGISTER).sum, 2);
    assert.equal(latency(deREGISTER).count, 1);
  });
  describe('an ACTIVE registration expiring without a successful refresh', () => {
    // Created at T0 = 1 000 000 ms and answered at once granting 60 s: refresh at +30 s;
    // the row stops saying ACTIVE from +59 s (a second early: registrars count whole seconds).
    const T0 = 1_000_000;
    const expired = (reason: string): RegistrationUpdate => ({ lastCode: EXPIRED.code, lastReason: reason, status: RegStatus.Failed, contacts: '' });
    /** Accounts 1 and 2, registered at T0 for 60 s. */
    const twoRegistered = async (): Promise<ReturnType<typeof setup>> => {
      const parts = setup();
      parts.agent.create('subscriber', 1, ALICE);
      parts.agent.create('subscriber', 2, { ...ALICE, user: 'bob' });
      for (const r of parts.client.sent.splice(0)) r.answer({ grantedExpires: 60 });
      await settle();
      return parts;
    };
    const countOf = (agent: RegistrationAgent, status: RegStatus): number | undefined =>
      (agent.statistics().by_status as Record<string, number>)[String(status)];
    const writesOf = (sink: RecordingSink, id: string) => sink.ops.filter(([, key]) => key === id).map(([, , u]) => u && [u.status, u.lastCode, u.lastReason]);

    it('a refresh unanswered at the expiry: FAILED 408 at that moment, in the table and in memory; the refresh\'s own outcome follows', async () => {
      const { clock, client, sink, agent } = setup();
      agent.create('subscriber', 1, ALICE);
      client.sent[0]?.answer({ grantedExpires: 60, contacts: '<sip:alice@127.0.0.1:5080>;expires=60' });
      await settle();
      clock.advance(30_000);
      assert.equal(client.sent.length, 2, 'refresh sent at +30 s');
      assert.deepEqual([agent.describe('subscriber', 1)?.next_action, agent.describe('subscriber', 1)?.next_action_in], ['none', -1],
        'in flight: the expiry timer is no next action');
      clock.advance(28_999);
      assert.equal(sink.ops.length, 1, 'still ACTIVE until +59 s');
      clock.advance(1);
      assert.equal(clock.now(), T0 + 59_000);
      assert.deepEqual(sink.ops.at(-1), ['update', 'subscriber:1', expired(EXPIRED.unanswered)]);
      const d = agent.describe('subscriber', 1);
      assert.deepEqual([d?.status, d?.last_code, d?.last_reason, d?.contacts, d?.expires, d?.in_flight],
        [RegStatus.Failed, 408, EXPIRED.unanswered, '', 0, 1]);
      assert.deepEqual(agent.statistics().by_status, { '0': 0, '1': 0, '2': 0, '3': 1, '4': 0, '5': 0 });
      clock.advance(3_000); // Timer F, 32 s after the refresh was sent
      client.sent[1]?.answer({ code: 408, reason: 'Timeout' });
      await settle();
      assert.deepEqual(writesOf(sink, 'subscriber:1'), [
        [RegStatus.Active, 200, 'OK'], [RegStatus.Failed, 408, EXPIRED.unanswered], [RegStatus.Failed, 408, 'Timeout'],
      ]);
      assert.deepEqual([agent.describe('subscriber', 1)?.next_action, agent.describe('subscriber', 1)?.next_action_in], ['retry', 300]);
    });

    it('a refresh answered in time writes nothing more; one answered after the expiry makes the row ACTIVE again', async () => {
      const { clock, client, sink, agent, timers } = await twoRegistered();
      clock.advance(30_000);
      assert.equal(timers.size, 2, 'each in-flight refresh keeps one timer: its expiry');
      const [first, second] = client.sent.splice(0);
      first?.answer({ grantedExpires: 60 });
      await settle();
      clock.advance(29_500);
      second?.answer({ grantedExpires: 60 });
      await settle();
      assert.deepEqual(writesOf(sink, 'subscriber:1'), [[RegStatus.Active, 200, 'OK'], [RegStatus.Active, 200, 'OK']]);
      assert.deepEqual(writesOf(sink, 'subscriber:2'), [
        [RegStatus.Active, 200, 'OK'], [RegStatus.Failed, 408, EXPIRED.unanswered], [RegStatus.Active, 200, 'OK'],
      ]);
      assert.deepEqual([agent.describe('subscriber', 2)?.status, agent.describe('subscriber', 2)?.next_action], [RegStatus.Active, 'refresh']);
      assert.equal(timers.size, 2, 'one refresh timer each, no expiry timer left behind');
      clock.advance(500);
      assert.equal(client.sent.length, 1, 'the first refreshes again at +60 s');
      client.sent[0]?.answer({ grantedExpires: 60 });
      await settle();
      // The second's lifetime counts from its refresh's sending (+30 s): it expires from +89 s,
      // before the +89.5 s planned from its late answer, so its refresh comes a second earlier.
      clock.advance(27_999);
      assert.equal(client.sent.length, 1);
      clock.advance(1);
      assert.equal(client.sent.length, 2, 'the second refreshes at +88 s');
      client.sent[1]?.answer({ grantedExpires: 60 });
      await settle();
      clock.advance(10_000);
      assert.equal(sink.ops.length, 7, 'a prompt answer comes before the expiry: no FAILED');
      assert.equal(agent.describe('subscriber', 2)?.status, RegStatus.Active);
    });

    it('a 2xx counts the lifetime from the sending of the transaction it answers (a re-send long after the request began)', async () => {
      const { clock, client, sink, agent } = setup();
      agent.create('subscriber', 1, ALICE);
      clock.advance(40_000); // unanswered, then challenged: the re-send went out 1 s before this 2xx
      client.sent[0]?.answer({ grantedExpires: 60, answeredAfterMs: 1000 });
      await settle();
      clock.advance(30_000);
      assert.equal(client.sent.length, 2, 'refreshed 30 s after the answer');
      clock.advance(27_999); // the lifetime from +39 s lasts until +99 s: FAILED from +98 s, not from +59 s
      assert.equal(sink.ops.length, 1);
      clock.advance(1);
      assert.deepEqual(sink.ops.at(-1), ['update', 'subscriber:1', expired(EXPIRED.unanswered)]);
    });

    it('refreshes held in the congestion window past their expiry are FAILED then, and still go out once each when their turn comes', async () => {
      const { clock, client, sink, agent } = setup({ settings: { maxPendingTransactions: 8 } });
      const accounts = 600;
      client.autoAnswer = () => ({ grantedExpires: 60 });
      for (let i = 0; i < accounts; i++) agent.create('subscriber', i, { ...ALICE, user: `u${i}` });
      await settle();
      assert.equal(countOf(agent, RegStatus.Active), accounts);
      client.autoAnswer = undefined; // the registrar falls silent
      sink.ops.length = 0;
      // Refreshes due at +30 s; slots come back after 1 s, 8 at a time.
      for (let step = 0; step < 117; step++) clock.advance(500);
      const sentBeforeExpiry = client.sent.length - accounts; // at +58.5 s
      clock.advance(500);
      assert.ok(sentBeforeExpiry > 8 && sentBeforeExpiry < accounts / 2, `${sentBeforeExpiry} refreshes sent by the expiry`);
      const reasons = sink.ops.map(([, , u]) => u?.lastReason);
      assert.equal(sink.ops.length, accounts, 'every row written once, at the expiry');
      assert.deepEqual(sink.ops.map(([, , u]) => [u?.status, u?.lastCode]), Array(accounts).fill([RegStatus.Failed, 408]));
      assert.equal(reasons.filter((r) => r === EXPIRED.unanswered).length, sentBeforeExpiry);
      assert.equal(reasons.filter((r) => r === EXPIRED.queued).length, accounts - sentBeforeExpiry);
      assert.equal(clock.now(), T0 + 59_000);

      // The registrar is back at +70 s: what is in flight is answered, the queue drains.
      clock.advance(11_000);
      client.autoAnswer = () => ({ grantedExpires: 60 });
      for (const r of client.sent.slice(accounts)) r.answer({ grantedExpires: 60 });
      for (let step = 0; step < 20 && countOf(agent, RegStatus.Active) !== accounts; step++) {
        await settle();
        clock.advance(100);
      }
      assert.equal(countOf(agent, RegStatus.Active), accounts, 'all ACTIVE again within 2 s');
      const perUser = new Map<string, number>();
      for (const r of client.sent) perUser.set(r.params.user, (perUser.get(r.params.user) ?? 0) + 1);
      assert.deepEqual(new Set(perUser.values()), new Set([2]), 'each account: its REGISTER and one refresh, nothing repeated');
    });

    it('restored ACTIVE rows: one expired already is FAILED at once; rows the rate-limited mass start reaches after their expiry are FAILED at it', async () => {
      const { clock, client, sink, agent } = setup({ rateLimit: { rate: 1, perSeconds: 1, slowstart: false } });
      client.autoAnswer = () => ({ grantedExpires: 3600 });
      const readAt = clock.now();
      clock.advance(500); // the load so far
      // Refresh due at once (registered 3000 s ago for 3005 s): one REGISTER per second from +0.5 s.
      for (let i = 0; i < 10; i++) agent.restore(row(i, RegStatus.Active, { lastRegistration: -3000, expiry: 5 }), readAt);
      await advanceSettling(clock, 3_400); // +3.9 s: four sent and answered
      assert.deepEqual(sink.ops.map(([, key, u]) => [key, u?.status]), [0, 1, 2, 3].map((i) => [`subscriber:${i}`, RegStatus.Active]));
      await advanceSettling(clock, 200); // +4.1 s: past the expiry (readAt + 5 s, a second early)
      assert.deepEqual(sink.ops.slice(4).map(([, key, u]) => [key, u?.status, u?.lastReason]),
        [4, 5, 6, 7, 8, 9].map((i) => [`subscriber:${i}`, RegStatus.Failed, EXPIRED.queued]));
      await advanceSettling(clock, 6_000);
      assert.equal(client.sent.length, 10);
      assert.deepEqual([4, 5, 6, 7, 8, 9].map((i) => agent.describe('subscriber', i)?.status), Array(6).fill(RegStatus.Active));

      const unlimited = setup();
      unlimited.agent.restore(row(20, RegStatus.Active, { lastRegistration: -3700, expiry: -100 }), unlimited.clock.now());
      unlimited.agent.restore(row(21, RegStatus.Active), unlimited.clock.now()); // NULL expiry: counts as expired
      unlimited.agent.restore(row(22, RegStatus.Active, { lastRegistration: -10, expiry: 3590 }), unlimited.clock.now());
      unlimited.clock.advance(0);
      assert.deepEqual(unlimited.sink.ops.map(([, key, u]) => [key, u?.status, u?.lastReason]), [
        ['subscriber:20', RegStatus.Failed, EXPIRED.unanswered], ['subscriber:21', RegStatus.Failed, EXPIRED.unanswered],
      ]);
      for (const r of unlimited.client.sent) r.answer({ grantedExpires: 3600 });
      await settle();
      assert.deepEqual([20, 21, 22].map((i) => unlimited.agent.describe('subscriber', i)?.status), Array(3).fill(RegStatus.Active));
    });

    it('a de-REGISTER unanswered at the expiry: FAILED, then its outcome; one that could not be sent (TO_BE_REMOVED) is left as it is', async () => {
      const { clock, client, sink, agent, timers } = await twoRegistered();
      clock.advance(10_000);
      agent.remove('subscriber', 1);
      agent.remove('subscriber', 2);
      const [removing, unsent] = client.sent.splice(0);
      unsent?.answer({ code: 480, sent: false });
      await settle();
      assert.equal(agent.describe('subscriber', 2)?.status, RegStatus.ToBeRemoved);
      assert.equal(timers.size, 1, 'the account kept after an unsent de-REGISTER has no timer');
      clock.advance(49_000);
      assert.deepEqual(writesOf(sink, 'subscriber:1').at(-1), [RegStatus.Failed, 408, EXPIRED.unanswered]);
      assert.deepEqual(writesOf(sink, 'subscriber:2').at(-1), [RegStatus.ToBeRemoved, 480, 'unable to send request']);
      removing?.answer({});
      await settle();
      assert.deepEqual(sink.ops.at(-1), ['remove', 'subscriber:1']);
      assert.equal(agent.describe('subscriber', 1), undefined);
      assert.equal(timers.size, 0);
    });

    it('createRegistration replacing an ACTIVE account keeps its status and expiry until the new REGISTER is answered', async () => {
      const { clock, client, sink, agent } = setup();
      agent.create('subscriber', 1, ALICE);
      client.sent[0]?.answer({ grantedExpires: 60 });
      await settle();
      clock.advance(10_000);
      agent.create('subscriber', 1, { ...ALICE, password: 'other' });
      assert.equal(agent.describe('subscriber', 1)?.status, RegStatus.Active, 'the row still says ACTIVE, and so does memory');
      clock.advance(48_999);
      assert.equal(sink.ops.length, 1);
      clock.advance(1);
      assert.deepEqual(sink.ops.at(-1), ['update', 'subscriber:1', expired(EXPIRED.unanswered)]);
      assert.equal(countOf(agent, RegStatus.Failed), 1);
    });

    it('reregister_interval=1: the refresh goes a second before the expiry, so a prompt answer keeps the row ACTIVE', async () => {
      const { clock, client, sink, agent } = setup({ reregisterInterval: 1 });
      client.autoAnswer = () => ({ grantedExpires: 60 });
      agent.create('subscriber', 1, ALICE);
      await settle();
      clock.advance(57_999);
      assert.equal(client.sent.length, 1);
      clock.advance(1);
      assert.equal(client.sent.length, 2, 'refresh at +58 s, not at +60 s');
      await advanceSettling(clock, 5_000);
      assert.deepEqual(sink.ops.map(([, , u]) => u?.status), [RegStatus.Active, RegStatus.Active]);
    });

    it('the expiry timers are no load for the refresh planner', async () => {
      const { clock, client, agent, load } = setup();
      agent.create('subscriber', 1, ALICE);
      client.sent[0]?.answer({ grantedExpires: 60 });
      await settle();
      assert.equal(load.countAt(Math.floor((T0 + 30_000) / 1000)), 1, 'the refresh counts in its second');
      clock.advance(30_000);
      assert.equal(load.countAt(Math.floor((T0 + 59_000) / 1000)), 0, 'the expiry does not');
    });
  });
});
