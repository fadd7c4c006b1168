import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ini from 'ini';
import { ConfigError, ConfigFile, type ParseWarning } from '../../src/config/reader';

const JOINED_QUERY =
  "select s.subscriber_id as subscriber_id, s.user as user from subscribers s " +
  "left join registrations r on s.subscriber_id=r.subscriber_id where s.realm='a=b' and s.user<>'#x';";

function parse(text: string): { cfg: ConfigFile; warnings: ParseWarning[] } {
  const warnings: ParseWarning[] = [];
  const cfg = ConfigFile.parse(text, { source: 'test.conf', onWarning: (w) => warnings.push(w) });
  return { cfg, warnings };
}

describe('config reader (AmConfigReader semantics)', () => {
  it('reads key=value lines, trimming white space around key and value', () => {
    const { cfg } = parse('a=1\n  b =  two\t\nc\t=\tthree  \n');
    assert.equal(cfg.string('a'), '1');
    assert.equal(cfg.string('b'), 'two');
    assert.equal(cfg.string('c'), 'three');
  });

  it('skips comment lines and blank lines, and a # ends an unquoted value', () => {
    const { cfg } = parse('# comment\n   # indented comment\n\nkey=value# trailing\nother=x #c\n');
    assert.deepEqual(cfg.keys().sort(), ['key', 'other']);
    assert.equal(cfg.string('key'), 'value');
    assert.equal(cfg.string('other'), 'x');
  });

  it('keeps =, ; and # inside a quoted value verbatim, as in every real joined_query', () => {
    const { cfg } = parse(`joined_query="${JOINED_QUERY}"\n`);
    assert.equal(cfg.string('joined_query'), JOINED_QUERY);
  });

  it('keeps a backslash-escaped quote and the backslash itself, like SEMS', () => {
    const { cfg } = parse('q="say \\"hi\\" # not a comment"\n');
    assert.equal(cfg.string('q'), 'say \\"hi\\" # not a comment');
  });

  it('accepts an empty value, quoted or not', () => {
    const { cfg } = parse('a=\nb=""\n');
    assert.equal(cfg.string('a'), '');
    assert.equal(cfg.string('b'), '');
    assert.equal(cfg.has('a'), true);
  });

  it('handles CRLF line endings', () => {
    const { cfg } = parse('a=1\r\nb="x y"\r\n# c\r\n');
    assert.equal(cfg.string('a'), '1');
    assert.equal(cfg.string('b'), 'x y');
  });

  it('lets a later duplicate win, with a warning naming the key', () => {
    const { cfg, warnings } = parse('expires=100\nexpires=200\n');
    assert.equal(cfg.string('expires'), '200');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]?.message ?? '', /'expires'/);
    assert.equal(warnings[0]?.line, 2);
  });

  it('ends an unquoted value at white space like SEMS, and warns about the rest without showing it (it may be a password)', () => {
    const { cfg, warnings } = parse('signature=SEMS Server\nmysql_passwd=top secret-part\n');
    assert.equal(cfg.string('signature'), 'SEMS');
    assert.equal(cfg.string('mysql_passwd'), 'top');
    assert.deepEqual(warnings.map((w) => w.message), [
      "'signature': ignoring 6 character(s) after the value (quote values that contain spaces)",
      "'mysql_passwd': ignoring 11 character(s) after the value (quote values that contain spaces)",
    ]);
  });

  it('keeps ; inside an unquoted value (load_plugins lists)', () => {
    const { cfg } = parse('load_plugins=wav;uac_auth;db_reg_agent\n');
    assert.deepEqual(cfg.list('load_plugins'), ['wav', 'uac_auth', 'db_reg_agent']);
  });

  for (const [text, why] of [
    ['=value\n', /missing key/],
    ['novalue\n', /expected '='/],
    ['key value\n', /expected '='/],
    ['q="unterminated\n', /unterminated/],
  ] as const) {
    it(`reports a syntax error with file and line for ${JSON.stringify(text)}`, () => {
      assert.throws(() => parse(`ok=1\n${text}`), (e: Error) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /^test\.conf:2: syntax error/);
        assert.match(e.message, why);
        return true;
      });
    });
  }

  describe('typed getters', () => {
    const { cfg } = parse('yes1=yes\nyes2=Yes\nno1=no\nn=42\nbad=4x\nneg=-1\nf=0.25\nfbad=abc\n');
    it('treats only the literal "yes" as true', () => {
      assert.equal(cfg.bool('yes1', false), true);
      assert.equal(cfg.bool('yes2', false), false);
      assert.equal(cfg.bool('no1', true), false);
      assert.equal(cfg.bool('absent', true), true);
    });
    it('parses integers and names the key when they do not parse', () => {
      assert.equal(cfg.uint('n', 1), 42);
      assert.equal(cfg.uint('absent', 7), 7);
      assert.throws(() => cfg.uint('bad', 1), /'bad' must be a non-negative integer, got '4x'/);
      assert.throws(() => cfg.uint('neg', 1), /'neg'/);
    });
    it('parses decimals and names the key when they do not parse', () => {
      assert.equal(cfg.number('f', 1), 0.25);
      assert.throws(() => cfg.number('fbad', 1), /'fbad' must be a number, got 'abc'/);
    });
  });

  describe('files', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'cfgtest-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('names a missing file in the error, once, with the reason', () => {
      const path = join(dir, 'nope.conf');
      assert.throws(() => ConfigFile.load(path), (e: Error) => e.message === `cannot read configuration file '${path}': no such file or directory (ENOENT)`);
    });

    it('names an unreadable file in the error', function () {
      if (process.getuid?.() === 0) {
        // root reads any file; a directory is unreadable as a file for everyone.
        assert.throws(() => ConfigFile.load(dir), /cannot read configuration file '.*': illegal operation on a directory, read \(EISDIR\)$/);
        return;
      }
      const f = join(dir, 'secret.conf');
      writeFileSync(f, 'a=1\n');
      chmodSync(f, 0);
      assert.throws(() => ConfigFile.load(f), /EACCES/);
    });

    it('follows @include lines relative to the include base', () => {
      writeFileSync(join(dir, 'inc.conf'), 'included=yes\nshared=from-include\n');
      writeFileSync(join(dir, 'main.conf'), 'shared=main\n@inc.conf\nlast=1\n');
      const cfg = ConfigFile.load(join(dir, 'main.conf'), { includeBase: dir });
      assert.equal(cfg.string('included'), 'yes');
      assert.equal(cfg.string('shared'), 'from-include');
      assert.equal(cfg.string('last'), '1');
    });

    it('takes a relative @include against plugin_config_path, itself against the folder of the file, whatever the working directory', () => {
      mkdirSync(join(dir, 'conf'));
      writeFileSync(join(dir, 'conf', 'extra.conf'), 'included=yes\n');
      writeFileSync(join(dir, 'sems.conf'), 'plugin_config_path=conf\n@ extra.conf\n');
      assert.notEqual(process.cwd(), dir);
      assert.equal(ConfigFile.load(join(dir, 'sems.conf')).string('included'), 'yes');
    });

    it("takes a relative @include before any plugin_config_path against SEMS's default folder", () => {
      writeFileSync(join(dir, 'sems.conf'), '@extra.conf\nplugin_config_path=.\n');
      assert.throws(() => ConfigFile.load(join(dir, 'sems.conf')), /cannot read configuration file '\/etc\/sems\/etc\/extra\.conf'/);
    });

    it('refuses an include loop instead of recursing forever', () => {
      writeFileSync(join(dir, 'a.conf'), `@${join(dir, 'a.conf')}\n`);
      assert.throws(() => ConfigFile.load(join(dir, 'a.conf'), { includeBase: dir }), /include loop/);
    });
  });

  it('differs from the ini package where SEMS files depend on it (why ini is not the reader)', () => {
    const text = 'load_plugins=wav;uac_auth;db_reg_agent\nq="a\\"b"\n';
    const ours = parse(text).cfg;
    const theirs = ini.decode(text) as Record<string, string>;
    assert.equal(ours.string('load_plugins'), 'wav;uac_auth;db_reg_agent');
    assert.equal(theirs.load_plugins, 'wav');
    assert.equal(ours.string('q'), 'a\\"b');
    assert.notEqual(theirs.q, ours.string('q'));
  });
});
