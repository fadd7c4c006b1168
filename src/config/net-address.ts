/**
 * Addresses in configuration files: SEMS (fixIface2IP) takes an IP address or the name
 * of a network device such as eth0 wherever it binds a socket.
 */
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/** The address itself (brackets dropped), or the device's first IPv4 address, else its first; undefined when neither. */
export function addressOf(value: string): string | undefined {
  const bare = value.replace(/^\[(.*)\]$/, '$1');
  if (isIP(bare)) return bare;
  const dev = networkInterfaces()[value];
  return (dev?.find((a) => a.family === 'IPv4') ?? dev?.[0])?.address;
}
