/**
 * The SIP registration client (src/sip) as integration tests and benchmarks drive it
 * directly, without the daemon: bound to a free loopback port of its own, with a tap
 * on the requests it hands to the transaction layer.
 *
 *   const tc = await openTestClient({ tls: { verifyCert: true, caFile } });
 *   const dialog = tc.client.newDialog();
 *   const outcome = await tc.client.register(dialog, tc.params('alice', '127.0.0.1:5060'));
 *   await tc.close();
 */
import net from 'node:net';
import type { TlsClientConfig } from '../../src/config/agent-config';
import type { SipRequest } from '../../src/sip/message/sip-message';
import type { RegistrationParams } from '../../src/sip/registration-client';
import { createSipRegistrationClient, type SipRegistrationClient } from '../../src/sip/sip-registration-client';
import type { TimerValues } from '../../src/sip/timers';
import { openTransactionLayer } from '../../src/sip/transaction-layer';
import { freePort, releasePorts } from './ports';

export interface TestClientOptions {
  /** Interface address, also advertised in Via and Contact (default 127.0.0.1). */
  ip?: string;
  /** uac_auth loaded (default true). */
  authenticate?: boolean;
  /** Default: verify against the system's CAs. */
  tls?: TlsClientConfig;
  /** RFC 3261 timers (default T1 500 ms, T2 4 s, T4 5 s). */
  timers?: TimerValues;
  userAgent?: string;
  /** Keep no copy of sent requests (benchmarks). */
  noTap?: boolean;
  /** Awaited before each request goes to the transaction layer, e.g. to hold it back. */
  beforeSend?: (request: SipRequest) => Promise<void> | void;
}

export interface TestClient {
  readonly client: SipRegistrationClient;
  readonly port: number;
  /** `ip:port` of the interface (`[::1]:port` for IPv6). */
  readonly hostPort: string;
  /** Every request handed to the transaction layer, in order (retransmissions are the layer's). */
  readonly sent: SipRequest[];
  /** `sip:<user>@<hostPort>` plus `uriParams` (e.g. ';transport=tcp'). */
  contact(user: string, uriParams?: string): string;
  /** An account registering `user` (password passwordOf(user), Contact at this client). */
  params(user: string, domain: string, extra?: Partial<RegistrationParams>): RegistrationParams;
  /** Waits for transactions in flight (up to Timer F), closes the sockets. */
  close(): Promise<void>;
}

export const TEST_USER_AGENT = 'db-reg-agent-test';

/** The password every test account gets at the registrar and in its params. */
export function passwordOf(user: string): string {
  return `pw-${user}`;
}

export async function openTestClient(options: TestClientOptions = {}): Promise<TestClient> {
  const ip = options.ip ?? '127.0.0.1';
  const port = await freePort({ protocols: ['udp'], hosts: [ip] });
  const tls = options.tls ?? { verifyCert: true };
  const iface = { name: 'test', ip, port, advertisedIp: ip, portKey: 'sip_port_test' };
  let layer;
  try {
    layer = await openTransactionLayer(iface, { tls, timers: options.timers });
  } catch (err) {
    releasePorts([port]);
    throw err;
  }
  const sent: SipRequest[] = [];
  if (!options.noTap) {
    const send = layer.send.bind(layer);
    layer.send = async (request, destination, hooks) => {
      sent.push(request);
      await options.beforeSend?.(request);
      return send(request, destination, hooks);
    };
  }
  const client = await createSipRegistrationClient({
    iface, authenticate: options.authenticate ?? true, userAgent: options.userAgent ?? TEST_USER_AGENT, tls, layer,
  });
  const hostPort = `${net.isIPv6(ip) ? `[${ip}]` : ip}:${port}`;
  const contact = (user: string, uriParams = ''): string => `sip:${user}@${hostPort}${uriParams}`;
  let closing: Promise<void> | undefined;
  return {
    client,
    port,
    hostPort,
    sent,
    contact,
    params: (user, domain, extra = {}) => ({
      user, domain, authUser: user, password: passwordOf(user), contact: contact(user), expires: 3600, ...extra,
    }),
    close() {
      closing ??= client.close().finally(() => releasePorts([port]));
      return closing;
    },
  };
}

/** Requests sent with this Call-ID, as `<CSeq> <Expires> <credentials?>` lines: a compact wire log. */
export function sentSummary(sent: readonly SipRequest[], callId: string): string[] {
  return sent
    .filter((request) => request.headers.get('call-id') === callId)
    .map((request) => [
      request.headers.get('cseq'),
      `Expires: ${request.headers.get('expires')}`,
      request.headers.has('authorization') ? 'with credentials' : 'without credentials',
    ].join(', '));
}
