/**
 * Holds the control plane's calls while the engine loads its accounts, so that a
 * create, update or question acts on the loaded accounts, in arrival order. Bounded:
 * at most `maxWaiting` calls wait, each for at most `timeoutMs`; a call beyond either
 * is refused with DiUnavailableError (XML-RPC 500, JSON-RPC -32000) and never reaches
 * the engine, so a refused create was not done and the client may send it again.
 * (SEMS answers nothing until its modules are loaded: its RPC port is not open yet.)
 */
import { DiUnavailableError, type DiInterface, type DiValue } from '../core/di';
import type { Logger } from '../process/log';

export interface LoadingGateOptions {
  maxWaiting: number;
  timeoutMs: number;
  log: Logger;
}

interface Waiter {
  pass: () => void;
  timer: NodeJS.Timeout;
}

export class LoadingGate {
  /** Undefined once open. */
  private waiting: Set<Waiter> | undefined = new Set();
  private refused = 0;

  constructor(private readonly options: LoadingGateOptions) {}

  /** Resolves when the gate opens; rejects when too many wait or the wait is too long. Undefined when open. */
  pass(): Promise<void> | undefined {
    const waiting = this.waiting;
    if (!waiting) return undefined;
    const { maxWaiting, timeoutMs } = this.options;
    if (waiting.size >= maxWaiting) return Promise.reject(this.refuse(`${maxWaiting} calls are already waiting for it`));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        pass: resolve,
        timer: setTimeout(() => {
          waiting.delete(waiter);
          reject(this.refuse(`waited ${timeoutMs / 1000} s`));
        }, timeoutMs),
      };
      waiting.add(waiter);
    });
  }

  /** Lets the waiting calls go, oldest first, and every later call straight through. */
  open(): void {
    const waiting = this.waiting;
    if (!waiting) return;
    this.waiting = undefined;
    if (this.refused > 0) this.options.log.warn(`${this.refused} call(s) were refused while the accounts were loading`);
    for (const waiter of waiting) {
      clearTimeout(waiter.timer);
      waiter.pass();
    }
  }

  private refuse(why: string): DiUnavailableError {
    // One line per loading period; each refused call is also in the servers' call log.
    if (this.refused++ === 0) this.options.log.warn(`refusing calls while the accounts are loading (${why})`);
    return new DiUnavailableError(`db_reg_agent is loading its accounts from the database (${why}); try again later`);
  }
}

/** `inner`, whose calls pass `gate` first. */
export function behindGate(inner: DiInterface, gate: LoadingGate): DiInterface {
  return {
    functions: () => inner.functions(),
    invoke(fn: string, args: DiValue[]): DiValue | Promise<DiValue> {
      const passed = gate.pass();
      return passed ? passed.then(() => inner.invoke(fn, args)) : inner.invoke(fn, args);
    },
  };
}
