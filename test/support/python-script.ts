/**
 * A short Python script run as a peer (`python3 -c`), for what Node's own modules
 * cannot play: an independent XML-RPC client, a Unix datagram socket. The script
 * prints READY once it is set up; what it prints after that is its output.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface PythonScript {
  child: ChildProcess;
  /** Resolves when the script has printed READY. */
  ready: Promise<void>;
  /** What the script has printed after READY so far. */
  output(): string;
}

const READY = 'READY\n';

export function startPythonScript(lines: readonly string[], options: { stdin?: boolean } = {}): PythonScript {
  const child = spawn('python3', ['-c', lines.join('\n')], { stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'inherit'] });
  let out = '';
  const ready = new Promise<void>((resolve) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(READY)) resolve();
    });
  });
  const output = (): string => {
    const at = out.indexOf(READY);
    return at < 0 ? '' : out.slice(at + READY.length);
  };
  return { child, ready, output };
}
