/**
 * The one door between the registration engine and the SIP layer.
 *
 * The engine hands over plain account data and gets back an outcome; it never sees
 * SIP syntax. Dialog identifiers (Call-ID, From tag, CSeq) live in a
 * `RegistrationDialog` the engine keeps per account, so they stay stable for the
 * registration's life (SPEC §4, §8).
 */

export interface RegistrationParams {
  /** User part of From/To/Contact (domain already stripped for username_with_domain). */
  user: string;
  /** Registrar domain ("realm" column): host[:port][;transport=x]. Request-URI is sip:<domain>. */
  domain: string;
  /** Digest user name (auth_user, else user). */
  authUser: string;
  password: string;
  /** Full Contact URI to register. */
  contact: string;
  /** Requested expires in seconds. */
  expires: number;
  /** Next hop override (db_reg_agent.conf outbound_proxy, else sems.conf's). */
  outboundProxy?: string;
}

/** Stable per-registration identifiers; the client advances `cseq`. */
export interface RegistrationDialog {
  readonly callId: string;
  readonly fromTag: string;
  /** CSeq of the next request (SEMS starts at 50). */
  cseq: number;
}

export interface RegistrationOutcome {
  /** Final status code: the reply's, 408 when unanswered, 480 when nothing could be sent (or may be). */
  code: number;
  reason: string;
  /** false when the request could not be sent at all (no route, transport refused, invalid account data). */
  sent: boolean;
  /**
   * The account's data cannot be put on the wire (480, the reason names the field, e.g.
   * "unable to send request: user contains a line break"): nothing was sent, and with
   * the same data nothing ever will be.
   */
  invalid?: true;
  /** 2xx only: seconds granted for our Contact (its expires param, else Expires, else requested). */
  grantedExpires?: number;
  /**
   * 2xx only: ms from the first sending of the transaction this reply answers (the last
   * re-send with credentials or Min-Expires) to the reply. The registrar's lifetime for
   * the binding began within that span, which may start long after the request's first
   * transaction (unanswered while the registrar was away, then challenged).
   */
  answeredAfterMs?: number;
  /** 2xx only: the Contact header values of the reply, as received, joined by ", ". */
  contacts?: string;
  /** 2xx whose Contact set does not contain ours (RFC 3261 §19.1.4 comparison). */
  contactMissing?: boolean;
  /** The 401/407 answered with credentials on the way to this outcome (save_auth_replies). */
  challenge?: { code: number; reason: string };
  /** Retransmissions that were needed: a hint that the next hop is saturated. */
  retransmissions: number;
  /**
   * Stopping began before the request sent anything, so it never will: no answer of the
   * registrar's, nothing to store (the account keeps its row) and nothing to plan.
   */
  aborted?: true;
}

export interface RegistrationClient {
  /** New Call-ID and From tag, CSeq 50. */
  newDialog(): RegistrationDialog;
  /** REGISTER (with one digest re-send and one 423 retry as needed). Never rejects. */
  register(dialog: RegistrationDialog, params: RegistrationParams): Promise<RegistrationOutcome>;
  /** de-REGISTER: `Contact: <...>;expires=0` and `Expires: 0`. Never rejects. */
  unregister(dialog: RegistrationDialog, params: RegistrationParams): Promise<RegistrationOutcome>;
  /**
   * Stops: requests that have sent nothing yet end `aborted`; those already under way
   * finish (their re-sends with credentials or Min-Expires and their failovers are part
   * of them). Resolves when they have ended and the transports are closed.
   */
  close(): Promise<void>;
}
