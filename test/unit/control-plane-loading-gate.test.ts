import { strict as assert } from 'node:assert';
import { behindGate, LoadingGate } from '../../src/control-plane/loading-gate';
import { DiUnavailableError, type DiValue } from '../../src/core/di';
import { logger } from '../../src/process/log';

const log = logger('test');

/** Settles `p` into a label, so tests can see which calls are still waiting. */
function outcome(p: Promise<unknown>): { value?: unknown; error?: unknown; settled: () => boolean } {
  const o: { value?: unknown; error?: unknown; done: boolean; settled: () => boolean } = { done: false, settled: () => o.done };
  p.then((value) => Object.assign(o, { value, done: true }), (error: unknown) => Object.assign(o, { error, done: true }));
  return o;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('control plane: loading gate', () => {
  it('holds calls until open, then runs them in arrival order; later calls go straight through', async () => {
    const gate = new LoadingGate({ maxWaiting: 10, timeoutMs: 5000, log });
    const ran: DiValue[] = [];
    const di = behindGate({ functions: () => ['f'], invoke: (_fn, args) => (ran.push(args[0] ?? null), args[0] ?? null) }, gate);
    const first = outcome(Promise.resolve(di.invoke('f', [1])));
    const second = outcome(Promise.resolve(di.invoke('f', [2])));
    await tick();
    assert.deepEqual(ran, [], 'nothing ran before open');
    assert.equal(first.settled() || second.settled(), false);
    gate.open();
    await tick();
    assert.deepEqual(ran, [1, 2]);
    assert.deepEqual([first.value, second.value], [1, 2]);
    assert.equal(di.invoke('f', [3]), 3, 'open: answered synchronously');
  });

  it('refuses a call beyond maxWaiting at once, with DiUnavailableError; it never runs', async () => {
    const gate = new LoadingGate({ maxWaiting: 2, timeoutMs: 5000, log });
    const ran: DiValue[] = [];
    const di = behindGate({ functions: () => [], invoke: (_fn, args) => (ran.push(args[0] ?? null), 'ok') }, gate);
    const held = [outcome(Promise.resolve(di.invoke('f', [1]))), outcome(Promise.resolve(di.invoke('f', [2])))];
    const refused = outcome(Promise.resolve(di.invoke('f', [3])));
    await tick();
    assert.ok(refused.error instanceof DiUnavailableError);
    assert.match((refused.error as Error).message, /loading its accounts .*2 calls are already waiting/);
    assert.equal(held.some((o) => o.settled()), false);
    gate.open();
    await tick();
    assert.deepEqual(ran, [1, 2], 'the refused call was not run');
  });

  it('refuses a call that waited timeoutMs; it does not run when the gate opens later, and frees its place', async () => {
    const gate = new LoadingGate({ maxWaiting: 1, timeoutMs: 50, log });
    const ran: DiValue[] = [];
    const di = behindGate({ functions: () => [], invoke: (_fn, args) => (ran.push(args[0] ?? null), 'ok') }, gate);
    const late = outcome(Promise.resolve(di.invoke('f', [1])));
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.ok(late.error instanceof DiUnavailableError);
    assert.match((late.error as Error).message, /waited 0\.05 s/);
    const next = outcome(Promise.resolve(di.invoke('f', [2])));
    gate.open();
    await tick();
    assert.deepEqual(ran, [2]);
    assert.equal(next.value, 'ok');
  });
});
