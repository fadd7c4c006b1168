/**
 * The transaction layer the registration client sends through (RFC 3261 §17.1):
 * `send()` stamps the request with our Via and a fresh branch (§8.1.1.7), runs a
 * non-INVITE client transaction over the chosen transport and resolves with its
 * outcome; `receive()` matches each response from any transport to its transaction by
 * top-Via branch and CSeq method (§17.1.3), after discarding responses with more than
 * one Via (§8.1.3.3). Whatever cannot be parsed or matched is dropped with a debug
 * line: a peer can never crash us.
 */
import { systemClock, type Clock } from '../core/clock';
import type { SipInterface } from '../config/sems-config';
import { logger } from '../process/log';
import { parseSipMessage } from './message/parse';
import { serializeSipMessage } from './message/serialize';
import type { SipRequest } from './message/sip-message';
import { statelessResponse } from './stateless-responder';
import { formatHostPort, formatVia, newBranch, parseVia } from './message/via';
import { CompletedTransactions } from './completed-transactions';
import { DEFAULT_TIMER_VALUES, type TimerValues } from './timers';
import {
  NonInviteClientTransaction,
  type TransactionContext,
  type TransactionHooks,
  type TransactionOutcome,
} from './transaction-non-invite-client';
import { openTransports, type TransportOptions } from './transport/open-transports';
import {
  TransportError,
  connectionKey,
  type ConnectionLossSink,
  type Destination,
  type MessageSink,
  type Source,
  type Transport,
  type TransportProtocol,
} from './transport/transport';

const log = logger('sip-transaction');

export interface TransactionLayerOptions {
  /** Address and port advertised in Via (SipInterface advertisedIp and port). */
  readonly sentBy: { readonly host: string; readonly port: number };
  readonly clock?: Clock;
  readonly timers?: TimerValues;
  /** Server header of our answers to requests (sems.conf signature). */
  readonly userAgent?: string;
}

export class TransactionLayer {
  private readonly transactions = new Map<string, NonInviteClientTransaction>();
  private readonly completed: CompletedTransactions;
  private readonly context: TransactionContext;
  /** Transactions whose outcome is not delivered yet. */
  private unsettled = 0;
  private closing = false;
  private onDrained: (() => void) | undefined;
  private closed: Promise<void> | undefined;

  constructor(
    private readonly transports: ReadonlyMap<TransportProtocol, Transport>,
    private readonly options: TransactionLayerOptions,
  ) {
    const clock = options.clock ?? systemClock;
    this.completed = new CompletedTransactions(clock);
    this.context = {
      clock,
      timers: options.timers ?? DEFAULT_TIMER_VALUES,
      settled: () => {
        this.unsettled--;
        if (this.unsettled === 0) this.onDrained?.();
      },
      terminated: (transaction, timerKMs) => {
        this.transactions.delete(transaction.branch);
        if (timerKMs > 0 && !this.closing) this.completed.add(transaction.branch, timerKMs);
      },
    };
  }

  /** Transactions still matched against responses (including those absorbing retransmissions). */
  get activeTransactions(): number {
    return this.transactions.size + this.completed.size;
  }

  /**
   * Sends `request` (which carries no Via: the layer owns it) as a new non-INVITE client
   * transaction. Never rejects.
   */
  send(request: SipRequest, destination: Destination, hooks?: TransactionHooks): Promise<TransactionOutcome> {
    const transport = this.transports.get(destination.transport);
    if (this.closing || transport === undefined) {
      const why = this.closing ? 'transaction layer is closing' : `no ${destination.transport} transport`;
      return Promise.resolve({ kind: 'transport-error', error: new TransportError(why), retransmissions: 0, requestSent: false });
    }
    const branch = newBranch();
    const { host, port } = this.options.sentBy;
    const bytes = serializeSipMessage(request, formatVia(transport.protocol, host, port, branch));
    return new Promise((resolve) => {
      const transaction = new NonInviteClientTransaction(
        branch, request.method, bytes, destination, transport, this.context, hooks, resolve,
      );
      this.transactions.set(branch, transaction);
      this.unsettled++;
      transaction.start();
    });
  }

