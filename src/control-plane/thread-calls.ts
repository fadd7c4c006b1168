/**
 * Method calls on an object that lives on another thread, as messages over a
 * MessagePort: a notification (no answer wanted) or a call answered with the result.
 * The receiving side names the methods it answers; anything else is refused, so a
 * message cannot reach more of the object than its owner exposed.
 */

export interface CallMessage {
  kind: 'call';
  /** 0: a notification, nothing is answered. */
  id: number;
  method: string;
  args: unknown[];
}

export interface ReplyMessage {
  kind: 'reply';
  id: number;
  value?: unknown;
  /** Set when the call failed: the error's message. */
  error?: string;
}

/** The calling side: sends calls, matches replies to them. */
export class ThreadCaller {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(private readonly post: (message: CallMessage) => void) {}

  notify(method: string, ...args: unknown[]): void {
    this.post({ kind: 'call', id: 0, method, args });
  }

  call(method: string, ...args: unknown[]): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.post({ kind: 'call', id, method, args });
    });
  }

  /** Feed every ReplyMessage that arrives here. */
  onReply(reply: ReplyMessage): void {
    const waiter = this.waiting.get(reply.id);
    if (!waiter) return;
    this.waiting.delete(reply.id);
    if (reply.error !== undefined) waiter.reject(new Error(reply.error));
    else waiter.resolve(reply.value);
  }

  /** The other side is gone: no reply will come. */
  failAll(reason: string): void {
    for (const waiter of this.waiting.values()) waiter.reject(new Error(reason));
    this.waiting.clear();
  }
}

/**
 * The answering side: runs `message` on `target` if `exposed` names the method, and
 * posts the result (awaited if it is a Promise) or the error's message back. A
 * notification has nobody to tell of its failure but `notificationFailed`.
 */
export function answerCall(
  target: object,
  exposed: ReadonlySet<string>,
  message: CallMessage,
  post: (reply: ReplyMessage) => void,
  notificationFailed: (method: string, error: string) => void,
): void {
  const reply = (result: Omit<ReplyMessage, 'kind' | 'id'>): void => {
    if (message.id !== 0) post({ kind: 'reply', id: message.id, ...result });
    else if (result.error !== undefined) notificationFailed(message.method, result.error);
  };
  const fail = (err: unknown): void => reply({ error: err instanceof Error ? err.message : String(err) });
  const method = (target as Record<string, unknown>)[message.method];
  if (!exposed.has(message.method) || typeof method !== 'function') {
    fail(`${message.method} cannot be called from another thread`);
    return;
  }
  try {
    const result: unknown = method.apply(target, message.args);
    if (result instanceof Promise) result.then((value: unknown) => reply({ value }), fail);
    else reply({ value: result });
  } catch (err) {
    fail(err);
  }
}
