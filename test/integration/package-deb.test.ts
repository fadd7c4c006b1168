/**
 * `make deb`: the Debian package holds what the systemd unit starts, its configuration
 * as conffiles and only production dependencies, and the daemon runs from the
 * unpacked package with the packaged configuration.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, repositoryRoot, type TestDatabase } from '../support/mariadb';
import { freePorts } from '../support/ports';

const run = promisify(execFile);
const ROOT = repositoryRoot();
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const DEB = path.join(ROOT, 'build', 'deb', `db-reg-agent_${VERSION}_all.deb`);

/** Sets `key=value` lines of a SEMS-style file (replacing the key's line, or appending it). */
function setKeys(file: string, values: Record<string, string>): void {
  let text = readFileSync(file, 'utf8');
  for (const [key, value] of Object.entries(values)) {
    const line = new RegExp(`^${key}=.*$`, 'm');
    text = line.test(text) ? text.replace(line, `${key}=${value}`) : `${text}\n${key}=${value}\n`;
  }
  writeFileSync(file, text);
}

describe('the Debian package (make deb)', function () {
  this.timeout(240_000);
  let unpacked: string;
  let db: TestDatabase | undefined;

  before(async () => {
    await run('make', ['deb'], { cwd: ROOT, timeout: 200_000, maxBuffer: 16 * 1024 * 1024 });
    unpacked = mkdtempSync(path.join(tmpdir(), 'dra-deb-'));
    await run('dpkg-deb', ['-x', DEB, unpacked]);
  });
  after(async () => {
    rmSync(unpacked, { recursive: true, force: true });
    await db?.drop();
  });

  it('declares the package, its Node.js dependency and the configuration as conffiles', async () => {
    const field = async (name: string): Promise<string> => (await run('dpkg-deb', ['-f', DEB, name])).stdout.trim();
    assert.equal(await field('Package'), 'db-reg-agent');
    assert.equal(await field('Version'), VERSION);
    assert.equal(await field('Architecture'), 'all');
    assert.match(await field('Depends'), /nodejs \(>= 20\.12\)/);
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
      // The unit runs as this user: postinst must create it.
      assert.match(readFileSync(path.join(control, 'postinst'), 'utf8'), /adduser --system --group [^\n]*db-reg-agent/);
    } finally {
      rmSync(control, { recursive: true, force: true });
    }
  });

  it('ships a unit whose command is in the package and that systemd accepts', async () => {
    const unitFile = path.join(unpacked, 'lib/systemd/system/db-reg-agent.service');
    const unit = readFileSync(unitFile, 'utf8');
    assert.match(unit, /^ExecStart=\/usr\/sbin\/db-reg-agent -E -f \$\{DB_REG_AGENT_CONFIG\}/m);
    assert.match(unit, /^User=db-reg-agent$/m);
    assert.match(unit, /^EnvironmentFile=-\/etc\/default\/db-reg-agent$/m);
    const wrapper = path.join(unpacked, 'usr/sbin/db-reg-agent');
    assert.ok((statSync(wrapper).mode & 0o111) !== 0, 'the command is executable');
    assert.match(readFileSync(wrapper, 'utf8'), /^exec \/usr\/bin\/node \/usr\/lib\/db-reg-agent\/dist\/main\.js "\$@"$/m);
    statSync(path.join(unpacked, 'usr/lib/db-reg-agent/dist/main.js'));
    assert.match(readFileSync(path.join(unpacked, 'etc/default/db-reg-agent'), 'utf8'), /^DB_REG_AGENT_CONFIG=\/etc\/db-reg-agent\/sems\.conf$/m);
    // systemd-analyze checks every key and that the command exists: point it at the unpacked one.
    const checked = path.join(unpacked, 'db-reg-agent.service');
    writeFileSync(checked, unit.replace('ExecStart=/usr/sbin/db-reg-agent', `ExecStart=${wrapper}`));
    const { stdout, stderr } = await run('systemd-analyze', ['verify', checked]);
    assert.equal(`${stdout}${stderr}`.trim(), '', 'no unknown key, no error');
  });

  it('holds production dependencies only', () => {
    const modules = path.join(unpacked, 'usr/lib/db-reg-agent/node_modules');
    const names = readdirSync(modules);
    for (const dependency of ['drachtio-srf', 'mysql2', 'xmlrpc', 'luxon']) assert.ok(names.includes(dependency), dependency);
    for (const devOnly of ['typescript', 'mocha', 'eslint', 'ini']) assert.ok(!names.includes(devOnly), devOnly);
  });

  it('runs from the unpacked package with the packaged configuration', async () => {
    db = await createTestDatabase({ schema: 'readme' });
    await db.query("INSERT INTO subscribers (subscriber_id, user, pass, realm, contact) VALUES (1, 'alice', 'secret', '127.0.0.1:9', '')");
    const conf = mkdtempSync(path.join(tmpdir(), 'dra-deb-etc-'));
    try {
      const etc = path.join(unpacked, 'etc/db-reg-agent');
      for (const file of readdirSync(etc)) writeFileSync(path.join(conf, file), readFileSync(path.join(etc, file)));
      const [sip, xmlrpc, jsonrpc] = await freePorts(3);
      setKeys(path.join(conf, 'sems.conf'), { sip_port: String(sip) });
      setKeys(path.join(conf, 'xmlrpc2di.conf'), { xmlrpc_port: String(xmlrpc) });
      setKeys(path.join(conf, 'jsonrpc.conf'), { jsonrpc_port: String(jsonrpc) });
      setKeys(path.join(conf, 'db_reg_agent.conf'), { mysql_user: 'root', mysql_passwd: '', mysql_db: db.name });

      const main = path.join(unpacked, 'usr/lib/db-reg-agent/dist/main.js');
      const child = spawn(process.execPath, [main, '-E', '-D', '2', '-f', path.join(conf, 'sems.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
      let log = '';
      child.stderr.setEncoding('utf8');
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not running after 20 s:\n${log}`)), 20_000);
        child.stderr.on('data', (chunk: string) => {
          log += chunk;
          if (/\brunning\b/.test(log)) { clearTimeout(timer); resolve(); }
        });
        void exited.then((code) => { clearTimeout(timer); reject(new Error(`exited ${code}:\n${log}`)); });
      });
      assert.match(log, /loaded 1 registration/);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, log);
      assert.doesNotMatch(log, /secret/);
    } finally {
      rmSync(conf, { recursive: true, force: true });
    }
  });
});
