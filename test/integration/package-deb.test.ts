/**
 * `make deb` and `make install`: the Debian package passes lintian, installs with
 * dpkg, runs the unit's command with the installed configuration as the package's
 * user (logging to what it takes for the journal), and purges without a trace;
 * `make uninstall` takes back all that `make install` put in a DESTDIR.
 *
 * The package is installed on this machine for real: the test refuses to start when
 * db-reg-agent is installed already, rather than purge someone's installation.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { startKamailio, type KamailioHandle } from '../support/kamailio';
import { createTestDatabase, repositoryRoot, type RegistrationRow, type TestDatabase } from '../support/mariadb';
import { waitUntil } from '../support/peer-process';
import { freePorts } from '../support/ports';

const run = promisify(execFile);
const ROOT = repositoryRoot();
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const DEB = path.join(ROOT, 'build', 'deb', `db-reg-agent_${VERSION}_all.deb`);
const BIG_OUTPUT = { maxBuffer: 16 * 1024 * 1024 };
/** What purge must take away entirely. */
const PACKAGE_FOLDERS = ['/usr/lib/db-reg-agent', '/etc/db-reg-agent', '/usr/share/doc/db-reg-agent'];
const ENABLEMENT = '/etc/systemd/system/multi-user.target.wants/db-reg-agent.service';

/** Sets `key=value` lines of a SEMS-style file (replacing the key's line, or appending it). */
function setKeys(file: string, values: Record<string, string>): void {
  let text = readFileSync(file, 'utf8');
  for (const [key, value] of Object.entries(values)) {
    const line = new RegExp(`^${key}=.*$`, 'm');
    text = line.test(text) ? text.replace(line, `${key}=${value}`) : `${text}\n${key}=${value}\n`;
  }
  writeFileSync(file, text);
}

/** `KEY=value` lines of an environment file (systemd's EnvironmentFile=, /etc/default). */
function environmentFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const match of text.matchAll(/^(?:Environment=)?([A-Z_]+)=(.*)$/gm)) values[match[1] as string] = (match[2] as string).trim();
  return values;
}

/**
 * The unit's ExecStart as systemd runs it (systemd.service(5), "Command lines"):
 * `${VAR}` is one word, `$VAR` splits on white space (and is no word when empty).
 */
function execStart(unit: string, environment: Record<string, string>): string[] {
  const line = /^ExecStart=(.*)$/m.exec(unit)?.[1];
  assert.ok(line, 'the unit has an ExecStart line');
  return line.split(/\s+/).flatMap((word) => {
    const braced = /^\$\{([A-Z_]+)\}$/.exec(word);
    if (braced) return [environment[braced[1] as string] ?? ''];
    const bare = /^\$([A-Z_]+)$/.exec(word);
    if (bare) return (environment[bare[1] as string] ?? '').split(/\s+/).filter((w) => w !== '');
    return [word];
  });
}

