import assert from 'node:assert/strict';
import { parseCommandLine, UsageError } from '../../src/process/command-line';

describe('command line', () => {
  it('defaults to /etc/sems/sems.conf, background, no pid file', () => {
    assert.deepEqual(parseCommandLine([]), {
      configFile: '/etc/sems/sems.conf', foreground: false, version: false, help: false,
    });
  });

  it('reads every SEMS flag, separate and attached values', () => {
    const c = parseCommandLine(['-f', '/x/sems.conf', '-E', '-D3', '-P', '/run/x.pid', '-u', 'sems', '-ggroup']);
    assert.equal(c.configFile, '/x/sems.conf');
    assert.equal(c.foreground, true);
    assert.equal(c.logLevel, 3);
    assert.equal(c.pidFile, '/run/x.pid');
    assert.equal(c.user, 'sems');
    assert.equal(c.group, 'group');
  });

  it('groups value-less flags', () => {
    const c = parseCommandLine(['-Ev']);
    assert.equal(c.foreground, true);
    assert.equal(c.version, true);
    assert.equal(parseCommandLine(['-h']).help, true);
  });

  it('takes the level names SEMS takes for -D, in any case', () => {
    assert.equal(parseCommandLine(['-D', 'error']).logLevel, 0);
    assert.equal(parseCommandLine(['-DWARN']).logLevel, 1);
    assert.equal(parseCommandLine(['-D', 'Info']).logLevel, 2);
    assert.equal(parseCommandLine(['-D', 'dbg']).logLevel, 3);
  });

  for (const [argv, msg] of [
    [['-x'], /unknown option '-x'/],
    [['--help'], /unknown option '--help'/],
    [['-f'], /option '-f' needs a value/],
    [['-D', '5'], /log level 0\.\.3 or .*, got '5'/],
    [['-D', 'x'], /log level 0\.\.3 or error\|err\|warning\|warn\|info\|debug\|dbg, got 'x'/],
    [['stray'], /unexpected argument 'stray'/],
  ] as const) {
    it(`rejects ${argv.join(' ')}`, () => {
      assert.throws(() => parseCommandLine(argv), (e: Error) => e instanceof UsageError && msg.test(e.message));
    });
  }
});
