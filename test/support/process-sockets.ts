/**
 * The sockets a running process listens on, as the kernel sees them (Linux /proc):
 * its descriptors' socket inodes matched against /proc/net/{tcp,tcp6,udp,udp6}.
 * Independent of what the process logs about itself.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface BoundSocket {
  protocol: 'tcp' | 'udp';
  address: string;
  port: number;
}

/**
 * A /proc/net address `0100007F:1F90` (IPv4) or 32 hex digits (IPv6), each 32-bit word
 * in host (little-endian) order. IPv6 comes out uncompressed (`0:0:0:0:0:0:0:1`).
 */
export function parseProcAddress(text: string): { address: string; port: number } {
  const [hex = '', portHex = ''] = text.split(':');
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => (w.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)));
  const address = bytes.length === 4
    ? bytes.join('.')
    : Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] ?? 0) * 256 + (bytes[2 * i + 1] ?? 0)).toString(16)).join(':');
  return { address, port: parseInt(portHex, 16) };
}

/** TCP sockets in LISTEN and bound UDP sockets of `pid`. */
export function listeningSockets(pid: number): BoundSocket[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1] as string);
    } catch {
      // closed while we looked
    }
  }
  const found: BoundSocket[] = [];
  for (const table of ['tcp', 'tcp6', 'udp', 'udp6'] as const) {
    const protocol = table.startsWith('tcp') ? 'tcp' : 'udp';
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9] as string)) continue;
      // TCP: 0A = LISTEN; UDP: 07 = unconnected (bound)
      if (f[3] !== (protocol === 'tcp' ? '0A' : '07')) continue;
      found.push({ protocol, ...parseProcAddress(f[1] as string) });
    }
  }
  return found;
}
