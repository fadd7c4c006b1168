import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load';
import { ConfigFile } from '../../src/config/reader';
import { parseJsonRpcConfig, parseXmlRpcConfig } from '../../src/config/rpc-config';
import { DEFAULT_SIGNATURE, parseSemsConfig } from '../../src/config/sems-config';

const sems = (text: string, warnings: string[] = []) =>
  parseSemsConfig(ConfigFile.parse(text, { source: '/etc/sems/sems.conf' }), (w) => warnings.push(w));

describe('sems.conf', () => {
  it('loads every known plugin when load_plugins is absent or empty', () => {
    assert.deepEqual([...sems('').plugins].sort(), ['db_reg_agent', 'jsonrpc', 'uac_auth', 'xmlrpc2di']);
    assert.deepEqual([...sems('load_plugins=').plugins].sort(), ['db_reg_agent', 'jsonrpc', 'uac_auth', 'xmlrpc2di']);
  });

  it('ignores plugins it does not implement', () => {
    const c = sems('load_plugins=wav;ilbc;db_reg_agent;uac_auth;xmlrpc2di.so');
    assert.deepEqual([...c.plugins].sort(), ['db_reg_agent', 'uac_auth', 'xmlrpc2di']);
    assert.deepEqual(c.ignoredPlugins, ['wav', 'ilbc']);
  });

  it('applies exclude_plugins only when load_plugins is empty, as SEMS does', () => {
    // SEMS's sample sems.conf lists db_reg_agent in exclude_plugins, which must not matter here.
    const listed = sems('load_plugins=wav;uac_auth;db_reg_agent;xmlrpc2di\nexclude_plugins=precoded_announce;py_sems;db_reg_agent');
    assert.deepEqual([...listed.plugins].sort(), ['db_reg_agent', 'uac_auth', 'xmlrpc2di']);
    assert.deepEqual([...sems('exclude_plugins=xmlrpc2di;jsonrpc.so').plugins].sort(), ['db_reg_agent', 'uac_auth']);
    assert.deepEqual([...sems('load_plugins=\nexclude_plugins=uac_auth').plugins].sort(), ['db_reg_agent', 'jsonrpc', 'xmlrpc2di']);
  });

  it('turns digest authentication off when uac_auth is not loaded', () => {
    assert.equal(sems('load_plugins=db_reg_agent').plugins.has('uac_auth'), false);
  });

  it('refuses a plugin set without db_reg_agent', () => {
    assert.throws(() => sems('load_plugins=wav;uac_auth'), /leave out db_reg_agent/);
    assert.throws(() => sems('exclude_plugins=db_reg_agent'), /leave out db_reg_agent/);
  });

  it('resolves a relative plugin_config_path against the folder of sems.conf', () => {
    assert.equal(sems('plugin_config_path=etc/').pluginConfigPath, '/etc/sems/etc');
    assert.equal(sems('plugin_config_path=/opt/sems/etc/').pluginConfigPath, '/opt/sems/etc');
    assert.equal(sems('').pluginConfigPath, '/etc/sems/etc');
  });

  it('builds the default interface from sip_ip, sip_port and public_ip', () => {
    assert.deepEqual(sems('sip_ip=127.0.0.2\nsip_port=5080').interfaces, [
      { name: 'default', ip: '127.0.0.2', port: 5080, advertisedIp: '127.0.0.2', portKey: 'sip_port' },
    ]);
    assert.equal(sems('sip_ip=127.0.0.2\npublic_ip=192.0.2.7').interfaces[0]?.advertisedIp, '192.0.2.7');
    assert.equal(sems('sip_ip=127.0.0.2').interfaces[0]?.port, 5060);
    assert.equal(sems('sip_ip=[::1]').interfaces[0]?.ip, '::1');
  });

  it('accepts a network device name in sip_ip', () => {
    assert.equal(sems('sip_ip=lo').interfaces[0]?.ip, '127.0.0.1');
  });

  it('reads the multi-interface form, first interface first', () => {
    const c = sems('interfaces=intern,extern\nsip_ip_intern=127.0.0.3\nsip_port_intern=5062\nsip_ip_extern=127.0.0.4\npublic_ip_extern=198.51.100.1');
    assert.deepEqual(c.interfaces.map((i) => [i.name, i.ip, i.port, i.advertisedIp, i.portKey]), [
      ['intern', '127.0.0.3', 5062, '127.0.0.3', 'sip_port_intern'],
      ['extern', '127.0.0.4', 5060, '198.51.100.1', 'sip_port_extern'],
    ]);
  });

  it('names the key of a bad address or port', () => {
    assert.throws(() => sems('sip_ip=no-such-device0'), /'sip_ip' is neither an IP address nor a network device/);
    assert.throws(() => sems('sip_ip=127.0.0.1\nsip_port=65536'), /'sip_port' must be 1\.\.65535/);
    assert.throws(() => sems('interfaces=a\nsip_ip_a=127.0.0.1\nsip_port_a=99999'), /'sip_port_a'/);
  });

  it('takes sip_port=0 as 5060, as SEMS does', () => {
    assert.equal(sems('sip_ip=127.0.0.2\nsip_port=0').interfaces[0]?.port, 5060);
    assert.equal(sems('interfaces=a\nsip_ip_a=127.0.0.2\nsip_port_a=0').interfaces[0]?.port, 5060);
  });

  it('ignores sip_port and public_ip without sip_ip, as SEMS does, and says so', () => {
    const warnings: string[] = [];
    const [iface, ...more] = sems('sip_port=5070\npublic_ip=192.0.2.9', warnings).interfaces;
    assert.equal(more.length, 0);
    assert.deepEqual([iface?.ip, iface?.port], ['0.0.0.0', 5060]);
    assert.notEqual(iface?.advertisedIp, '192.0.2.9');
    assert.deepEqual(warnings, ["/etc/sems/sems.conf: 'sip_port' and 'public_ip' have no effect without 'sip_ip' (as in SEMS): SIP uses port 5060 on all addresses"]);
    const quiet: string[] = [];
    sems('sip_ip=127.0.0.2\nsip_port=5070', quiet);
    assert.deepEqual(quiet, []);
  });

  it('gives a listed interface without sip_ip_<if> no SIP socket (media-only, as in SEMS)', () => {
    const c = sems('interfaces=media,sip\nmedia_ip_media=127.0.0.5\nsip_ip_sip=127.0.0.6\nsip_port_sip=5064');
    assert.deepEqual(c.interfaces.map((i) => [i.name, i.ip, i.port]), [['sip', '127.0.0.6', 5064]]);
    assert.throws(() => sems('interfaces=ghost'), /'interfaces' lists 'ghost', but neither 'sip_ip_ghost' nor 'media_ip_ghost' is set/);
    const warnings: string[] = [];
    const media = sems('interfaces=media\nmedia_ip_media=127.0.0.5\nsip_ip=127.0.0.7', warnings);
    assert.deepEqual(media.interfaces.map((i) => [i.name, i.ip, i.port]), [['default', '0.0.0.0', 5060]]);
    assert.match(warnings.join('\n'), /no interface in 'interfaces' has a sip_ip_<name>/);
  });

  it('reads logging keys with SEMS defaults and checks them', () => {
    const d = sems('');
    assert.equal(d.logLevel, 2);
    assert.equal(d.logToStderr, false);
    assert.equal(d.fork, true);
    assert.equal(d.syslogFacility, 'DAEMON');
    const c = sems('loglevel=3\nstderr=yes\nfork=no\nsyslog_facility=LOCAL0');
    assert.deepEqual([c.logLevel, c.logToStderr, c.fork, c.syslogFacility], [3, true, false, 'LOCAL0']);
    assert.throws(() => sems('loglevel=4'), /'loglevel' must be 0\.\.3/);
  });

  it('keeps DAEMON for an unknown syslog_facility, with a warning, as SEMS does', () => {
    const warnings: string[] = [];
    assert.equal(sems('syslog_facility=LOCAL9', warnings).syslogFacility, 'DAEMON');
    assert.match(warnings.join('\n'), /unknown 'syslog_facility' 'LOCAL9' \(known: .*local7, any case\); using DAEMON/);
    assert.equal(sems('syslog_facility=local3').syslogFacility, 'local3');
  });

  it('takes level names in loglevel, as AmConfig::setLogLevel does', () => {
    assert.deepEqual(['ERR', 'warning', 'Info', 'DEBUG'].map((l) => sems(`loglevel=${l}`).logLevel), [0, 1, 2, 3]);
    assert.throws(() => sems('loglevel=verbose'), /'loglevel' must be 0\.\.3 or error\|.*, got 'verbose'/);
  });

  it('reads stderr and fork as yes/no in any case and refuses anything else, like SEMS', () => {
    const c = sems('stderr=YES\nfork=No');
    assert.deepEqual([c.logToStderr, c.fork], [true, false]);
    assert.throws(() => sems('stderr=1'), /'stderr' must be yes or no, got '1'/);
    assert.throws(() => sems('fork=true'), /'fork' must be yes or no, got 'true'/);
  });

  it('takes daemon as the alias of fork (the alias wins) and checks both', () => {
    assert.equal(sems('daemon=no').fork, false);
    assert.equal(sems('fork=no\ndaemon=yes').fork, true);
    assert.throws(() => sems('fork=maybe\ndaemon=yes'), /'fork' must be yes or no/);
    assert.throws(() => sems('daemon=off'), /'daemon' must be yes or no/);
  });

  it('reads daemon_uid and daemon_gid; empty means unset', () => {
    const c = sems('daemon_uid=sems\ndaemon_gid=1001');
    assert.deepEqual([c.daemonUser, c.daemonGroup], ['sems', '1001']);
    assert.deepEqual([sems('daemon_uid=').daemonUser, sems('').daemonGroup], [undefined, undefined]);
  });

  it('picks the User-Agent like SEMS: use_default_signature wins over signature', () => {
    assert.equal(sems('').signature, '');
    assert.equal(sems('signature="My UA 1.0"').signature, 'My UA 1.0');
    assert.equal(sems('signature="My UA"\nuse_default_signature=yes').signature, DEFAULT_SIGNATURE);
  });

  it('reads outbound_proxy and force_outbound_proxy', () => {
    const c = sems('outbound_proxy=sip:127.0.0.9:5070\nforce_outbound_proxy=yes');
    assert.equal(c.outboundProxy, 'sip:127.0.0.9:5070');
    assert.equal(c.forceOutboundProxy, true);
  });
});

