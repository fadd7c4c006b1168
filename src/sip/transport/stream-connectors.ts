/**
 * Opening TCP and TLS client connections (RFC 3261 §18.1.1, RFC 5922 for TLS).
 * Connections leave from an ephemeral port of the interface address.
 */
import { readFileSync } from 'node:fs';
import { connect as connectTcp, isIP, type Socket, type TcpSocketConnectOpts } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import type { TlsClientConfig } from '../../config/agent-config';
import type { Destination } from './transport';

export interface StreamConnector {
  readonly protocol: 'TCP' | 'TLS';
  /** Starts connecting; `onReady` runs once SIP can flow (after the handshake, for TLS). */
  connect(destination: Destination, onReady: () => void): Socket;
}

/** `localAddress`: the interface address to connect from; undefined for "any". */
export function tcpConnector(localAddress: string | undefined): StreamConnector {
  return {
    protocol: 'TCP',
    connect: (d, onReady) => connectTcp({ host: d.host, port: d.port, localAddress }, onReady),
  };
}

/**
 * TLS per TlsClientConfig: the server certificate is verified unless verifyCert is
 * off, against caFile if set, else the system's CAs; certFile/keyFile present a client
 * certificate. Reads the files now, so a bad path fails at start-up, not per request.
 */
export function tlsConnector(config: TlsClientConfig, localAddress: string | undefined): StreamConnector {
  const options: ConnectionOptions = {
    rejectUnauthorized: config.verifyCert,
    ca: config.caFile === undefined ? undefined : readFileSync(config.caFile),
    cert: config.certFile === undefined ? undefined : readFileSync(config.certFile),
    key: config.keyFile === undefined ? undefined : readFileSync(config.keyFile),
  };
  return {
    protocol: 'TLS',
    connect: (d, onReady) => {
      // SNI must not be an IP literal (RFC 6066 §3); without a name the certificate must match the IP.
      const servername = d.tlsServerName !== undefined && isIP(d.tlsServerName) === 0 ? d.tlsServerName : undefined;
      // tls.connect() passes localAddress on to the TCP connect; its typings just omit it.
      const connectOptions: ConnectionOptions & Pick<TcpSocketConnectOpts, 'localAddress'> = {
        ...options, host: d.host, port: d.port, localAddress, servername,
      };
      return connectTls(connectOptions, onReady);
    },
  };
}
