/**
 * The registration engine: what SEMS's db_reg_agent does, per account.
 *
 * Every request (initial REGISTER, refresh, retry, de-REGISTER) takes the same path:
 *   timer or DI call → rate limiter (SPEC §5) → congestion window of its next hop
 *   → SIP client → status transition (SPEC §3) → status writer + next timer.
 * An account has at most one transaction at a time. What is asked for meanwhile is
 * remembered in `wanted` and decided when its turn comes, so a remove that arrives
 * while a REGISTER waits in the rate limiter turns that slot into the de-REGISTER.
 *
 * An ACTIVE account's one timer is its refresh, due a second before its expiry at the latest; while
 * the refresh (or a de-REGISTER) waits in a queue or for its answer, the same timer
 * holds the expiry itself, so the row turns FAILED when the registrar lets the binding
 * go, however long the queues are (`expire`).
 */
import type { AccountRow } from '../db/account-row';
import type { WriteOperation } from '../db/pending-write';
import type { StatusWriter } from '../db/status-writer';
import type { DiValue } from '../core/di';
import { LogLevel, logger, redact } from '../process/log';
import type { RegistrationClient, RegistrationDialog, RegistrationOutcome } from '../sip/registration-client';
import {
  accountKey, identityChanged, needsReregister, registrationParams,
  type AccountData, type AccountKey, type AccountType, type IdentityRules,
} from './account';
import type { Clock } from '../core/clock';
import { CongestionWindow, type TransactionSignal } from './congestion-window';
import type { RegistrationControl } from './di-interface';
import type { RateLimiter } from './rate-limiter';
import { storedExpiry, type RefreshPlanner } from './refresh-planner';
import { expiredWrites, RegStatus, transition, type Operation, type StatusPolicy } from './status-transitions';
import type { TimerQueue } from './timer-queue';
import { TextInterner } from '../core/text-interner';
import { TransactionStats } from './transaction-stats';

const log = logger('db_reg_agent');

/** A window slot is given back after this long even if the transaction goes on. */
const SLOT_HOLD_MS = 1000;
/** A refresh goes at least this long before the registration's expiry (scheduleRefresh). */
const REFRESH_LEAD_MS = 1000;

interface Registration {
  readonly key: AccountKey;
  readonly type: AccountType;
  readonly id: number;
  data: AccountData;
  dialog: RegistrationDialog;
  status: RegStatus;
  /** The request to send when this account's turn comes; null = none. */
  wanted: Operation | null;
  /** A turn is reserved in the rate limiter / window queue. */
  queued: boolean;
  inFlight: boolean;
  /** The last final reply (0, '' before the first one). */
  lastCode: number;
  lastReason: string;
  /** Granted by the last 2xx; 0 when not registered. */
  grantedExpires: number;
  /**
   * While ACTIVE: the engine-clock second from which the registrar may no longer hold the
   * registration (expiryDeadlineSec). Whole seconds: a small integer stays unboxed in the
   * object (8 bytes), where a millisecond time would need a heap number.
   */
  expiresAtSec: number;
  contacts: string;
}

export interface AgentSettings {
  rules: IdentityRules;
  policy: StatusPolicy;
  /** Seconds; 0 = failed REGISTERs are not retried. */
  errorRetryInterval: number;
  /** Use the query's contact column (db_read_contact); DI contacts are always used. */
  dbReadContact: boolean;
  /** Per next hop (max_pending_transactions). */
  maxPendingTransactions: number;
}

/** The part of the status writer the engine uses (queued, ordered per account). */
export type StatusSink = Pick<StatusWriter, 'insertIfMissing' | 'update' | 'remove'>;

export interface AgentParts {
  client: RegistrationClient;
  writer: StatusSink;
  clock: Clock;
  timers: TimerQueue<AccountKey>;
  planner: RefreshPlanner;
  rateLimiter: RateLimiter;
}

export class RegistrationAgent implements RegistrationControl {
  private readonly registry = new Map<AccountKey, Registration>();
  /**
   * Accounts per status (index = RegStatus) and in flight, kept as they change: getStatistics
   * and /metrics are asked often (the benchmarks poll it 4 times a second), and a count over
   * the registry took 324 ms of a 50 000-account mass start in a CPU profile.
   */
  private readonly countByStatus = [0, 0, 0, 0, 0, 0];
  private inFlightCount = 0;
  private readonly windows = new Map<string, CongestionWindow<Registration>>();
  private readonly transactions = new TransactionStats();
  /** Realms and reason phrases: a few distinct values shared by many accounts. */
  private readonly commonText = new TextInterner(4096);
  private stopped = false;

