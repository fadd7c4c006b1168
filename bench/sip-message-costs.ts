/**
 * Micro-benchmark (not a test) of the per-message SIP work of one registration with
 * digest auth: parsing the registrar's 401 and 200, reading the top Via's branch and
 * the 200's Contacts, answering the challenge, building and serialising a REGISTER.
 * Prints µs per call (after a warm-up) and kB allocated per call, measured as heap
 * growth with the young generation made large enough that no collection runs
 * in between (hence the node options below).
 *
 *   make bench-messages
 *   node --expose-gc --max-semi-space-size=128 --min-semi-space-size=128 build/bench/sip-message-costs.js [calls]
 */
import { getHeapStatistics } from 'node:v8';
import { DigestSession, RequestAuthenticator } from '../src/sip/digest';
import { parseSipMessage } from '../src/sip/message/parse';
import { buildRegisterRequest } from '../src/sip/message/register';
import { serializeSipMessage } from '../src/sip/message/serialize';
import type { SipMessage } from '../src/sip/message/sip-message';
import { parseVia } from '../src/sip/message/via';
import { interpretRegisterOk } from '../src/sip/register-reply';
import { markdownTable } from './support/markdown-table';

const DIALOG = [
  'Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKabcdef0123456789abcdef;rport=5080;received=127.0.0.1',
  'From: <sip:bench123@127.0.0.1:5060>;tag=0123456789abcdef',
  'To: <sip:bench123@127.0.0.1:5060>;tag=b27e1a1d33761e85846fc98f5f3a7e58.d5a4',
  'Call-ID: 0123456789abcdef0123456789abcdef',
];
/** As Kamailio answers the benchmark's first REGISTER and the one with credentials. */
const CHALLENGE = Buffer.from([
  'SIP/2.0 401 Unauthorized', ...DIALOG, 'CSeq: 50 REGISTER',
  'WWW-Authenticate: Digest realm="127.0.0.1:5060", nonce="ZWJhY2tlbmQ6MTIzNDU2Nzg5MDpsb25nbm9uY2V2YWx1ZQ==", qop="auth"',
  'Server: kamailio (5.6.3 (x86_64/linux))', 'Content-Length: 0', '', '',
].join('\r\n'));
const OK = Buffer.from([
  'SIP/2.0 200 OK', ...DIALOG, 'CSeq: 51 REGISTER', 'Contact: <sip:bench123@127.0.0.1:5080>;expires=3600',
  'Server: kamailio (5.6.3 (x86_64/linux))', 'Content-Length: 0', '', '',
].join('\r\n'));
const CONTACT = 'sip:bench123@127.0.0.1:5080';
const REQUEST_URI = 'sip:127.0.0.1:5060';

function parsed(data: Buffer): SipMessage {
  const result = parseSipMessage(data);
  if (!result.ok) throw new Error(result.error);
  return result.message;
}

const challenge = parsed(CHALLENGE);
const ok = parsed(OK);
const answered = (): RequestAuthenticator => {
  const auth = new RequestAuthenticator(new DigestSession({ username: 'bench123', password: 'pw-123' }));
  auth.onChallenge(401, challenge.headers.getAll('www-authenticate'));
  return auth;
};
const credentials = answered().headers({ method: 'REGISTER', uri: REQUEST_URI });

const CASES: [string, (i: number) => unknown][] = [
  ['parse the 401', () => parseSipMessage(CHALLENGE)],
  ['parse the 200', () => parseSipMessage(OK)],
  ['top Via branch', () => parseVia(ok.headers.getAll('via')[0] ?? '')?.params.get('branch')],
  ['read the 200\'s Contacts', () => interpretRegisterOk({
    contactHeaders: ok.headers.getAll('contact'), expiresHeader: ok.headers.get('expires'), ourContact: CONTACT, requestedExpires: 3600,
  })],
  ['answer the challenge', () => answered().headers({ method: 'REGISTER', uri: REQUEST_URI })],
  ['build and serialise a REGISTER', (i) => serializeSipMessage(buildRegisterRequest({
    requestUri: REQUEST_URI, aor: 'sip:bench123@127.0.0.1:5060', fromTag: '0123456789abcdef',
    callId: '0123456789abcdef0123456789abcdef', cseq: 50 + i, contact: CONTACT, expires: 3600, credentials,
  }), 'SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK0123456789abcdef;rport')],
];

/** Heap bytes allocated per call, over `calls` calls after a full collection. */
function allocatedPerCall(run: (i: number) => unknown, calls: number): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run node with --expose-gc');
  gc();
  const before = getHeapStatistics().used_heap_size;
  for (let i = 0; i < calls; i++) run(i);
  return (getHeapStatistics().used_heap_size - before) / calls;
}

function microsPerCall(run: (i: number) => unknown, calls: number): number {
  for (let i = 0; i < calls / 5; i++) run(i); // warm-up: optimised code is what runs at a mass start
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) run(i);
  return Number(process.hrtime.bigint() - started) / calls / 1000;
}

function main(): void {
  const calls = Number(process.argv[2] ?? 200_000);
  if (!Number.isInteger(calls) || calls <= 0) throw new Error(`calls must be a positive integer, got ${process.argv[2]}`);
  const rows = CASES.map(([name, run]) => [name, microsPerCall(run, calls).toFixed(2), (allocatedPerCall(run, 2000) / 1024).toFixed(2)]);
  process.stdout.write(`${markdownTable(['per call', 'µs', 'kB allocated'], rows)}\n`);
}

main();
