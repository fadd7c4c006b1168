/**
 * The one place the SIP layer touches drachtio-srf: its `SipMessage` class, which
 * parses a received message from text (`Srf.SipRequest` and `Srf.SipResponse` are
 * drachtio-server wrappers around the same class). It is loaded from its own file,
 * not through the package's main module (drachtio-sip-message.d.ts says why);
 * `Srf.SipMessage` is the same class. Serialising is ours (serialize.ts says why);
 * test/unit/sip-message-drachtio.test.ts checks it writes what drachtio would.
 *
 * drachtio's typings do not declare the static `SipMessage`, so its shape as we use
 * it is stated here. Known shortcomings are guarded in parse.ts / serialize.ts and
 * shown by test/unit/sip-message-drachtio.test.ts.
 */
import SipMessage from 'drachtio-srf/lib/sip-parser/message';

/** drachtio's message: header names lower-cased (compact forms expanded), repeated rows joined by ','. */
export interface DrachtioMessage {
  readonly method?: string;
  readonly uri?: string;
  readonly status?: number;
  readonly reason?: string;
  readonly version?: string;
  readonly headers: Record<string, string>;
  toString(): string;
}

export interface DrachtioMessageFields {
  method?: string;
  uri?: string;
  status?: number;
  reason?: string;
  headers: Record<string, string>;
  body: string;
}

interface DrachtioMessageClass {
  /** Parses text; throws on a start line or header line it does not understand. */
  new (text: string): DrachtioMessage;
  new (fields: DrachtioMessageFields): DrachtioMessage;
}

export const DrachtioSipMessage = SipMessage as DrachtioMessageClass;
