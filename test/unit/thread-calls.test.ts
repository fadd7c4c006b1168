import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { ThreadCaller, answerCall, type CallMessage, type ReplyMessage } from '../../src/control-plane/thread-calls';

/** Both ends of a real MessageChannel (the same code runs across a worker thread's port). */
function link(target: object, exposed: string[]): { caller: ThreadCaller; lost: string[]; close: () => void } {
  const { port1, port2 } = new MessageChannel();
  const lost: string[] = [];
  const caller = new ThreadCaller((m) => port1.postMessage(m));
  port1.on('message', (m: ReplyMessage) => caller.onReply(m));
  port2.on('message', (m: CallMessage) =>
    answerCall(target, new Set(exposed), m, (r) => port2.postMessage(r), (method, error) => lost.push(`${method}: ${error}`)),
  );
  return { caller, lost, close: () => port1.close() };
}

describe('calls across threads (thread-calls)', () => {
  it('answers a call with the result, awaiting a Promise', async () => {
    const target = { sum: (a: number, b: number) => a + b, later: async (v: string) => `${v}!` };
    const { caller, close } = link(target, ['sum', 'later']);
    try {
      assert.equal(await caller.call('sum', 2, 3), 5);
      assert.equal(await caller.call('later', 'x'), 'x!');
    } finally {
      close();
    }
  });

  it('delivers notifications in order, before a call sent after them', async () => {
    const seen: number[] = [];
    const target = { note: (n: number) => void seen.push(n), seen: () => [...seen] };
    const { caller, close } = link(target, ['note', 'seen']);
    try {
      for (let i = 0; i < 100; i++) caller.notify('note', i);
      assert.deepEqual(await caller.call('seen'), Array.from({ length: 100 }, (_, i) => i));
    } finally {
      close();
    }
  });

  it('turns a thrown error or a rejection into a rejected call with its message', async () => {
    const target = { boom: () => { throw new Error('boom'); }, reject: () => Promise.reject(new Error('no')) };
    const { caller, close } = link(target, ['boom', 'reject']);
    try {
      await assert.rejects(caller.call('boom'), /^Error: boom$/);
      await assert.rejects(caller.call('reject'), /^Error: no$/);
    } finally {
      close();
    }
  });

  it('refuses methods that are not exposed, and reports a failed notification', async () => {
    const target = { hidden: () => 'secret', exposedButFailing: () => { throw new Error('bad'); } };
    const { caller, lost, close } = link(target, ['exposedButFailing']);
    try {
      await assert.rejects(caller.call('hidden'), /hidden cannot be called from another thread/);
      await assert.rejects(caller.call('toString'), /toString cannot be called/);
      caller.notify('exposedButFailing');
      caller.notify('hidden');
      await caller.call('toString').catch(() => undefined); // the notifications were handled before this
      assert.deepEqual(lost, ['exposedButFailing: bad', 'hidden: hidden cannot be called from another thread']);
    } finally {
      close();
    }
  });

  it('failAll rejects the calls still waiting; a late reply is ignored', async () => {
    const posted: CallMessage[] = [];
    const caller = new ThreadCaller((m) => posted.push(m));
    const pending = caller.call('describe', 'subscriber', 1);
    caller.failAll('stopping');
    await assert.rejects(pending, /stopping/);
    caller.onReply({ kind: 'reply', id: posted[0]?.id ?? -1, value: 'late' }); // no throw, nobody waits
    assert.equal(posted.length, 1);
  });
});