describe('xmlrpc2di.conf and jsonrpc.conf', () => {
  it('apply the defaults of SPEC §2', () => {
    const x = parseXmlRpcConfig(ConfigFile.parse(''));
    assert.equal(x.port, 8090);
    assert.equal(x.listen, '');
    assert.equal(x.runServer, true);
    assert.equal(x.exportDi, true);
    assert.deepEqual(x.directExport, []);
    const j = parseJsonRpcConfig(ConfigFile.parse(''));
    assert.equal(j.port, 7080);
    assert.equal(j.listen, '127.0.0.1');
  });

  it('read every key', () => {
    const x = parseXmlRpcConfig(ConfigFile.parse(
      'xmlrpc_port=9000\nserver_ip=127.0.0.1\nrun_server=no\nexport_di=no\ndirect_export=db_reg_agent;other\n' +
      'multithreaded=yes\nthreads=4\nserver_timeout=800\ndebug_server_params=yes\ndebug_server_result=yes\nallowed_clients=127.0.0.0/8;::1',
    ));
    assert.equal(x.port, 9000);
    assert.equal(x.listen, '127.0.0.1');
    assert.equal(x.runServer, false);
    assert.equal(x.exportDi, false);
    assert.deepEqual(x.directExport, ['db_reg_agent', 'other']);
    assert.equal(x.serverTimeoutMs, 800);
    assert.equal(x.debugServerParams, true);
    assert.equal(x.debugServerResult, true);
    assert.deepEqual(x.allowedClients, ['127.0.0.0/8', '::1']);
    const j = parseJsonRpcConfig(ConfigFile.parse('jsonrpc_port=7081\nserver_threads=8\njsonrpc_listen=::1'));
    assert.equal(j.port, 7081);
    assert.equal(j.listen, '::1');
  });

  it('take a network device name in server_ip, as fixIface2IP does (its first IPv4 address)', () => {
    assert.equal(parseXmlRpcConfig(ConfigFile.parse('server_ip=lo')).listen, '127.0.0.1');
    assert.equal(parseXmlRpcConfig(ConfigFile.parse('server_ip=[::1]')).listen, '::1');
    assert.equal(parseJsonRpcConfig(ConfigFile.parse('jsonrpc_listen=lo')).listen, '127.0.0.1');
  });

  it('name the key of a bad value', () => {
    assert.throws(() => parseXmlRpcConfig(ConfigFile.parse('xmlrpc_port=0')), /'xmlrpc_port' must be 1\.\.65535/);
    assert.throws(() => parseXmlRpcConfig(ConfigFile.parse('server_ip=localhostx')), /'server_ip' must be an IP address or a network device, got 'localhostx'/);
    assert.throws(() => parseXmlRpcConfig(ConfigFile.parse('allowed_clients=10.0.0.0/40')), /'allowed_clients' entry '10\.0\.0\.0\/40'/);
    assert.throws(() => parseJsonRpcConfig(ConfigFile.parse('jsonrpc_port=abc')), /'jsonrpc_port' must be a non-negative integer/);
  });
});