  constructor(
    private readonly settings: AgentSettings,
    private readonly parts: AgentParts,
  ) {}

  // ---- DI functions (SPEC §5b) --------------------------------------------------

  create(type: AccountType, id: number, data: AccountData): void {
    const replaced = this.registry.get(accountKey(type, id));
    if (replaced) {
      log.warn(`registration ${type} ${id} already exists; replacing it`);
      this.forget(replaced.key);
    }
    // The row keeps saying ACTIVE until the new REGISTER is answered: so must the replacement, with the same expiry.
    const active = replaced?.status === RegStatus.Active;
    const reg = this.add(type, id, data, active ? RegStatus.Active : RegStatus.Inactive);
    if (active) reg.expiresAtSec = replaced.expiresAtSec;
    this.request(reg, 'register');
  }

  update(type: AccountType, id: number, data: AccountData): void {
    const reg = this.registry.get(accountKey(type, id));
    if (!reg) {
      log.warn(`updateRegistration: ${type} ${id} (${data.user}@${data.realm}) unknown; creating it`);
      this.create(type, id, data);
      return;
    }
    const before = reg.data;
    reg.data = data;
    if (identityChanged(before, data)) reg.dialog = this.parts.client.newDialog();
    if (needsReregister(before, data)) {
      log.info(`registration ${type} ${id} changed (${before.user}@${before.realm} → ${data.user}@${data.realm}); re-registering`);
      this.request(reg, 'register');
    }
  }

  refresh(type: AccountType, id: number): void {
    const reg = this.registry.get(accountKey(type, id));
    if (!reg) {
      log.info(`refreshRegistration: ${type} ${id} unknown; ignored`);
      return;
    }
    this.request(reg, 'register');
  }

  remove(type: AccountType, id: number): void {
    const reg = this.registry.get(accountKey(type, id));
    if (!reg) {
      log.info(`removeRegistration: ${type} ${id} unknown; ignored`);
      return;
    }
    this.request(reg, 'deregister');
  }

  describe(type: AccountType, id: number): Record<string, DiValue> | undefined {
    const reg = this.registry.get(accountKey(type, id));
    if (!reg) return undefined;
    // While queued or in flight, the account's timer is its expiry, not a next action.
    const dueAt = reg.queued || reg.inFlight ? undefined : this.parts.timers.dueAt(reg.key);
    const next = reg.wanted ?? (dueAt === undefined ? 'none' : reg.status === RegStatus.Active ? 'refresh' : 'retry');
    return {
      id: reg.id,
      type: reg.type,
      user: reg.data.user,
      realm: reg.data.realm,
      status: reg.status,
      last_code: reg.lastCode,
      last_reason: reg.lastReason,
      expires: reg.grantedExpires,
      contacts: reg.contacts,
      next_action: next,
      next_action_in: reg.wanted ? 0 : dueAt === undefined ? -1 : Math.max(0, Math.round((dueAt - this.parts.clock.now()) / 1000)),
      in_flight: reg.inFlight ? 1 : 0,
    };
  }

  statistics(): Record<string, DiValue> {
    const byStatus: Record<string, number> = {};
    this.countByStatus.forEach((count, status) => (byStatus[String(status)] = count));
    return {
      registrations: this.registry.size,
      by_status: byStatus,
      sent: this.transactions.sentTotals(),
      replies: this.transactions.outcomeTotals(),
      transactions: this.transactions.snapshot(),
      in_flight: this.inFlightCount,
      ratelimit_queue: this.parts.rateLimiter.queueLength,
      window_queue: [...this.windows.values()].reduce((n, w) => n + w.queued, 0),
      timers: this.parts.timers.size,
    };
  }

  // ---- start-up restore (SPEC §3) ------------------------------------------------

