/**
 * Prometheus scrape endpoint (extension `metrics_port`): GET /metrics on node:http,
 * 404 for any other path. Like the RPC servers it reaches the engine only through
 * DI (`db_reg_agent.getStatistics`); the status writer's figures are handed in.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DiRegistry } from '../core/di';
import { logger } from '../process/log';
import { listen } from './listener';
import { DaemonMetrics, readEngineFigures, type WriterFigures } from './metrics';

const log = logger('metrics');

export interface MetricsServerConfig {
  port: number;
  /** Listen address; '' = all addresses. */
  listen: string;
}

/** What to answer for a request line, before looking at anything else. */
export function metricsRoute(method: string | undefined, url: string | undefined): 'scrape' | 404 | 405 {
  const path = (url ?? '').split('?', 1)[0];
  if (path !== '/metrics') return 404;
  return method === 'GET' || method === 'HEAD' ? 'scrape' : 405;
}

export class MetricsServer {
  private readonly http: Server;
  private readonly metrics = new DaemonMetrics();

  constructor(
    private readonly config: MetricsServerConfig,
    private readonly registry: DiRegistry,
    private readonly writerStats: () => WriterFigures | undefined = () => undefined,
  ) {
    this.http = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        log.error(`scrape failed: ${String(err)}`);
        send(res, 500, 'text/plain', 'scrape failed\n');
      });
    });
  }

  async start(): Promise<void> {
    const { address, port } = await listen(this.http, this.config.port, this.config.listen, log, 'metrics_port');
    log.info(`metrics on http://${address.includes(':') ? `[${address}]` : address}:${port}/metrics`);
  }

  address(): AddressInfo {
    return this.http.address() as AddressInfo;
  }

  /** Scrapes take milliseconds: kept-alive connections are simply closed. */
  stop(): Promise<void> {
    this.metrics.close();
    return new Promise((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const route = metricsRoute(req.method, req.url);
    if (route === 404) return send(res, 404, 'text/plain', 'not found; try /metrics\n');
    if (route === 405) return send(res, 405, 'text/plain', 'method not allowed\n', { Allow: 'GET, HEAD' });
    const engine = this.registry.get('db_reg_agent');
    if (!engine) return send(res, 503, 'text/plain', 'db_reg_agent is not loaded\n');
    const statistics = await engine.invoke('getStatistics', []);
    const text = await this.metrics.render({ engine: readEngineFigures(statistics), writer: this.writerStats() });
    send(res, 200, this.metrics.contentType, text);
  }
}

function send(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...extra });
  res.end(body);
}
