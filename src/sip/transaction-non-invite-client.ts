/**
 * The non-INVITE client transaction (RFC 3261 §17.1.2), the state machine of Figure 6:
 *
 *   Trying --1xx--> Proceeding --final--> Completed --Timer K--> Terminated
 *   Trying/Proceeding --Timer F or transport error--> Terminated
 *
 * Timer E retransmits over unreliable transports only. Built for 100 000 concurrent
 * transactions: one object and one timer callback each, at most one armed timer
 * (Timer E is capped by Timer F's deadline instead of running both), and the request
 * bytes are released as soon as no retransmission can be needed. The Completed state
 * (Timer K) is handed to the layer, which keeps only the branch (completed-transactions.ts).
 */
import { delayUntil, type Clock, type TimerHandle } from '../core/clock';
import { logger } from '../process/log';
import type { SipResponse } from './message/sip-message';
import { nextTimerE, timerF, timerK, type TimerValues } from './timers';
import { TransportError, connectionKey, type Destination, type Transport } from './transport/transport';

const log = logger('sip-transaction');

export type TransactionOutcome =
  | { readonly kind: 'response'; readonly response: SipResponse; readonly retransmissions: number }
  /** Timer F fired: no final response (the TU reports 408, §8.1.3.1). */
  | { readonly kind: 'timeout'; readonly retransmissions: number }
  /**
   * The transport could not send the request or a retransmission, or the connection
   * it was sent on was lost (§17.1.4). `requestSent`: the registrar may have it.
   */
  | { readonly kind: 'transport-error'; readonly error: TransportError; readonly retransmissions: number; readonly requestSent: boolean };

export interface TransactionHooks {
  /** Each provisional (1xx) response received before the final one. */
  onProvisional?(response: SipResponse): void;
}

/** What all transactions of a layer share: one object, not one per transaction. */
export interface TransactionContext {
  readonly clock: Clock;
  readonly timers: TimerValues;
  /** The outcome was delivered. */
  settled(transaction: NonInviteClientTransaction): void;
  /**
   * The transaction is done here. `timerKMs` > 0: it completed over an unreliable
   * transport, and responses to its branch are absorbed for that long (Timer K).
   */
  terminated(transaction: NonInviteClientTransaction, timerKMs: number): void;
}

type State = 'trying' | 'proceeding' | 'terminated';

export class NonInviteClientTransaction {
  private state: State = 'trying';
  private armedTimer: 'E' | 'F' | undefined;
  private timer: TimerHandle | undefined;
  /** The interval Timer E is armed with next. */
  private timerEInterval: number;
  /** When Timer F fires (clock milliseconds). */
  private readonly timerFDeadline: number;
  private retransmissions = 0;
  /** A send of the request succeeded. */
  private requestSent = false;
  /** Released on completion: only needed for retransmissions. */
  private request: Buffer | undefined;
  private readonly onTimer = (): void => this.timerFired();

  constructor(
    /** Top Via branch: with `method`, the key responses are matched by (§17.1.3). */
    readonly branch: string,
    readonly method: string,
    request: Buffer,
    private readonly destination: Destination,
    private readonly transport: Transport,
    private readonly context: TransactionContext,
    private hooks: TransactionHooks | undefined,
    private deliver: ((outcome: TransactionOutcome) => void) | undefined,
  ) {
    this.request = request;
    this.timerEInterval = context.timers.t1;
    this.timerFDeadline = context.clock.now() + timerF(context.timers);
  }

  /** Sends the request and arms the timers (§17.1.2.2: Timer E for UDP, Timer F always). */
  start(): void {
    this.sendRequest();
    this.armTimerEOrF();
  }

  /** A response matched to this transaction (§17.1.2.2). */
  receive(response: SipResponse): void {
    if (this.state === 'terminated') return;
    if (response.provisional) {
      this.state = 'proceeding';
      this.callProvisionalHook(response);
      return;
    }
    this.settle({ kind: 'response', response, retransmissions: this.retransmissions });
    this.terminate(timerK(this.context.timers, this.transport.reliable));
  }

  /** True when the request went out on the stream connection `key` (transport.connectionKey). */
  sentOn(key: string): boolean {
    return this.transport.reliable && connectionKey(this.destination) === key;
  }

  /** §17.1.4: the connection the request was written on is gone; no response can come (§18.1.1). */
  connectionLost(error: TransportError): void {
    if (this.state === 'terminated') return;
    this.requestSent = true;
    this.transportFailed(error);
  }

  private timerFired(): void {
    const fired = this.armedTimer;
    this.armedTimer = undefined;
    this.timer = undefined;
    switch (fired) {
      case 'E':
        this.retransmissions++;
        this.sendRequest();
        this.timerEInterval = nextTimerE(this.context.timers, this.timerEInterval, this.state === 'proceeding');
        this.armTimerEOrF();
        break;
      case 'F':
        this.settle({ kind: 'timeout', retransmissions: this.retransmissions });
        this.terminate();
        break;
    }
  }

  /** Whichever comes first: the next retransmission (unreliable transports only) or Timer F. */
  private armTimerEOrF(): void {
    const untilF = delayUntil(this.context.clock, this.timerFDeadline);
    if (!this.transport.reliable && this.timerEInterval < untilF) this.arm('E', this.timerEInterval);
    else this.arm('F', untilF);
  }

  private sendRequest(): void {
    const request = this.request;
    if (request === undefined) return;
    this.transport.send(this.destination, request).then(
      () => (this.requestSent = true),
      (err: unknown) => this.transportFailed(TransportError.from(err, 'send')),
    );
  }

  /** §17.1.4: a transport failure ends the transaction at once. */
  private transportFailed(error: TransportError): void {
    if (this.state === 'terminated') return;
    this.settle({ kind: 'transport-error', error, retransmissions: this.retransmissions, requestSent: this.requestSent });
    this.terminate();
  }

  private callProvisionalHook(response: SipResponse): void {
    try {
      this.hooks?.onProvisional?.(response);
    } catch (err) {
      log.warn(`provisional response hook failed: ${(err as Error).message}`);
    }
  }

  private settle(outcome: TransactionOutcome): void {
    // Let go of the caller's resolver (and through it the response) at once: a UDP
    // transaction lives on for Timer K's 5 s, and a mass start completes thousands a second.
    const deliver = this.deliver;
    this.deliver = undefined;
    this.hooks = undefined;
    deliver?.(outcome);
    this.context.settled(this);
  }

  private terminate(timerKMs = 0): void {
    this.disarm();
    this.state = 'terminated';
    this.request = undefined;
    this.context.terminated(this, timerKMs);
  }

  private arm(which: 'E' | 'F', ms: number): void {
    this.armedTimer = which;
    this.timer = this.context.clock.setTimeout(this.onTimer, ms);
  }

  private disarm(): void {
    if (this.timer === undefined) return;
    this.context.clock.clearTimeout(this.timer);
    this.armedTimer = undefined;
    this.timer = undefined;
  }
}
