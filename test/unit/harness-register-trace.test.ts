/**
 * The registrar-side overlap check of the crash test (test/support/register-trace.ts):
 * Kamailio trace lines → transactions per branch → pairs under way at once.
 */
import assert from 'node:assert/strict';
import { overlappingTransactions, parseRegisterTrace, transactionSpans } from '../support/register-trace';

/** A trace line as the template's xnotice writes it, after Kamailio's own prefix. */
const line = (kind: 'in' | 'out', seconds: number, user: string, callId: string, cseq: number, branch: string): string =>
  ` 5(123) NOTICE: {1 ${cseq} REGISTER ${callId}} <script>: REGISTER-TRACE ${kind} ${seconds.toFixed(6)} ${user} ${callId} ${cseq} `
  + `SIP/2.0/UDP 127.0.0.1:5080;branch=${branch};rport`;

const trace = (...lines: string[]): ReturnType<typeof transactionSpans> => transactionSpans(parseRegisterTrace(lines.join('\n')));

describe('register trace (test harness)', () => {
  it('parses arrivals and answers with their microsecond times, per branch', () => {
    const spans = trace(
      'unrelated line',
      line('in', 100.000001, 'alice', 'c1', 50, 'z9hG4bKa'),
      line('in', 100.5, 'alice', 'c1', 50, 'z9hG4bKa'),
      line('out', 100.5002, 'alice', 'c1', 50, 'z9hG4bKa'),
    );
    assert.equal(spans.length, 1);
    assert.deepEqual({ ...spans[0] }, {
      user: 'alice', callId: 'c1', cseq: 50, branch: 'z9hG4bKa', first: 100_000.001, firstAnswer: 100_500.2, lastArrival: 100_500, arrivals: 2,
    });
  });

  it('a challenge, then the request with credentials after it: no overlap', () => {
    const spans = trace(
      line('in', 1.0, 'alice', 'c1', 50, 'b1'), line('out', 1.001, 'alice', 'c1', 50, 'b1'),
      line('in', 1.002, 'alice', 'c1', 51, 'b2'), line('out', 1.003, 'alice', 'c1', 51, 'b2'),
      line('in', 1.0015, 'bob', 'c2', 50, 'b3'), line('out', 1.0025, 'bob', 'c2', 50, 'b3'),
    );
    assert.deepEqual(overlappingTransactions(spans), []);
  });

  it('a request that arrives before any answer to the previous one was sent overlaps it', () => {
    const spans = trace(
      line('in', 1.0, 'alice', 'c1', 50, 'b1'), line('in', 1.0005, 'alice', 'c1', 51, 'b2'),
      line('out', 1.001, 'alice', 'c1', 50, 'b1'), line('out', 1.002, 'alice', 'c1', 51, 'b2'),
    );
    assert.deepEqual(overlappingTransactions(spans).map((o) => [o.earlier.branch, o.later.branch]), [['b1', 'b2']]);
  });

  it('a retransmission of the previous request well after the next one began overlaps it; a reordering by the workers does not', () => {
    const base = [
      line('in', 1.0, 'alice', 'c1', 50, 'b1'), line('out', 1.001, 'alice', 'c1', 50, 'b1'),
      line('in', 1.002, 'alice', 'c1', 51, 'b2'), line('out', 1.003, 'alice', 'c1', 51, 'b2'),
    ];
    assert.deepEqual(overlappingTransactions(trace(...base, line('in', 1.01, 'alice', 'c1', 50, 'b1'))), [], 'within the reordering tolerance');
    const late = overlappingTransactions(trace(...base, line('in', 1.5, 'alice', 'c1', 50, 'b1')));
    assert.deepEqual(late.map((o) => [o.earlier.branch, o.later.branch]), [['b1', 'b2']]);
  });

  it('a request never answered overlaps every later one of that user', () => {
    const spans = trace(line('in', 1.0, 'alice', 'c1', 50, 'b1'), line('in', 40, 'alice', 'c1', 51, 'b2'), line('out', 40.001, 'alice', 'c1', 51, 'b2'));
    assert.equal(overlappingTransactions(spans).length, 1);
  });
});
