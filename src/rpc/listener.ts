/**
 * Binding a server socket, shared by both RPC servers (node's http.Server is a
 * net.Server).
 */
import type { AddressInfo, Server } from 'node:net';
import type { Logger } from '../process/log';

/**
 * Listens on host:port ('' = all addresses); rejects if the address cannot be bound,
 * naming `portKey` (the configuration key of the port), so the operator knows what to change.
 */
export function listen(server: Server, port: number, host: string, log: Logger, portKey: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const refused = (err: Error): void => reject(new Error(`${portKey}=${port}: cannot listen on ${host || 'all addresses'}: ${err.message}`, { cause: err }));
    server.once('error', refused);
    server.listen(port, host || undefined, () => {
      server.off('error', refused);
      server.on('error', (err) => log.error(`server error: ${err.message}`));
      resolve(server.address() as AddressInfo);
    });
  });
}