describe('loadConfig', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cfgload-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads sems.conf and the plugin files from plugin_config_path', () => {
    writeFileSync(join(dir, 'sems.conf'), 'plugin_config_path=.\nload_plugins=db_reg_agent;xmlrpc2di\n');
    writeFileSync(join(dir, 'db_reg_agent.conf'), 'mysql_user=u\nmysql_passwd=p\njoined_query="select 1"\n');
    writeFileSync(join(dir, 'xmlrpc2di.conf'), 'xmlrpc_port=8091\n');
    const c = loadConfig(join(dir, 'sems.conf'), () => undefined);
    assert.equal(c.agent.subscribersQuery, 'select 1');
    assert.equal(c.xmlrpc?.port, 8091);
    assert.equal(c.jsonrpc, undefined);
  });

  it('uses defaults when an RPC plugin has no config file, but requires db_reg_agent.conf', () => {
    writeFileSync(join(dir, 'sems.conf'), 'plugin_config_path=.\n');
    assert.throws(() => loadConfig(join(dir, 'sems.conf'), () => undefined), /db_reg_agent\.conf.*ENOENT/);
    writeFileSync(join(dir, 'db_reg_agent.conf'), 'mysql_user=u\nmysql_passwd=p\njoined_query="select 1"\n');
    const c = loadConfig(join(dir, 'sems.conf'), () => undefined);
    assert.equal(c.xmlrpc?.port, 8090);
    assert.equal(c.jsonrpc?.port, 7080);
  });

  it('leaves the XML-RPC server out with run_server=no', () => {
    writeFileSync(join(dir, 'sems.conf'), 'plugin_config_path=.\n');
    writeFileSync(join(dir, 'db_reg_agent.conf'), 'mysql_user=u\nmysql_passwd=p\njoined_query="select 1"\n');
    writeFileSync(join(dir, 'xmlrpc2di.conf'), 'run_server=no\n');
    assert.equal(loadConfig(join(dir, 'sems.conf'), () => undefined).xmlrpc, undefined);
  });
});
