import assert from 'node:assert/strict';
import {
  MAX_DELTA_SECONDS,
  interpretIntervalTooBrief,
  interpretRegisterOk,
  parseDeltaSeconds,
} from '../../src/sip/register-reply';

const OURS = 'sip:alice@192.0.2.1:5060';

describe('REGISTER reply interpretation (SPEC §4)', () => {
  describe('2xx', () => {
    it("takes the granted expires from our Contact's expires parameter first", () => {
      const result = interpretRegisterOk({
        contactHeaders: ['<sip:alice@192.0.2.1:5060>;expires=60'], expiresHeader: '3600', ourContact: OURS, requestedExpires: 7200,
      });
      assert.deepEqual(result, { found: true, grantedExpires: 60, contacts: '<sip:alice@192.0.2.1:5060>;expires=60' });
    });

    it('falls back to the Expires header, then to the requested value', () => {
      const withHeader = interpretRegisterOk({
        contactHeaders: ['<sip:alice@192.0.2.1:5060>'], expiresHeader: ' 1800 ', ourContact: OURS, requestedExpires: 7200,
      });
      assert.equal(withHeader.grantedExpires, 1800);
      const withNeither = interpretRegisterOk({ contactHeaders: ['<sip:alice@192.0.2.1:5060>'], ourContact: OURS, requestedExpires: 7200 });
      assert.equal(withNeither.grantedExpires, 7200);
    });

    it('treats an invalid expires parameter or Expires header as absent', () => {
      const result = interpretRegisterOk({
        contactHeaders: ['<sip:alice@192.0.2.1:5060>;expires=soon'], expiresHeader: 'Thu, 01 Dec 1994 16:00:00 GMT',
        ourContact: OURS, requestedExpires: 300,
      });
      assert.equal(result.grantedExpires, 300);
      const paramInvalid = interpretRegisterOk({
        contactHeaders: ['<sip:alice@192.0.2.1:5060>;expires=-1'], expiresHeader: '900', ourContact: OURS, requestedExpires: 300,
      });
      assert.equal(paramInvalid.grantedExpires, 900);
    });

    it('uses the expires of our binding, not of the other bindings of the AOR', () => {
      const result = interpretRegisterOk({
        contactHeaders: ['<sip:alice@192.0.2.77:5060>;expires=10, "Me" <sip:alice@192.0.2.1:5060>;expires=120', 'sip:alice@198.51.100.1;expires=5'],
        ourContact: OURS, requestedExpires: 3600,
      });
      assert.equal(result.found, true);
      assert.equal(result.grantedExpires, 120);
    });

    it('keeps the raw Contact header values, joined by ", "', () => {
      const contactHeaders = ['"Doe, J" <sip:alice@192.0.2.1:5060>;expires=60;q=0.5', '<sip:alice@192.0.2.2>;expires=5'];
      const result = interpretRegisterOk({ contactHeaders, ourContact: OURS, requestedExpires: 3600 });
      assert.equal(result.contacts, '"Doe, J" <sip:alice@192.0.2.1:5060>;expires=60;q=0.5, <sip:alice@192.0.2.2>;expires=5');
    });

    it('reports our Contact missing (without granted expires) when the reply lists others or none', () => {
      assert.deepEqual(
        interpretRegisterOk({ contactHeaders: ['<sip:alice@192.0.2.1>;expires=60'], ourContact: OURS, requestedExpires: 3600 }),
        { found: false, contacts: '<sip:alice@192.0.2.1>;expires=60' },
      );
      assert.deepEqual(
        interpretRegisterOk({ contactHeaders: [], expiresHeader: '60', ourContact: OURS, requestedExpires: 3600 }),
        { found: false, contacts: '' },
      );
    });

    it('reports our Contact missing when ours is not a SIP URI', () => {
      const result = interpretRegisterOk({ contactHeaders: ['<sip:alice@192.0.2.1:5060>'], ourContact: 'not a uri', requestedExpires: 60 });
      assert.equal(result.found, false);
    });

    it('compares Contact URIs per §19.1.4 (escapes, host case, parameters only in the reply)', () => {
      const result = interpretRegisterOk({
        contactHeaders: ['<sip:%61lice@192.0.2.1:5060;ob;rinstance=abc>;expires=45'],
        ourContact: 'sip:alice@192.0.2.1:5060', requestedExpires: 3600,
      });
      assert.deepEqual([result.found, result.grantedExpires], [true, 45]);
    });
  });

  describe('423 Interval Too Brief', () => {
    it('retries with Min-Expires when it exceeds what we asked for', () => {
      assert.deepEqual(interpretIntervalTooBrief('3600', 60), { retryExpires: 3600 });
    });

    it('fails when Min-Expires is missing, invalid or not above the request', () => {
      assert.deepEqual(interpretIntervalTooBrief(undefined, 60), { failure: '423 without Min-Expires' });
      assert.deepEqual(interpretIntervalTooBrief('later', 60), { failure: "423 with invalid Min-Expires 'later'" });
      assert.ok('failure' in interpretIntervalTooBrief('', 60));
      assert.ok('failure' in interpretIntervalTooBrief('60', 60));
      assert.ok('failure' in interpretIntervalTooBrief('30', 60));
    });
  });

  describe('delta-seconds', () => {
    it('reads digits, trims white space, clamps at 2^32-1 and refuses anything else', () => {
      assert.equal(parseDeltaSeconds('0'), 0);
      assert.equal(parseDeltaSeconds(' 3600 '), 3600);
      assert.equal(parseDeltaSeconds('99999999999'), MAX_DELTA_SECONDS);
      for (const bad of ['', '-1', '1.5', '1e3', '60s', null, undefined]) assert.equal(parseDeltaSeconds(bad), undefined, String(bad));
    });
  });
});
