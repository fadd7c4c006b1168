import assert from 'node:assert/strict';
import { DbRegAgentDi, type RegistrationControl } from '../../src/agent/di-interface';
import { DiArgCountError, DiDouble, DiNotImplementedError, DiTypeError, type DiValue } from '../../src/core/di';

/** Records what the DI layer asks of the engine (the engine itself is tested end to end). */
function recordingControl(): { control: RegistrationControl; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const control: RegistrationControl = {
    create: (...a) => void calls.push(['create', ...a]),
    update: (...a) => void calls.push(['update', ...a]),
    refresh: (...a) => void calls.push(['refresh', ...a]),
    remove: (...a) => void calls.push(['remove', ...a]),
    describe: (type, id) => (id === 1 ? { id, type, status: 2 } : undefined),
    statistics: () => ({ total: 0 }),
  };
  return { control, calls };
}

describe('db_reg_agent DI functions (SPEC §5b)', () => {
  it('createRegistration accepts 4, 5, 6 and 7 arguments and answers [200, "OK"]', () => {
    const { control, calls } = recordingControl();
    const di = new DbRegAgentDi(control);
    const forms: DiValue[][] = [
      [1, 'u', 'p', 'r'],
      [2, 'u', 'p', 'r', 'sip:u@h'],
      [3, 'u', 'p', 'r', '', 'auth'],
      [4, 'u', 'p', 'r', '', '', 'peering'],
    ];
    for (const args of forms) assert.deepEqual(di.invoke('createRegistration', args), [200, 'OK']);
    assert.deepEqual(calls, [
      ['create', 'subscriber', 1, { user: 'u', password: 'p', realm: 'r', contact: '', authUser: '' }],
      ['create', 'subscriber', 2, { user: 'u', password: 'p', realm: 'r', contact: 'sip:u@h', authUser: '' }],
      ['create', 'subscriber', 3, { user: 'u', password: 'p', realm: 'r', contact: '', authUser: 'auth' }],
      ['create', 'peering', 4, { user: 'u', password: 'p', realm: 'r', contact: '', authUser: '' }],
    ]);
  });

  it('treats NULL contact / auth_user / type as absent', () => {
    const { control, calls } = recordingControl();
    new DbRegAgentDi(control).invoke('updateRegistration', [9, 'u', 'p', 'r', null, null, null]);
    assert.deepEqual(calls, [['update', 'subscriber', 9, { user: 'u', password: 'p', realm: 'r', contact: '', authUser: '' }]]);
  });

  it("create and update take an empty, 'undefined' or unknown type as a subscriber (SEMS)", () => {
    const { control, calls } = recordingControl();
    const di = new DbRegAgentDi(control);
    for (const type of ['', 'undefined', 'trunk']) {
      assert.deepEqual(di.invoke('createRegistration', [1, 'u', 'p', 'r', '', '', type]), [200, 'OK']);
      assert.deepEqual(di.invoke('updateRegistration', [1, 'u', 'p', 'r', '', '', type]), [200, 'OK']);
    }
    assert.deepEqual(calls.map(([fn, type]) => [fn, type]), Array(3).fill([['create', 'subscriber'], ['update', 'subscriber']]).flat());
  });

  it("refresh, remove and get take 'undefined' as a subscriber", () => {
    const { control, calls } = recordingControl();
    const di = new DbRegAgentDi(control);
    di.invoke('refreshRegistration', [5, 'undefined']);
    di.invoke('removeRegistration', [6, 'undefined']);
    assert.deepEqual(di.invoke('getRegistration', [1, 'undefined']), { id: 1, type: 'subscriber', status: 2 });
    assert.deepEqual(calls, [['refresh', 'subscriber', 5], ['remove', 'subscriber', 6]]);
  });

  it('accepts ids across the signed 32-bit range (an AmArg Int)', () => {
    const { control, calls } = recordingControl();
    const di = new DbRegAgentDi(control);
    di.invoke('refreshRegistration', [2 ** 31 - 1]);
    di.invoke('removeRegistration', [-(2 ** 31)]);
    assert.deepEqual(calls, [['refresh', 'subscriber', 2 ** 31 - 1], ['remove', 'subscriber', -(2 ** 31)]]);
  });

  it('refresh and remove accept 1 or 2 arguments', () => {
    const { control, calls } = recordingControl();
    const di = new DbRegAgentDi(control);
    assert.deepEqual(di.invoke('refreshRegistration', [5]), [200, 'OK']);
    assert.deepEqual(di.invoke('removeRegistration', [6, 'peering']), [200, 'OK']);
    assert.deepEqual(calls, [['refresh', 'subscriber', 5], ['remove', 'peering', 6]]);
  });

  for (const [fn, args] of [
    ['createRegistration', [1, 'u', 'p']],
    ['createRegistration', [1, 'u', 'p', 'r', '', '', 'subscriber', 'extra']],
    ['updateRegistration', []],
    ['refreshRegistration', []],
    ['removeRegistration', [1, 'subscriber', 'x']],
    ['getStatistics', [1]],
  ] as [string, DiValue[]][]) {
    it(`${fn} with ${args.length} arguments → parameter number mismatch`, () => {
      assert.throws(() => new DbRegAgentDi(recordingControl().control).invoke(fn, args), (e: Error) =>
        e instanceof DiArgCountError && e.message === 'AmArg out of bounds - parameter number mismatch.');
    });
  }

  for (const [fn, args] of [
    ['createRegistration', ['1', 'u', 'p', 'r']],
    ['createRegistration', [1.5, 'u', 'p', 'r']],
    ['createRegistration', [2 ** 31, 'u', 'p', 'r']],
    ['refreshRegistration', [-(2 ** 31) - 1]],
    ['createRegistration', [1, 2, 'p', 'r']],
    ['createRegistration', [1, 'u', 'p', 'r', 7]],
    ['createRegistration', [1, 'u', 'p', 'r', '', '', 7]],
    ['refreshRegistration', ['x']],
    ['refreshRegistration', [1, 'trunk']],
    ['removeRegistration', [1, 'peerings']],
    ['getRegistration', [1, 'Peering']],
    ['removeRegistration', [[1]]],
  ] as [string, DiValue[]][]) {
    it(`${fn}(${JSON.stringify(args)}) → type mismatch`, () => {
      assert.throws(() => new DbRegAgentDi(recordingControl().control).invoke(fn, args), (e: Error) =>
        e instanceof DiTypeError && e.message === 'Type mismatch in arguments.');
    });
  }

  it('refuses a double as the id, even a whole one (SEMS: an AmArg Double is no Int)', () => {
    const di = new DbRegAgentDi(recordingControl().control);
    for (const [fn, args] of [['createRegistration', [new DiDouble(110), 'u', 'p', 'r']], ['removeRegistration', [new DiDouble(7)]]] as const) {
      assert.throws(() => di.invoke(fn, [...args]), DiTypeError, fn);
    }
  });

  it('_list names the functions; an unknown function is NotImplemented', () => {
    const di = new DbRegAgentDi(recordingControl().control);
    const list = di.invoke('_list', []) as string[];
    for (const fn of ['createRegistration', 'updateRegistration', 'refreshRegistration', 'removeRegistration']) {
      assert.ok(list.includes(fn), fn);
    }
    assert.throws(() => di.invoke('nope', []), (e: Error) =>
      e instanceof DiNotImplementedError && e.message === 'AmDynInvoke::NotImplemented: nope');
  });

  it('getRegistration describes a known account and answers 404 for an unknown one', () => {
    const di = new DbRegAgentDi(recordingControl().control);
    assert.deepEqual(di.invoke('getRegistration', [1]), { id: 1, type: 'subscriber', status: 2 });
    assert.deepEqual(di.invoke('getRegistration', [2]), [404, 'Not Found']);
  });
});
