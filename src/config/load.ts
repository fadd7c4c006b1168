/**
 * Loads the whole configuration the way SEMS does: sems.conf first, then each
 * plugin's `<name>.conf` from plugin_config_path.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigFile, type ParseOptions } from './reader';
import { parseSemsConfig, type SemsConfig } from './sems-config';
import { parseAgentConfig, type AgentConfig } from './agent-config';
import { parseJsonRpcConfig, parseXmlRpcConfig, type JsonRpcConfig, type XmlRpcConfig } from './rpc-config';

export interface DaemonConfig {
  sems: SemsConfig;
  agent: AgentConfig;
  /** undefined when the plugin is not loaded or run_server=no. */
  xmlrpc?: XmlRpcConfig;
  jsonrpc?: JsonRpcConfig;
}

export function loadConfig(semsConfPath: string, warn: (msg: string) => void): DaemonConfig {
  const onWarning: ParseOptions['onWarning'] = (w) => warn(`${w.source}:${w.line}: ${w.message}`);
  const semsFile = ConfigFile.load(semsConfPath, { onWarning });
  const sems = parseSemsConfig(semsFile, warn);
  const pluginFile = (name: string, required: boolean): ConfigFile => {
    const path = join(sems.pluginConfigPath, `${name}.conf`);
    if (!required && !existsSync(path)) return ConfigFile.parse('', { source: path });
    return ConfigFile.load(path, { onWarning, includeBase: sems.pluginConfigPath });
  };

  const agent = parseAgentConfig(pluginFile('db_reg_agent', true), warn);
  const xmlrpc = sems.plugins.has('xmlrpc2di') ? parseXmlRpcConfig(pluginFile('xmlrpc2di', false)) : undefined;
  const jsonrpc = sems.plugins.has('jsonrpc') ? parseJsonRpcConfig(pluginFile('jsonrpc', false)) : undefined;
  return { sems, agent, xmlrpc: xmlrpc?.runServer ? xmlrpc : undefined, jsonrpc };
}
