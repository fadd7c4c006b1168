import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { waitForStartReport, type ReportingChild } from '../../src/process/daemonize';

class FakeChild extends EventEmitter implements ReportingChild {
  readonly pid = 4242;
  readonly signals: string[] = [];
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.signals.push(signal);
    return true;
  }
}

describe('daemon mode: waiting for the background process to start', () => {
  it('succeeds when the child reports that it is running', async () => {
    const child = new FakeChild();
    const verdict = waitForStartReport(child, 10_000);
    child.emit('message', { running: true });
    assert.deepEqual(await verdict, { ok: true });
    assert.equal(child.listenerCount('exit'), 0, 'stops listening');
  });

  it("fails with the child's own line when it reports a failure", async () => {
    const child = new FakeChild();
    const verdict = waitForStartReport(child, 10_000);
    child.emit('message', { failed: "start-up failed: cannot use database 'sems' at 127.0.0.1:1 as 'u': refused" });
    assert.deepEqual(await verdict, { ok: false, message: "start-up failed: cannot use database 'sems' at 127.0.0.1:1 as 'u': refused" });
  });

  it('fails, naming the exit code or signal, when the child ends without a report', async () => {
    const exited = new FakeChild();
    const byCode = waitForStartReport(exited, 10_000);
    exited.emit('exit', 1, null);
    assert.match(((await byCode) as { message: string }).message, /exited with code 1 before it was running/);
    const killed = new FakeChild();
    const bySignal = waitForStartReport(killed, 10_000);
    killed.emit('exit', null, 'SIGKILL');
    assert.match(((await bySignal) as { message: string }).message, /was killed by SIGKILL/);
  });

  it('stops a child that does not report in time and fails', async () => {
    const child = new FakeChild();
    const verdict = await waitForStartReport(child, 30);
    assert.equal(verdict.ok, false);
    assert.match((verdict as { message: string }).message, /pid 4242\) did not report within 0\.03 s/);
    assert.deepEqual(child.signals, ['SIGTERM']);
  });
});
