/**
 * The transports of one SIP interface: a UDP socket bound to its address and SIP port,
 * and TCP and TLS clients connecting from its address (RFC 3261 §18: UDP and TCP are
 * mandatory; TLS as in §26.2.1).
 */
import type { TlsClientConfig } from '../../config/agent-config';
import { StreamTransport } from './stream-transport';
import { tcpConnector, tlsConnector } from './stream-connectors';
import type { ConnectionTimeouts } from './stream-connection';
import type { ConnectionLossSink, MessageSink, Transport, TransportProtocol } from './transport';
import { UdpTransport, type BindAddress } from './udp-transport';

export interface TransportOptions {
  /** Default: verify server certificates against the system's CAs, no client certificate. */
  readonly tls?: TlsClientConfig;
  readonly connectionTimeouts?: ConnectionTimeouts;
}

export interface OpenTransports {
  readonly transports: ReadonlyMap<TransportProtocol, Transport>;
  /** The UDP port actually bound (differs from the configured one only for port 0). */
  readonly localPort: number;
}

/** Rejects when the UDP address cannot be bound or a TLS file cannot be read. */
export async function openTransports(
  bind: BindAddress, options: TransportOptions, sink: MessageSink, onLoss?: ConnectionLossSink,
): Promise<OpenTransports> {
  const localAddress = bind.ip === '0.0.0.0' || bind.ip === '::' ? undefined : bind.ip;
  const tls = tlsConnector(options.tls ?? { verifyCert: true }, localAddress);
  const udp = await UdpTransport.open(bind, sink);
  const transports = new Map<TransportProtocol, Transport>([
    ['UDP', udp],
    ['TCP', new StreamTransport(tcpConnector(localAddress), sink, options.connectionTimeouts, onLoss)],
    ['TLS', new StreamTransport(tls, sink, options.connectionTimeouts, onLoss)],
  ]);
  return { transports, localPort: udp.localPort };
}