  /** One row of the joined query at start-up; `dbClockReadAt`: clock time at which its times were relative to the DB's NOW(). */
  restore(row: AccountRow, dbClockReadAt: number): void {
    const data: AccountData = {
      user: row.user,
      password: row.pass,
      realm: this.commonText.of(row.realm),
      contact: this.settings.dbReadContact ? (row.contact ?? '') : '',
      authUser: row.authUser ?? '',
    };
    const key = accountKey(row.type, row.id);
    if (this.registry.has(key)) {
      log.warn(`${row.type} ${row.id} appears twice in the query; the later row wins`);
      this.forget(key);
    }
    if (row.status === null) this.parts.writer.insertIfMissing({ type: row.type, id: row.id });
    const status = row.status ?? RegStatus.Inactive;
    switch (status) {
      case RegStatus.Inactive:
      case RegStatus.Pending:
      case RegStatus.Failed:
        this.request(this.add(row.type, row.id, data, status), 'register');
        return;
      case RegStatus.Active: {
        const reg = this.add(row.type, row.id, data, status);
        const stored = { lastRegistrationOffsetSec: row.lastRegistration, expiryOffsetSec: row.expiry, readAt: dbClockReadAt };
        // An expiry already past is written FAILED at once (the timer fires on the next turn).
        reg.expiresAtSec = expiryDeadlineSec(storedExpiry(stored, this.parts.clock.now()));
        const { dueAt, warning } = this.parts.planner.restore(stored);
        if (warning) log.warn(`${row.type} ${row.id}: ${warning}`);
        if (dueAt <= this.parts.clock.now()) this.request(reg, 'register');
        else this.scheduleRefresh(reg, dueAt);
        return;
      }
      case RegStatus.Removed:
        log.debug(`ignoring removed registration ${row.type} ${row.id}`);
        return;
      case RegStatus.ToBeRemoved:
        this.request(this.add(row.type, row.id, data, status), 'deregister');
        return;
      default:
        log.warn(`${row.type} ${row.id} has unknown registration_status ${String(status)}; ignored`);
    }
  }

  get size(): number {
    return this.registry.size;
  }

  /** Orderly stop: no new requests; those under way end in the SIP client (finished, or aborted if nothing was sent). */
  stop(): void {
    this.stopped = true;
    this.parts.timers.clear();
    this.parts.rateLimiter.stop();
  }

  // ---- the request path ------------------------------------------------------------

  private add(type: AccountType, id: number, data: AccountData, status: RegStatus): Registration {
    const reg: Registration = {
      key: accountKey(type, id), type, id, data, status,
      dialog: this.parts.client.newDialog(),
      wanted: null, queued: false, inFlight: false,
      // Every field from the start: one object shape for all accounts (V8 stores fields added later apart).
      lastCode: 0, lastReason: '', grantedExpires: 0, expiresAtSec: 0, contacts: '',
    };
    this.registry.set(reg.key, reg);
    this.countByStatus[status]++;
    // Checked first: at a mass start this runs per account, and the line would be built for nothing.
    if (log.enabled(LogLevel.Debug)) {
      log.debug(`${type} ${id}: ${data.user}@${data.realm} password ${redact(data.password)} status ${status}`);
    }
    return reg;
  }

  private forget(key: AccountKey): void {
    this.parts.timers.cancel(key);
    const reg = this.registry.get(key);
    if (!reg) return;
    this.countByStatus[reg.status]--;
    if (reg.inFlight) this.inFlightCount--;
    this.registry.delete(key);
  }

  /** Only for an account in the registry (the counts are the registry's). */
  private setStatus(reg: Registration, status: RegStatus): void {
    this.countByStatus[reg.status]--;
    this.countByStatus[status]++;
    reg.status = status;
  }

  private schedule(reg: Registration, dueAt: number, op: Operation): void {
    if (this.stopped) return; // outcomes that arrive while stopping plan nothing
    this.parts.timers.schedule(reg.key, dueAt, op === 'register' ? this.registerDue : this.deregisterDue);
  }

  /**
   * An ACTIVE registration's refresh, REFRESH_LEAD_MS before its expiry at the latest, so
   * that the expiry is watched from then on and a prompt answer still comes before it:
   * after a late answer (the lifetime counts from the sending, the plan from the answer)
   * or with reregister_interval near 1 the plan lies beyond. A lifetime too short for
   * that leaves the plan alone: refreshing at once would loop.
   */
  private scheduleRefresh(reg: Registration, dueAt: number): void {
    const latest = reg.expiresAtSec * 1000 - REFRESH_LEAD_MS;
    this.schedule(reg, latest > this.parts.clock.now() ? Math.min(dueAt, latest) : dueAt, 'register');
  }

  /**
   * Called whenever an account's request is asked for: the refresh or retry timer gives
   * way; an ACTIVE account's timer becomes its expiry, kept while the request waits in
   * the rate limiter, in the congestion window or for its answer. Not observed: the
   * refresh planner's load map counts requests, and the expiry sends none.
   */
  private watchExpiry(reg: Registration): void {
    if (reg.status === RegStatus.Active) this.parts.timers.schedule(reg.key, reg.expiresAtSec * 1000, this.expiryDue, false);
    else this.parts.timers.cancel(reg.key);
  }

