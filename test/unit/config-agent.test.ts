import assert from 'node:assert/strict';
import { parseAgentConfig } from '../../src/config/agent-config';
import { ConfigError, ConfigFile } from '../../src/config/reader';

const BASE = 'mysql_user=sems\nmysql_passwd=secret\njoined_query="select 1"\n';

function agent(extra: string, warnings: string[] = []) {
  return parseAgentConfig(ConfigFile.parse(BASE + extra, { source: 'db_reg_agent.conf' }), (w) => warnings.push(w));
}

function rejects(extra: string, pattern: RegExp): void {
  assert.throws(() => agent(extra), (e: Error) => {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    assert.match(e.message, /^db_reg_agent\.conf: /);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('db_reg_agent.conf', () => {
  it('applies every default of SPEC §2', () => {
    const c = agent('');
    assert.deepEqual(c.db, { host: 'localhost', port: 3306, socketPath: undefined, user: 'sems', password: 'secret', database: 'sems' });
    assert.equal(c.subscribersQuery, 'select 1');
    assert.equal(c.peeringsQuery, undefined);
    assert.equal(c.registrationsTable, 'registrations');
    assert.equal(c.expires, 7200);
    assert.equal(c.reregisterInterval, 0.5);
    assert.equal(c.minimumReregisterInterval, undefined);
    assert.equal(c.rateLimit, undefined);
    assert.equal(c.deleteRemovedRegistrations, true);
    assert.equal(c.deleteFailedDeregistrations, false);
    assert.equal(c.saveContacts, true);
    assert.equal(c.saveAuthReplies, false);
    assert.equal(c.dbReadContact, false);
    assert.equal(c.contactHostport, '');
    assert.equal(c.usernameWithDomain, false);
    assert.equal(c.outboundProxy, '');
    assert.equal(c.errorRetryInterval, 300);
    assert.equal(c.maxPendingTransactions, 1000);
    assert.equal(c.dbWriteTimeout, 30);
    assert.equal(c.dbStartTimeout, 60);
    assert.deepEqual(c.tls, { caFile: undefined, certFile: undefined, keyFile: undefined, verifyCert: true });
    assert.equal(c.metricsPort, 0);
  });

  it('reads every key when set', () => {
    const c = agent([
      'mysql_server=db.example', 'mysql_port=3307', 'mysql_db=other', 'registrations_table=regs',
      'expires=600', 'reregister_interval=0.6', 'minimum_reregister_interval=0.3',
      'enable_ratelimiting=yes', 'ratelimit_rate=300', 'ratelimit_per=2', 'ratelimit_slowstart=yes',
      'delete_removed_registrations=yes', 'delete_failed_deregistrations=yes', 'save_contacts=no',
      'save_auth_replies=yes', 'db_read_contact=yes', 'contact_hostport=10.0.0.1:5080',
      'username_with_domain=yes', 'outbound_proxy=sip:10.0.0.2:5070', 'error_retry_interval=60',
      'joined_query_peerings="select 2"', 'max_pending_transactions=50', 'tls_ca_file=/ca.pem',
      'tls_verify_cert=no', 'metrics_port=9100', 'db_write_timeout=5', 'db_start_timeout=0',
    ].join('\n'));
    assert.equal(c.db.host, 'db.example');
    assert.equal(c.db.port, 3307);
    assert.equal(c.db.database, 'other');
    assert.equal(c.registrationsTable, 'regs');
    assert.equal(c.expires, 600);
    assert.equal(c.reregisterInterval, 0.6);
    assert.equal(c.minimumReregisterInterval, 0.3);
    assert.deepEqual(c.rateLimit, { rate: 300, perSeconds: 2, slowstart: true });
    assert.equal(c.deleteFailedDeregistrations, true);
    assert.equal(c.saveContacts, false);
    assert.equal(c.saveAuthReplies, true);
    assert.equal(c.dbReadContact, true);
    assert.equal(c.contactHostport, '10.0.0.1:5080');
    assert.equal(c.usernameWithDomain, true);
    assert.equal(c.outboundProxy, 'sip:10.0.0.2:5070');
    assert.equal(c.errorRetryInterval, 60);
    assert.equal(c.peeringsQuery, 'select 2');
    assert.equal(c.maxPendingTransactions, 50);
    assert.equal(c.dbWriteTimeout, 5);
    assert.equal(c.dbStartTimeout, 0, '0: wait as long as it takes');
    assert.equal(c.tls.caFile, '/ca.pem');
    assert.equal(c.tls.verifyCert, false);
    assert.equal(c.metricsPort, 9100);
  });

  it('takes a socket path in mysql_server', () => {
    const c = agent('mysql_server=/run/mysqld/mysqld.sock');
    assert.equal(c.db.socketPath, '/run/mysqld/mysqld.sock');
  });

  it('takes host:port and [IPv6]:port in mysql_server, as mysql++ does', () => {
    const at = (server: string, extra = '') => {
      const { host, port, socketPath } = agent(`mysql_server=${server}\n${extra}`).db;
      return { host, port, socketPath };
    };
    assert.deepEqual(at('db.example:3307'), { host: 'db.example', port: 3307, socketPath: undefined });
    assert.deepEqual(at('192.0.2.5:3310'), { host: '192.0.2.5', port: 3310, socketPath: undefined });
    assert.deepEqual(at('[::1]:3307'), { host: '::1', port: 3307, socketPath: undefined });
    assert.deepEqual(at('[2001:db8::5]'), { host: '2001:db8::5', port: 3306, socketPath: undefined });
    assert.deepEqual(at('::1', 'mysql_port=3309'), { host: '::1', port: 3309, socketPath: undefined });
    assert.deepEqual(at('db.example', 'mysql_port=3309'), { host: 'db.example', port: 3309, socketPath: undefined });
  });

  it('lets the port in mysql_server win over mysql_port, with a warning', () => {
    const warnings: string[] = [];
    assert.equal(agent('mysql_server=db.example:3307\nmysql_port=3308', warnings).db.port, 3307);
    assert.deepEqual(warnings, ["db_reg_agent.conf: 'mysql_server' names port 3307; 'mysql_port' (3308) is ignored"]);
  });

  it('accepts joined_query_subscribers as the alias of joined_query', () => {
    const c = parseAgentConfig(ConfigFile.parse('mysql_user=u\nmysql_passwd=p\njoined_query_subscribers="select 3"\n'));
    assert.equal(c.subscribersQuery, 'select 3');
  });

  it('accepts a peerings query alone', () => {
    const c = parseAgentConfig(ConfigFile.parse('mysql_user=u\nmysql_passwd=p\njoined_query_peerings="select 4"\n'));
    assert.equal(c.subscribersQuery, undefined);
    assert.equal(c.peeringsQuery, 'select 4');
  });

  it('accepts the README name retry_interval', () => {
    assert.equal(agent('retry_interval=42').errorRetryInterval, 42);
    assert.equal(agent('retry_interval=42\nerror_retry_interval=43').errorRetryInterval, 43);
  });

  it('warns (does not fail) for an empty password and a disabled retry', () => {
    const warnings: string[] = [];
    const c = parseAgentConfig(
      ConfigFile.parse('mysql_user=u\njoined_query="q"\nerror_retry_interval=0\n', { source: 'x' }),
      (w) => warnings.push(w),
    );
    assert.equal(c.db.password, '');
    assert.equal(c.errorRetryInterval, 0);
    assert.ok(warnings.some((w) => /mysql_passwd/.test(w)));
    assert.ok(warnings.some((w) => /error_retry_interval.*disabled/.test(w)));
  });

  it('ignores delete_failed_deregistrations without delete_removed_registrations, with a warning', () => {
    const warnings: string[] = [];
    const c = agent('delete_removed_registrations=no\ndelete_failed_deregistrations=yes', warnings);
    assert.equal(c.deleteFailedDeregistrations, false);
    assert.ok(warnings.some((w) => /delete_failed_deregistrations/.test(w)));
  });

  describe('validation errors name the key and the allowed range', () => {
    it('mysql_user missing', () => {
      assert.throws(() => parseAgentConfig(ConfigFile.parse('joined_query="q"\n', { source: 'db_reg_agent.conf' })), /'mysql_user' is missing/);
    });
    it('no query at all', () => {
      assert.throws(
        () => parseAgentConfig(ConfigFile.parse('mysql_user=u\nmysql_passwd=p\n', { source: 'db_reg_agent.conf' })),
        /'joined_query'.*must be set/,
      );
    });
    for (const v of ['0', '-0.5', '1.5', '2']) {
      it(`reregister_interval=${v}`, () => rejects(`reregister_interval=${v}`, /'reregister_interval' must be in \(0, 1\]/));
    }
    it('reregister_interval not a number', () => rejects('reregister_interval=half', /'reregister_interval' must be a number/));
    for (const v of ['0', '1.2']) {
      it(`minimum_reregister_interval=${v}`, () => rejects(`minimum_reregister_interval=${v}`, /'minimum_reregister_interval' must be in/));
    }
    it('minimum_reregister_interval not below reregister_interval', () => {
      rejects('reregister_interval=0.5\nminimum_reregister_interval=0.5', /must be smaller than 'reregister_interval'/);
    });
    it('rate limiting without rate/per', () => rejects('enable_ratelimiting=yes\nratelimit_rate=5', /'ratelimit_rate' and 'ratelimit_per' must be set/));
    it('rate limiting with rate 0', () => rejects('enable_ratelimiting=yes\nratelimit_rate=0\nratelimit_per=1', /'ratelimit_rate' must be > 0/));
    it('rate limiting with per 0', () => rejects('enable_ratelimiting=yes\nratelimit_rate=3\nratelimit_per=0', /'ratelimit_per' must be > 0/));
    it('rate keys are not checked while rate limiting is off', () => {
      assert.equal(agent('ratelimit_rate=0').rateLimit, undefined);
    });
    it('expires not an integer', () => rejects('expires=1h', /'expires' must be a non-negative integer/));
    it('expires 0', () => rejects('expires=0', /'expires' must be at least 1/));
    it('error_retry_interval not an integer', () => rejects('error_retry_interval=5m', /'error_retry_interval'/));
    it('mysql_port out of range', () => rejects('mysql_port=70000', /'mysql_port' must be 1\.\.65535/));
    for (const server of ['h:0', 'h:70000', 'h:mysql', 'a:1:2', '[db.example]:3306', '[::1', ':3306']) {
      it(`mysql_server=${server}`, () => rejects(`mysql_server=${server}`, /'mysql_server'/));
    }
    it('registrations_table that is not an identifier', () => {
      rejects('registrations_table="regs; drop table x"', /'registrations_table' must be a table name/);
    });
    it('max_pending_transactions 0', () => rejects('max_pending_transactions=0', /'max_pending_transactions'/));
    it('db_write_timeout 0', () => rejects('db_write_timeout=0', /'db_write_timeout' must be at least 1 second/));
  });
});
