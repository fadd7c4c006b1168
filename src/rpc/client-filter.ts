/**
 * allowed_clients: which peer addresses may talk to the control plane.
 *
 * Built on node's BlockList, which matches IPv4 rules against IPv4-mapped IPv6 peers
 * (`::ffff:127.0.0.1`, what a dual-stack listener reports) and the reverse.
 */
import { BlockList, isIP, type Server, type Socket } from 'node:net';
import type { Logger } from '../process/log';

export class ClientFilter {
  private constructor(private readonly rules: BlockList | undefined) {}

  /** Entries are addresses or CIDR blocks, IPv4 or IPv6; an empty list allows everyone. */
  static fromCidrs(entries: readonly string[]): ClientFilter {
    if (entries.length === 0) return new ClientFilter(undefined);
    const rules = new BlockList();
    for (const entry of entries) {
      const [address = '', bits] = entry.split('/');
      const family = isIP(address);
      if (!family) throw new Error(`allowed_clients: '${entry}' is not an address or CIDR block`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (bits === undefined) {
        rules.addAddress(address, type);
        continue;
      }
      const prefix = /^\d+$/.test(bits) ? Number(bits) : NaN;
      if (!(prefix <= (family === 4 ? 32 : 128))) {
        throw new Error(`allowed_clients: '${entry}' has an invalid prefix length`);
      }
      rules.addSubnet(address, prefix, type);
    }
    return new ClientFilter(rules);
  }

  allows(address: string | undefined): boolean {
    if (!this.rules) return true;
    const family = isIP(address ?? '');
    if (!family || address === undefined) return false;
    return this.rules.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** Closes every accepted connection whose peer the filter refuses, before it is read. */
export function refuseDisallowedClients(server: Server, filter: ClientFilter, log: Logger): void {
  server.on('connection', (socket: Socket) => {
    if (filter.allows(socket.remoteAddress)) return;
    log.warn(`refused connection from ${socket.remoteAddress ?? '(unknown)'}: not in allowed_clients`);
    socket.destroy();
  });
}