  // One function per operation for every timer (a closure per account would cost 15 MB at 100 000).
  // An account's timer is cancelled when it is forgotten or replaced, so the key finds the one that scheduled it.
  private readonly registerDue = (key: AccountKey): void => this.due(key, 'register');
  private readonly deregisterDue = (key: AccountKey): void => this.due(key, 'deregister');
  private readonly expiryDue = (key: AccountKey): void => this.expire(key);

  private due(key: AccountKey, op: Operation): void {
    const reg = this.registry.get(key);
    if (reg) this.request(reg, op);
  }

  /**
   * The registration expired with its request queued or unanswered: FAILED now, in the
   * table and in memory (status-transitions `expiredWrites`). The request goes on.
   */
  private expire(key: AccountKey): void {
    const reg = this.registry.get(key);
    if (!reg || reg.status !== RegStatus.Active) return;
    this.applyWrites(reg, expiredWrites(reg.inFlight, this.settings.policy));
    reg.grantedExpires = 0;
    if (log.enabled(LogLevel.Info)) {
      const why = reg.inFlight ? 'before its request was answered' : 'while its request was still queued';
      log.info(`${reg.type} ${reg.id} (${reg.data.user}@${reg.data.realm}): registration expired ${why}; stored as FAILED`);
    }
  }

  /** Asks for `op` as soon as possible; the latest wish wins. */
  private request(reg: Registration, op: Operation): void {
    if (this.stopped || this.registry.get(reg.key) !== reg) return;
    reg.wanted = op;
    this.watchExpiry(reg);
    if (reg.queued || reg.inFlight) return;
    reg.queued = true;
    this.parts.rateLimiter.submit(() => {
      if (this.registry.get(reg.key) !== reg || reg.wanted === null) {
        reg.queued = false;
        return;
      }
      this.windowOf(reg).enter(reg);
    });
  }

  private nextHopOf(reg: Registration): string {
    return this.settings.rules.outboundProxy || reg.data.realm;
  }

  private windowOf(reg: Registration): CongestionWindow<Registration> {
    const hop = this.nextHopOf(reg);
    let w = this.windows.get(hop);
    if (!w) {
      w = new CongestionWindow<Registration>((r) => this.send(r), this.settings.maxPendingTransactions, () => this.parts.clock.now());
      this.windows.set(hop, w);
    }
    return w;
  }

  private send(reg: Registration): void {
    const window = this.windowOf(reg);
    let slotHeld = true;
    const releaseSlot = (signal: TransactionSignal): void => {
      if (!slotHeld) return;
      slotHeld = false;
      this.parts.clock.clearTimeout(holdTimer);
      window.leave(signal);
      if (window.pending === 0 && window.queued === 0) this.windows.delete(this.nextHopOf(reg));
    };
    // A transaction still unanswered after SLOT_HOLD_MS is lost or the registrar is
    // slow: either way it stops counting against the window (so accounts whose
    // REGISTERs are dropped cannot starve the others) and it signals congestion.
    const holdTimer = this.parts.clock.setTimeout(() => releaseSlot('congested'), SLOT_HOLD_MS);

    const op = reg.wanted;
    reg.queued = false;
    if (op === null || this.stopped || this.registry.get(reg.key) !== reg) {
      releaseSlot('ok');
      return;
    }
    reg.wanted = null;
    reg.inFlight = true;
    this.inFlightCount++;
    const params = registrationParams(reg.data, this.settings.rules);
    const dialog = reg.dialog;
    const sentAt = this.parts.clock.now();
    this.transactions.sent(op);
    const pending = op === 'register' ? this.parts.client.register(dialog, params) : this.parts.client.unregister(dialog, params);
    void pending.then(
      (outcome) => {
        releaseSlot(isCongestion(outcome) ? 'congested' : 'ok');
        this.onOutcome(reg, op, outcome, sentAt);
      },
      (err: Error) => {
        // The client promises never to reject; if it does, treat it as unsendable.
        log.error(`${reg.type} ${reg.id}: SIP client failed: ${err.message}`);
        releaseSlot('ok');
        this.onOutcome(reg, op, { code: 480, reason: 'unable to send request', sent: false, retransmissions: 0 }, sentAt);
      },
    );
  }

