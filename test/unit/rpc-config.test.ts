import { strict as assert } from 'node:assert';
import { ConfigFile } from '../../src/config/reader';
import { UNSET_SERVER_TIMEOUT_MS, parseJsonRpcConfig, parseXmlRpcConfig } from '../../src/config/rpc-config';

describe('rpc server_timeout configuration', () => {
  it('reads milliseconds, default 30 s for both (SEMS uses the key only for its outgoing calls)', () => {
    assert.equal(parseXmlRpcConfig(ConfigFile.parse('')).serverTimeoutMs, 30000);
    assert.equal(parseJsonRpcConfig(ConfigFile.parse('')).serverTimeoutMs, 30000);
    assert.equal(parseXmlRpcConfig(ConfigFile.parse('server_timeout=1500')).serverTimeoutMs, 1500);
  });

  it("turns SEMS's 0 (no timeout) into a generous deadline instead of none", () => {
    assert.equal(parseXmlRpcConfig(ConfigFile.parse('server_timeout=0')).serverTimeoutMs, UNSET_SERVER_TIMEOUT_MS);
    assert.equal(parseJsonRpcConfig(ConfigFile.parse('server_timeout=0')).serverTimeoutMs, UNSET_SERVER_TIMEOUT_MS);
  });
});
