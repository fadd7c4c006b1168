import { strict as assert } from 'node:assert';
import { DiArgCountError, DiNotImplementedError, DiTypeError, DiUnavailableError } from '../../src/core/di';
import {
  DiFactoryNotFoundError,
  JsonRpcError,
  XmlRpcFault,
  isUnexpectedFailure,
  jsonRpcErrorFor,
  jsonRpcErrors,
  unknownXmlRpcMethod,
  xmlRpcFaultFor,
} from '../../src/rpc/faults';

describe('rpc fault mapping', () => {
  describe('XML-RPC (xmlrpc2di)', () => {
    const cases: Array<[string, unknown, number, string]> = [
      ['unknown factory', new DiFactoryNotFoundError('nope'), 500, 'could not get factory'],
      ['unknown function', new DiNotImplementedError('frobnicate'), 504, 'Exception: AmDynInvoke::NotImplemented: frobnicate'],
      ['argument count', new DiArgCountError('x'), 300, 'Exception: AmArg out of bounds - parameter number mismatch.'],
      ['argument type', new DiTypeError('x'), 300, 'Exception: Type mismatch in arguments.'],
      ['any other Error', new Error('database gone'), 500, 'Exception: database gone'],
      ['not now (loading)', new DiUnavailableError('loading; try again later'), 500, 'Exception: loading; try again later'],
      ['a thrown string', 'oops', 500, 'Exception: oops'],
      ['anything else', 42, 500, 'Exception occured.'],
      ['a fault of the XML-RPC layer', new XmlRpcFault(400, 'need more'), 400, 'need more'],
    ];
    for (const [name, err, code, text] of cases) {
      it(`${name} → ${code} "${text}"`, () => {
        assert.deepEqual(xmlRpcFaultFor(err), { faultCode: code, faultString: text });
      });
    }

    it('an unknown top-level method is fault -1 "<name>: unknown method name"', () => {
      assert.deepEqual(xmlRpcFaultFor(unknownXmlRpcMethod('foo.bar')), {
        faultCode: -1,
        faultString: 'foo.bar: unknown method name',
      });
    });
  });

  describe('JSON-RPC (jsonrpc module)', () => {
    const cases: Array<[string, unknown, number, string, string]> = [
      ['unknown module', new DiFactoryNotFoundError('nope'), -32601, 'Method not found', 'module not loaded'],
      ['unknown function', new DiNotImplementedError('f'), -32601, 'Method not found', 'function unknown in module'],
      ['argument count', new DiArgCountError(), -32602, 'Invalid params', 'out of bounds in function call'],
      ['argument type', new DiTypeError(), -32602, 'Invalid params', 'parameters type mismatch in function call'],
      ['any other Error', new Error('secret detail'), -32000, 'Server error', 'unexpected Exception'],
      ['not now (loading): the reason as data', new DiUnavailableError('loading; try again later'), -32000, 'Server error', 'loading; try again later'],
      ['a thrown string', 'x', -32000, 'Server error', 'unexpected Exception'],
      ['parse error', jsonRpcErrors.parseError('bad'), -32700, 'Parse error', 'bad'],
      ['invalid request', jsonRpcErrors.invalidRequest('why'), -32600, 'Invalid Request', 'why'],
      ['no dot', jsonRpcErrors.methodNotFound('use module.method as rpc method name'), -32601, 'Method not found',
        'use module.method as rpc method name'],
      ['own error', new JsonRpcError(-32099, 'Custom', 'd'), -32099, 'Custom', 'd'],
    ];
    for (const [name, err, code, message, data] of cases) {
      it(`${name} → ${code} "${message}" (${data})`, () => {
        assert.deepEqual(jsonRpcErrorFor(err), { code, message, data });
      });
    }
  });

  it('only failures a client cannot provoke count as unexpected', () => {
    assert.equal(isUnexpectedFailure(new Error('bug')), true);
    assert.equal(isUnexpectedFailure('string'), true);
    for (const expected of [
      new DiTypeError(), new DiArgCountError(), new DiNotImplementedError('f'), new DiFactoryNotFoundError('x'),
      new XmlRpcFault(-1, 'x'), jsonRpcErrors.parseError('x'), new DiUnavailableError('x'),
    ]) {
      assert.equal(isUnexpectedFailure(expected), false, expected.name);
    }
  });
});