  private onOutcome(reg: Registration, op: Operation, outcome: RegistrationOutcome, sentAt: number): void {
    const registered = this.registry.get(reg.key) === reg;
    if (registered) this.inFlightCount--; // else forget() has taken it off the counts
    reg.inFlight = false;
    if (!outcome.aborted) this.transactions.finished(op, outcome.code, (this.parts.clock.now() - sentAt) / 1000);
    if (!registered) return; // replaced or removed meanwhile (SEMS: unknown ltag)
    this.parts.timers.cancel(reg.key); // the expiry watched while waiting for this outcome
    const t = transition(op, outcome, this.settings.policy);
    this.applyWrites(reg, t.writes);
    logOutcome(reg, op, outcome);

    switch (t.next.kind) {
      case 'forget':
        if (reg.wanted === null) this.forget(reg.key);
        else this.setStatus(reg, RegStatus.Inactive); // re-requested while de-registering
        break;
      case 'refresh':
        reg.grantedExpires = t.next.grantedExpires;
        // From the sending of the transaction answered: the registrar's lifetime cannot have begun before it.
        reg.expiresAtSec = expiryDeadlineSec(lifetimeStart(outcome, sentAt, this.parts.clock.now()) + t.next.grantedExpires * 1000);
        if (reg.wanted === null) this.scheduleRefresh(reg, this.parts.planner.afterRegistration(t.next.grantedExpires));
        break;
      case 'retry':
        reg.grantedExpires = 0;
        if (reg.wanted === null && this.settings.errorRetryInterval > 0) {
          this.schedule(reg, this.parts.clock.now() + this.settings.errorRetryInterval * 1000, 'register');
        }
        break;
      case 'keep':
        break; // nothing scheduled: the next DI call on the account decides
    }
    if (reg.wanted !== null) {
      const op2 = reg.wanted;
      reg.wanted = null;
      this.request(reg, op2);
    }
  }

  /** A transition's table writes, and the same in memory. */
  private applyWrites(reg: Registration, writes: readonly WriteOperation[]): void {
    const key = { type: reg.type, id: reg.id };
    for (const w of writes) {
      if (w.kind === 'remove') {
        this.parts.writer.remove(key);
      } else if (w.kind === 'update') {
        this.parts.writer.update(key, w.update);
        if (w.update.status !== undefined) this.setStatus(reg, w.update.status);
        reg.lastCode = w.update.lastCode;
        reg.lastReason = this.commonText.of(w.update.lastReason);
        if (w.update.contacts !== undefined) reg.contacts = w.update.contacts;
      }
    }
  }
}

/** When the registrar's lifetime for a 2xx's binding began at the earliest, on the engine's clock. */
function lifetimeStart(outcome: RegistrationOutcome, requestSentAt: number, now: number): number {
  return outcome.answeredAfterMs === undefined ? requestSentAt : Math.max(requestSentAt, now - outcome.answeredAfterMs);
}

/**
 * The engine-clock second from which a registration lasting until `expiresAtMs` is no
 * longer called ACTIVE. A second early: registrars (Kamailio counts from time() at
 * receipt) and DATETIME columns keep whole seconds, so their expiry may lie up to a
 * second before the exact one.
 */
function expiryDeadlineSec(expiresAtMs: number): number {
  return Math.floor(expiresAtMs / 1000) - 1;
}

/** Signs that the registrar or the path to it is saturated. */
function isCongestion(o: RegistrationOutcome): boolean {
  return o.retransmissions > 0 || o.code === 503 || o.code === 408;
}

function logOutcome(reg: Registration, op: Operation, o: RegistrationOutcome): void {
  if (o.aborted) return; // never sent: the SIP client says how many, in one line
  const success = o.code >= 200 && o.code < 300 && !o.contactMissing;
  if (!log.enabled(success ? LogLevel.Debug : LogLevel.Info)) return; // one outcome per account and request
  const what = `${op === 'register' ? 'REGISTER' : 'de-REGISTER'} ${reg.type} ${reg.id} (${reg.data.user}@${reg.data.realm})`;
  if (success) {
    log.debug(`${what}: ${o.code} ${o.reason}${o.grantedExpires !== undefined ? `, expires ${o.grantedExpires}` : ''}`);
  } else {
    log.info(`${what}: ${o.code} ${o.reason}${o.contactMissing ? ' (our Contact missing in the reply)' : ''}${o.sent ? '' : ' (not sent)'}`);
  }
}
