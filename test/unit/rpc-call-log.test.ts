import { strict as assert } from 'node:assert';
import { DiDouble, type DiValue } from '../../src/core/di';
import { printArgsForLog, printForLog, redactArgs } from '../../src/rpc/call-log';

describe('rpc call logging', () => {
  it("redacts createRegistration's and updateRegistration's password in every form", () => {
    for (const fn of ['createRegistration', 'updateRegistration']) {
      for (const args of [
        [1, 'alice', 'hunter2', 'example.org'],
        [1, 'alice', 'hunter2', 'example.org', 'sip:a@h', 'auth', 'peering'],
      ]) {
        const printed = printArgsForLog('db_reg_agent', fn, args);
        assert.ok(!printed.includes('hunter2'), printed);
        assert.ok(printed.includes('alice') && printed.includes('example.org'), printed);
      }
    }
  });

  it('redacts a password given as a number, and struct members that look like secrets', () => {
    assert.ok(!printArgsForLog('db_reg_agent', 'createRegistration', [1, 'u', 987654, 'r']).includes('987654'));
    const printed = printArgsForLog('testbed', 'echo', [{ user: 'bob', password: 'pw-1', nested: [{ secret: 'pw-2' }] }]);
    assert.ok(!printed.includes('pw-1') && !printed.includes('pw-2'), printed);
    assert.ok(printed.includes('bob'));
  });

  it('leaves other functions and positions alone, and prints an XML-RPC double as its number', () => {
    assert.deepEqual(redactArgs('db_reg_agent', 'removeRegistration', [1, 'peering']), [1, 'peering']);
    assert.equal(printArgsForLog('testbed', 'echo', [new DiDouble(1.5), { n: new DiDouble(2) }]), '[1.5,{"n":2}]');
    assert.deepEqual(redactArgs('testbed', 'echo', ['a', 'b', 'c']), ['a', 'b', 'c']);
  });

  it('shortens huge values and never throws on unprintable ones', () => {
    const printed = printForLog(['x'.repeat(10_000)]);
    assert.ok(printed.length < 2100, String(printed.length));
    assert.match(printed, /10004 chars/);
    let deep: DiValue = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.equal(printArgsForLog('testbed', 'echo', [deep]), '(unprintable)');
  });
});
