/**
 * Free loopback ports for test peers (Kamailio, sipp, the daemon under test).
 *
 * Ports are drawn at random from below the kernel's ephemeral range, so an outgoing
 * connection can never grab one between our check and the peer's bind, and each is
 * checked by binding it for real on every protocol and address asked for. Ports handed
 * out are remembered for the life of the process, so two peers in one test run never
 * get the same number. Separate processes can still collide (rarely): callers that
 * start a peer should retry with fresh ports when the bind fails.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';

export type PortProtocol = 'udp' | 'tcp';

export interface FreePortOptions {
  /** Protocols the port must be free on (default both: SIP uses one number for UDP and TCP). */
  protocols?: readonly PortProtocol[];
  /** Addresses the port must be free on (default 127.0.0.1 only). */
  hosts?: readonly string[];
}

const LOWEST_PORT = 20000;
const MAX_ATTEMPTS = 500;
const handedOut = new Set<number>();

/** One free port, free on every protocol × host asked for. */
export async function freePort(options: FreePortOptions = {}): Promise<number> {
  const [port] = await freePorts(1, options);
  return port;
}

/** `count` distinct free ports. */
export async function freePorts(count: number, options: FreePortOptions = {}): Promise<number[]> {
  const protocols = options.protocols ?? ['udp', 'tcp'];
  const hosts = options.hosts ?? ['127.0.0.1'];
  const ports: number[] = [];
  for (let attempt = 0; attempt < MAX_ATTEMPTS && ports.length < count; attempt++) {
    const candidate = randomCandidate();
    if (handedOut.has(candidate)) continue;
    if (await isFreeEverywhere(candidate, protocols, hosts)) {
      handedOut.add(candidate);
      ports.push(candidate);
    }
  }
  if (ports.length < count) {
    throw new Error(`no ${count} free loopback port(s) found after ${MAX_ATTEMPTS} attempts`);
  }
  return ports;
}

/** Give ports back (e.g. after a peer stopped) so a long run does not exhaust the range. */
export function releasePorts(ports: Iterable<number>): void {
  for (const port of ports) handedOut.delete(port);
}

/** True when nothing listens on host:port for that protocol right now. */
export async function isPortFree(port: number, protocol: PortProtocol, host = '127.0.0.1'): Promise<boolean> {
  return protocol === 'udp' ? canBindUdp(port, host) : canBindTcp(port, host);
}

async function isFreeEverywhere(
  port: number, protocols: readonly PortProtocol[], hosts: readonly string[],
): Promise<boolean> {
  for (const host of hosts) {
    for (const protocol of protocols) {
      if (!(await isPortFree(port, protocol, host))) return false;
    }
  }
  return true;
}

function randomCandidate(): number {
  const highest = ephemeralRangeStart() - 1;
  return LOWEST_PORT + Math.floor(Math.random() * (highest - LOWEST_PORT + 1));
}

let cachedEphemeralStart: number | undefined;

/** First port of the kernel's ephemeral range (Linux default 32768). */
function ephemeralRangeStart(): number {
  if (cachedEphemeralStart === undefined) {
    cachedEphemeralStart = 32768;
    try {
      const [low] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
      const parsed = Number(low);
      if (Number.isInteger(parsed) && parsed > LOWEST_PORT + 1000) cachedEphemeralStart = parsed;
    } catch {
      // not Linux or /proc not mounted: keep the default
    }
  }
  return cachedEphemeralStart;
}

function canBindUdp(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false });
    socket.once('error', () => {
      try {
        socket.close();
      } catch {
        // never bound: nothing to close
      }
      resolve(false);
    });
    socket.bind({ port, address: host, exclusive: true }, () => socket.close(() => resolve(true)));
  });
}

function canBindTcp(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
