/**
 * Binding a server socket, shared by both RPC servers (node's http.Server is a
 * net.Server).
 */
import type { AddressInfo, Server } from 'node:net';
import type { Logger } from '../log';

/** Listens on host:port ('' = all addresses); rejects if the address cannot be bound. */
export function listen(server: Server, port: number, host: string, log: Logger): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host || undefined, () => {
      server.off('error', reject);
      server.on('error', (err) => log.error(`server error: ${err.message}`));
      resolve(server.address() as AddressInfo);
    });
  });
}