  /** A stream connection closed: its transactions still waiting for a response fail now, not at Timer F. */
  connectionLost(destination: Destination, error: TransportError): void {
    const key = connectionKey(destination);
    const waiting = [...this.transactions.values()].filter((transaction) => transaction.sentOn(key));
    if (waiting.length > 0) log.info(`${error.message}: ${waiting.length} transaction(s) without their response`);
    for (const transaction of waiting) transaction.connectionLost(error);
  }

  /**
   * Hands one received message (a datagram or a framed stream message) to its
   * transaction. Never throws: anyone can send us datagrams, so an error of ours while
   * handling one costs that message, logged, and not the daemon.
   */
  receive(data: Buffer, source: Source): void {
    try {
      this.handle(data, source);
    } catch (err) {
      log.error(`dropped ${data.length} bytes from ${describeSource(source)}: ${(err as Error).message}`);
    }
  }

  private handle(data: Buffer, source: Source): void {
    const parsed = parseSipMessage(data);
    if (!parsed.ok) {
      log.debug(`dropped ${data.length} bytes from ${describeSource(source)}: ${parsed.error}`);
      return;
    }
    const message = parsed.message;
    if (message.type === 'request') {
      this.answer(message, source);
      return;
    }
    const vias = message.headers.getAll('via');
    if (vias.length > 1) {
      // §8.1.3.3: we sent one Via, so a response with more was meant for someone else (or forged).
      log.debug(`dropped ${message.status} response from ${describeSource(source)}: ${vias.length} Via values`);
      return;
    }
    const topVia = vias[0];
    const branch = topVia === undefined ? undefined : parseVia(topVia)?.params.get('branch');
    const transaction = branch ? this.transactions.get(branch) : undefined;
    if (transaction === undefined && branch && this.completed.has(branch)) {
      log.debug(`absorbed ${message.status} response from ${describeSource(source)}: transaction ${branch} is completed (Timer K)`);
      return;
    }
    if (transaction === undefined || transaction.method !== message.cseq?.method) {
      log.debug(`dropped ${message.status} response from ${describeSource(source)}: no transaction for branch ${branch ?? '(none)'}`);
      return;
    }
    transaction.receive(message);
  }

  /** Requests get a stateless answer on the transport they came in on, to where they came from (rport, RFC 3581). */
  private answer(request: SipRequest, source: Source): void {
    const response = statelessResponse(request, this.options.userAgent ?? '');
    const transport = this.transports.get(source.transport);
    if (!response || !transport) return;
    const from = describeSource(source);
    log.debug(`${request.method} from ${from}: answering ${response.status}`);
    transport.send({ transport: source.transport, host: source.host, port: source.port }, serializeSipMessage(response)).catch((err: Error) => {
      log.debug(`cannot answer ${request.method} from ${from}: ${err.message}`);
    });
  }

  /** Refuses new requests, waits for the outcomes of those in flight, then closes the transports. */
  close(): Promise<void> {
    this.closed ??= this.shutDown();
    return this.closed;
  }

  private async shutDown(): Promise<void> {
    this.closing = true;
    if (this.unsettled > 0) await new Promise<void>((resolve) => (this.onDrained = resolve));
    this.completed.clear();
    await Promise.all([...this.transports.values()].map((t) => t.close()));
  }
}

/** For log lines only: built when a line is written, not per message. */
function describeSource(source: Source): string {
  return `${source.transport} ${formatHostPort(source.host, source.port)}`;
}

export interface TransactionLayerSetup extends TransportOptions {
  readonly clock?: Clock;
  readonly timers?: TimerValues;
  readonly userAgent?: string;
}

/** Opens the interface's transports and the layer on top of them. */
export async function openTransactionLayer(sipInterface: SipInterface, setup: TransactionLayerSetup = {}): Promise<TransactionLayer> {
  // A datagram arriving before the layer exists can belong to no transaction: dropping it is right.
  let deliver: MessageSink = () => undefined;
  let lost: ConnectionLossSink = () => undefined;
  const { transports, localPort } = await openTransports(
    sipInterface, setup, (data, source) => deliver(data, source), (destination, error) => lost(destination, error),
  );
  const layer = new TransactionLayer(transports, {
    sentBy: { host: sipInterface.advertisedIp, port: sipInterface.port === 0 ? localPort : sipInterface.port },
    clock: setup.clock,
    timers: setup.timers,
    userAgent: setup.userAgent,
  });
  deliver = (data, source) => layer.receive(data, source);
  lost = (destination, error) => layer.connectionLost(destination, error);
  return layer;
}