/** dpkg, waiting (bounded) while another apt or dpkg holds its lock. */
async function dpkg(...args: string[]): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      const { stdout, stderr } = await run('dpkg', args, { ...BIG_OUTPUT, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
      return `${stdout}${stderr}`;
    } catch (err) {
      if (attempt >= 30 || !/lock/i.test(String((err as { stderr?: string }).stderr))) throw err;
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

/** dpkg's state of the package: 'installed', 'config-files', … or 'not-installed'. */
async function packageState(): Promise<string> {
  try {
    return (await run('dpkg-query', ['-W', '-f=${db:Status-Status}', 'db-reg-agent'])).stdout.trim() || 'not-installed';
  } catch {
    return 'not-installed';
  }
}

describe('the Debian package (make deb)', function () {
  this.timeout(300_000);
  let unpacked: string;
  /** lintian runs while the install tests do; its verdict is checked last (the last nested describe). */
  let lintian: Promise<{ stdout: string; stderr: string }>;

  before(async () => {
    await run('make', ['deb'], { cwd: ROOT, timeout: 240_000, ...BIG_OUTPUT });
    lintian = run('lintian', ['--fail-on', 'none', '--display-info', '--show-overrides', DEB], { timeout: 240_000, ...BIG_OUTPUT });
    lintian.catch(() => undefined); // awaited in its test; not an unhandled rejection meanwhile
    unpacked = mkdtempSync(path.join(tmpdir(), 'dra-deb-'));
    await run('dpkg-deb', ['-x', DEB, unpacked]);
  });
  after(() => {
    rmSync(unpacked, { recursive: true, force: true });
  });

  it('declares the package, its Node.js dependency, the changelog\'s maintainer and the configuration as conffiles', async () => {
    const field = async (name: string): Promise<string> => (await run('dpkg-deb', ['-f', DEB, name])).stdout.trim();
    assert.equal(await field('Package'), 'db-reg-agent');
    assert.equal(await field('Version'), VERSION);
    assert.equal(await field('Architecture'), 'all');
    assert.match(await field('Depends'), /nodejs \(>= 20\.12\)/);
    const changelog = gunzipSync(readFileSync(path.join(unpacked, 'usr/share/doc/db-reg-agent/changelog.gz'))).toString();
    assert.match(changelog, new RegExp(`^db-reg-agent \\(${VERSION.replace(/\./g, '\\.')}\\) \\w+; urgency=\\w+$`, 'm'));
    const maintainer = /^ -- (.+>) {2}\w{3}, \d\d \w{3} \d{4} [\d:]{8} [+-]\d{4}$/m.exec(changelog)?.[1];
    assert.ok(maintainer, 'the changelog entry has a trailer line');
    assert.equal(await field('Maintainer'), maintainer);
    assert.doesNotMatch(maintainer, /localhost|root@/);
    const control = mkdtempSync(path.join(tmpdir(), 'dra-deb-control-'));
    try {
      await run('dpkg-deb', ['-e', DEB, control]);
      assert.deepEqual(readFileSync(path.join(control, 'conffiles'), 'utf8').trim().split('\n'), [
        '/etc/db-reg-agent/db_reg_agent.conf', '/etc/db-reg-agent/jsonrpc.conf', '/etc/db-reg-agent/sems.conf',
        '/etc/db-reg-agent/xmlrpc2di.conf', '/etc/default/db-reg-agent',
      ]);
      for (const script of ['postinst', 'prerm', 'postrm']) {
        assert.ok((statSync(path.join(control, script)).mode & 0o111) !== 0, `${script} is executable`);
        await run('sh', ['-n', path.join(control, script)]);
      }
      // The unit runs as this user: postinst must create it (purge keeps it, so a machine
      // that ran this test before has it already).
      assert.match(readFileSync(path.join(control, 'postinst'), 'utf8'), /adduser --system --group [^\n]*db-reg-agent/);
    } finally {
      rmSync(control, { recursive: true, force: true });
    }
  });

  it('ships a unit that runs the packaged command as the service user', () => {
    const unit = readFileSync(path.join(unpacked, 'usr/lib/systemd/system/db-reg-agent.service'), 'utf8');
    assert.match(unit, /^ExecStart=\/usr\/sbin\/db-reg-agent -E -f \$\{DB_REG_AGENT_CONFIG\}/m);
    assert.match(unit, /^User=db-reg-agent$/m);
    assert.match(unit, /^EnvironmentFile=-\/etc\/default\/db-reg-agent$/m);
    assert.match(unit, /^SyslogLevel=err$/m);
    const wrapper = readFileSync(path.join(unpacked, 'usr/sbin/db-reg-agent'), 'utf8');
    assert.match(wrapper, /^exec \/usr\/bin\/node \/usr\/lib\/db-reg-agent\/dist\/main\.js "\$@"$/m);
  });

  it('holds only what runs of the production dependencies; only programs are executable', async () => {
    const lib = path.join(unpacked, 'usr/lib/db-reg-agent');
    const names = readdirSync(path.join(lib, 'node_modules'));
    for (const dependency of ['drachtio-srf', 'mysql2', 'xmlrpc', 'luxon']) assert.ok(names.includes(dependency), dependency);
    for (const devOnly of ['typescript', 'mocha', 'eslint', 'ini', '@types']) assert.ok(!names.includes(devOnly), devOnly);
    const files = (await run('find', [lib, '-type', 'f'], BIG_OUTPUT)).stdout.trim().split('\n');
    const notRuntime = files.filter((file) => /\/\.|\.(ts|map|md|markdown)$|\/(test|tests|docs?|examples?|benchmark)\/|\/(licen[cs]e|readme|changelog|history)[^/]*$/i
      .test(path.relative(lib, file)));
    assert.deepEqual(notRuntime, []);
    const executable = (await run('find', [unpacked, '-type', 'f', '-perm', '/111'], BIG_OUTPUT)).stdout.trim().split('\n');
    for (const file of executable) assert.equal(readFileSync(file).subarray(0, 2).toString(), '#!', `${file} is executable but no script`);
    assert.ok(executable.includes(path.join(lib, 'dist/main.js')), 'dist/main.js is executable');
    assert.ok(executable.includes(path.join(unpacked, 'usr/sbin/db-reg-agent')), 'the command is executable');
  });

  it('documents the licences (DEP-5, every bundled module) and the command (db-reg-agent(8))', () => {
    const copyright = readFileSync(path.join(unpacked, 'usr/share/doc/db-reg-agent/copyright'), 'utf8');
    const paragraphs = copyright.split(/\n\n+/);
    assert.match(paragraphs[0] as string, /^Format: https:\/\/www\.debian\.org\/doc\/packaging-manuals\/copyright-format\/1\.0\/$/m);
    assert.match(paragraphs[1] as string, /^Files: \*\nCopyright: .+\nLicense: GPL-2\+$/);
    const modules = path.join(unpacked, 'usr/lib/db-reg-agent/node_modules');
    const bundled = readdirSync(modules).flatMap((name) => (name.startsWith('@') ? readdirSync(path.join(modules, name)).map((n) => `${name}/${n}`) : [name]));
    const covered = new Set([...copyright.matchAll(/^Files: node_modules\/(.+)\/\*$/gm)].map((m) => m[1]));
    assert.deepEqual(bundled.filter((name) => !covered.has(name)), [], 'every bundled module has a Files paragraph');
    assert.deepEqual([...covered].filter((name) => !bundled.includes(name as string)), [], 'no paragraph for a module not shipped');
    for (const name of new Set([...copyright.matchAll(/^License: (\S+)$/gm)].map((m) => m[1]))) {
      const text = new RegExp(`^License: ${(name as string).replace(/[+.]/g, '\\$&')}\\n `, 'm');
      assert.match(copyright, text, `licence ${name} has its text or a pointer to common-licenses`);
    }
    const manual = gunzipSync(readFileSync(path.join(unpacked, 'usr/share/man/man8/db-reg-agent.8.gz'))).toString();
    assert.match(manual, new RegExp(`^\\.TH DB-REG-AGENT 8 "[^"]+" "db-reg-agent ${VERSION.replace(/\./g, '\\.')}"`, 'm'));
    for (const section of ['OPTIONS', 'CONFIGURATION', 'LOGGING', 'SIGNALS', 'EXIT STATUS', 'FILES']) {
      assert.match(manual, new RegExp(`^\\.SH ${section}$`, 'm'), section);
    }
  });

  describe('installed with dpkg -i', () => {
    let db: TestDatabase | undefined;
    let kam: KamailioHandle | undefined;

    before(async () => {
      const state = await packageState();
      if (state !== 'not-installed') {
        throw new Error(`db-reg-agent is already on this machine (${state}); this test installs and purges it: run 'dpkg --purge db-reg-agent' first`);
      }
      await dpkg('-i', DEB);
    });
    after(async () => {
      if ((await packageState()) !== 'not-installed') await dpkg('--purge', 'db-reg-agent');
      await kam?.stop();
      await db?.drop();
    });

    it('installs the command, a unit systemd accepts, and the configuration readable by the service user only', async () => {
      assert.equal((await run('/usr/sbin/db-reg-agent', ['-v'])).stdout.trim(), `db-reg-agent ${VERSION}`);
      // Every key known, the command and the manual page (Documentation=man:) there.
      const verified = await run('systemd-analyze', ['verify', '/usr/lib/systemd/system/db-reg-agent.service']);
      assert.equal(`${verified.stdout}${verified.stderr}`.trim(), '', 'no unknown key, no error');
      assert.equal(await packageState(), 'installed');
      const { stdout } = await run('stat', ['-c', '%U:%G %a', '/etc/db-reg-agent/db_reg_agent.conf']);
      assert.equal(stdout.trim(), 'root:db-reg-agent 640');
      assert.ok(existsSync(ENABLEMENT), 'postinst enabled the unit');
    });

    it("registers an account: the unit's command with the installed configuration, as the service user", async () => {
      kam = await startKamailio();
      await kam.addSubscriber('alice', 'secret');
      db = await createTestDatabase({ schema: 'readme' });
      await db.query("INSERT INTO subscribers (subscriber_id, user, pass, realm, contact) VALUES (1, 'alice', 'secret', ?, '')", [kam.hostPort('udp')]);
      const [sip, xmlrpc, jsonrpc] = await freePorts(3);
      setKeys('/etc/db-reg-agent/sems.conf', { sip_port: String(sip) });
      setKeys('/etc/db-reg-agent/xmlrpc2di.conf', { xmlrpc_port: String(xmlrpc) });
      setKeys('/etc/db-reg-agent/jsonrpc.conf', { jsonrpc_port: String(jsonrpc) });
      setKeys('/etc/db-reg-agent/db_reg_agent.conf', { mysql_user: 'root', mysql_passwd: '', mysql_db: db.name });

      const unit = readFileSync('/usr/lib/systemd/system/db-reg-agent.service', 'utf8');
      const environment = { ...environmentFile(unit.match(/^Environment=.*$/gm)?.join('\n') ?? ''), ...environmentFile(readFileSync('/etc/default/db-reg-agent', 'utf8')) };
      const [command, ...args] = execStart(unit, environment);
      assert.deepEqual([command, ...args], ['/usr/sbin/db-reg-agent', '-E', '-f', '/etc/db-reg-agent/sems.conf']);
      const uid = Number((await run('id', ['-u', 'db-reg-agent'])).stdout);
      const gid = Number((await run('id', ['-g', 'db-reg-agent'])).stdout);
      // stderr goes to a file that JOURNAL_STREAM names, as systemd names the journal's stream.
      const logDir = mkdtempSync(path.join(tmpdir(), 'dra-deb-log-'));
      const logFile = path.join(logDir, 'journal');
      const fd = openSync(logFile, 'w');
      const { dev, ino } = statSync(logFile, { bigint: true });
      const child = spawn(command as string, args, {
        uid, gid, cwd: '/', stdio: ['ignore', 'ignore', fd], env: { PATH: '/usr/bin:/bin', JOURNAL_STREAM: `${dev}:${ino}` },
      });
      closeSync(fd);
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const log = (): string => readFileSync(logFile, 'utf8');
      try {
        const active = await waitUntil(async () => {
          const rows = await db!.query<RegistrationRow>('SELECT registration_status FROM registrations WHERE subscriber_id = 1');
          return rows[0]?.registration_status === 2 || child.exitCode !== null;
        }, 20_000, 100);
        assert.ok(active && child.exitCode === null, `ACTIVE within 20 s:\n${log()}`);
        assert.equal((await kam.locations({ username: 'alice' })).length, 1, 'the registrar holds the binding');
        child.kill('SIGTERM');
        assert.equal(await exited, 0, log());
        const lines = log().trimEnd().split('\n');
        assert.ok(lines.every((line) => /^<[3467]>(ERROR|WARNING|INFO|DEBUG): /.test(line)), `journal priority on every line:\n${log()}`);
        assert.ok(lines.some((line) => line.startsWith('<6>INFO: ')), log());
        assert.doesNotMatch(log(), /secret/);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
        rmSync(logDir, { recursive: true, force: true });
      }
    });

    it('dpkg --purge leaves nothing of it behind', async () => {
      await dpkg('--purge', 'db-reg-agent');
      assert.equal(await packageState(), 'not-installed');
      for (const left of [...PACKAGE_FOLDERS, '/usr/sbin/db-reg-agent', '/usr/lib/systemd/system/db-reg-agent.service',
        '/etc/default/db-reg-agent', '/usr/share/man/man8/db-reg-agent.8.gz', ENABLEMENT]) {
        assert.ok(!existsSync(left), `${left} is gone`);
      }
    });
  });

  describe('lintian', () => {
    it('finds no errors and, after the package\'s overrides, no warnings', async () => {
      const { stdout } = await lintian;
      const findings = stdout.split('\n').filter((line) => /^[EW]: /.test(line));
      assert.deepEqual(findings, []);
      // It did check the package, with the package's overrides: each one shows up as used.
      const overrides = readFileSync(path.join(unpacked, 'usr/share/lintian/overrides/db-reg-agent'), 'utf8')
        .split('\n').filter((line) => /^db-reg-agent: /.test(line));
      assert.ok(overrides.length > 0);
      for (const override of overrides) assert.ok(stdout.includes(`O: ${override}`), `${override} is used:\n${stdout}`);
    });
  });
});

describe('make install / make uninstall', function () {
  this.timeout(180_000);

  it('install puts the layout under DESTDIR with PREFIX, uninstall takes all of it back', async () => {
    const destdir = mkdtempSync(path.join(tmpdir(), 'dra-install-'));
    try {
      const make = (target: string): Promise<unknown> => run('make', ['--no-print-directory', target, `DESTDIR=${destdir}`, 'PREFIX=/usr/local'],
        { cwd: ROOT, timeout: 150_000, ...BIG_OUTPUT });
      await make('install');
      const wrapper = readFileSync(path.join(destdir, 'usr/local/sbin/db-reg-agent'), 'utf8');
      assert.match(wrapper, /^exec \/usr\/bin\/node \/usr\/local\/lib\/db-reg-agent\/dist\/main\.js "\$@"$/m);
      const unit = readFileSync(path.join(destdir, 'usr/local/lib/systemd/system/db-reg-agent.service'), 'utf8');
      assert.match(unit, /^ExecStart=\/usr\/local\/sbin\/db-reg-agent /m);
      assert.match(unit, /^EnvironmentFile=-\/usr\/local\/etc\/default\/db-reg-agent$/m);
      assert.match(readFileSync(path.join(destdir, 'usr/local/etc/default/db-reg-agent'), 'utf8'), /^DB_REG_AGENT_CONFIG=\/usr\/local\/etc\/db-reg-agent\/sems\.conf$/m);
      for (const file of ['usr/local/etc/db-reg-agent/sems.conf', 'usr/local/lib/db-reg-agent/dist/main.js', 'usr/local/share/man/man8/db-reg-agent.8.gz',
        'usr/local/share/doc/db-reg-agent/copyright']) {
        assert.ok(existsSync(path.join(destdir, file)), file);
      }
      await make('uninstall');
      assert.deepEqual(readdirSync(destdir), []);
    } finally {
      rmSync(destdir, { recursive: true, force: true });
    }
  });
});
