import { strict as assert } from 'node:assert';
import {
  diFromXmlRpc,
  parseMethodCall,
  renderFault,
  renderResponse,
  xmlRpcFromDi,
  xmlSafeText,
} from '../../src/rpc/xmlrpc-codec';
import { DiDouble, type DiValue } from '../../src/core/di';
import { XmlRpcFault } from '../../src/rpc/faults';
import { methodCallXml } from '../support/rpc-fixtures';

async function parseFault(body: string): Promise<XmlRpcFault> {
  try {
    await parseMethodCall(Buffer.from(body));
  } catch (err) {
    assert.ok(err instanceof XmlRpcFault);
    return err;
  }
  assert.fail(`parsed: ${body}`);
}

describe('rpc XML-RPC codec', () => {
  describe('parseMethodCall', () => {
    it('reads the method name and typed parameters (i4, int, untyped and typed strings, array, struct, boolean)', async () => {
      const call = await parseMethodCall(
        Buffer.from(
          methodCallXml('di', [
            '<string>db_reg_agent</string>',
            'createRegistration',
            '<i4>17</i4>',
            '<int>-3</int>',
            '<array><data><value>x</value><value><boolean>1</boolean></value></data></array>',
            '<struct><member><name>k</name><value><double>2.5</double></value></member></struct>',
          ]),
        ),
      );
      assert.equal(call.method, 'di');
      assert.deepEqual(call.params, ['db_reg_agent', 'createRegistration', 17, -3, ['x', true], { k: new DiDouble(2.5) }]);
    });

    it('keeps a <double> apart from an <int>, even when it is a whole number (SEMS: AmArg Double)', async () => {
      const call = await parseMethodCall(Buffer.from(methodCallXml('f', ['<double>110.0</double>', '<int>110</int>'])));
      assert.ok(call.params[0] instanceof DiDouble);
      assert.equal(call.params[0].value, 110);
      assert.equal(call.params[1], 110);
    });

    it('accepts a call without params', async () => {
      const call = await parseMethodCall(Buffer.from('<methodCall><methodName>calls</methodName></methodCall>'));
      assert.deepEqual(call, { method: 'calls', params: [] });
    });

    it('turns malformed or non-call bodies into fault -1', async () => {
      for (const body of [
        '',
        'not xml at all',
        '<methodCall><methodName>x</methodName><params><param><value><int>abc</int></value></param></params></methodCall>',
        '<methodResponse><params/></methodResponse>',
        '<methodCall><params/></methodCall>',
        '<methodCall><methodName>x</methodName><params><param><value><bogus/></value></param></params></methodCall>',
        '<methodCall><methodName>x</methodName><params><param><value><array><data>',
      ]) {
        const fault = await parseFault(body);
        assert.equal(fault.code, -1, body);
        assert.match(fault.message, /^invalid XML-RPC request: /, body);
        assert.ok(!fault.message.includes('\n'), 'one line');
      }
    });
  });

  describe('request parameters → DI arguments', () => {
    it('keeps strings, numbers, doubles, booleans, arrays and structs; nil becomes null', () => {
      const args = ['a', 1, new DiDouble(2), false, null, { x: [1] }];
      assert.deepEqual(diFromXmlRpc(args), args);
      assert.ok((diFromXmlRpc(args) as DiValue[])[2] instanceof DiDouble);
    });

    it('refuses dateTime and base64 with 400 "unsupported parameter type" (as SEMS)', () => {
      for (const value of [new Date(0), Buffer.from('x'), [new Date(0)]]) {
        assert.throws(
          () => diFromXmlRpc(value),
          (err: unknown) => err instanceof XmlRpcFault && err.code === 400 && err.message === 'unsupported parameter type',
        );
      }
    });
  });

  describe('DI results → XML-RPC', () => {
    it('maps null to int 0 like SEMS maps an undefined AmArg, and keeps the rest', () => {
      assert.equal(xmlRpcFromDi(null), 0);
      assert.deepEqual(xmlRpcFromDi([200, 'OK', true, { a: null, b: [1.5] }]), [200, 'OK', true, { a: 0, b: [1.5] }]);
      assert.deepEqual(xmlRpcFromDi([new DiDouble(2.5)]), [2.5]);
    });

    it('refuses numbers XML-RPC cannot carry', () => {
      assert.throws(() => xmlRpcFromDi([Number.NaN]), /cannot be sent/);
      assert.throws(() => xmlRpcFromDi(Number.POSITIVE_INFINITY), /cannot be sent/);
    });

    it('replaces characters XML cannot carry', () => {
      assert.equal(xmlSafeText('a\u0000b\u0007c\tok\n'), 'a\uFFFDb\uFFFDc\tok\n');
      assert.equal(xmlSafeText('lone \uD800 surrogate, pair \uD83D\uDE00'), 'lone \uFFFD surrogate, pair \uD83D\uDE00');
      assert.deepEqual(xmlRpcFromDi({ 'k\u0001': 'v\u0000' }), { 'k\uFFFD': 'v\uFFFD' });
    });

    it('renders ints as <int>, arrays as <array> and strings escaped', () => {
      const xml = renderResponse([200, 'OK', 'a<b&c']);
      assert.match(xml, /<methodResponse><params><param><value><array><data>/);
      assert.match(xml, /<value><int>200<\/int><\/value>/);
      assert.match(xml, /<value><string>OK<\/string><\/value>/);
      assert.ok(!/<value><string>a<b/.test(xml), 'markup in a string is escaped');
    });

    it('renders a fault as the faultCode/faultString struct, even with control characters', () => {
      const xml = renderFault({ faultCode: -1, faultString: 'x\u0000: unknown method name' });
      assert.match(xml, /<methodResponse><fault><value><struct>/);
      assert.match(xml, /<name>faultCode<\/name><value><int>-1<\/int><\/value>/);
      assert.match(xml, /<name>faultString<\/name><value><string>x\uFFFD: unknown method name<\/string><\/value>/);
    });
  });
});
