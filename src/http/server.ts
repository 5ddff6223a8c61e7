import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { toError } from '../errors/to-error.js';
import { errorText } from '../secrets.js';
import type { Logger } from '../logger.js';
import type { Readiness } from './health.js';

export interface HttpEndpointOptions {
  port: number;
  host: string;
  logger: Logger;
  readiness: () => Promise<Readiness>;
  metrics: { text(): Promise<string>; contentType: string };
}

export interface HttpEndpoint {
  /** the port it listens on (the one asked for, or the OS's pick for 0) */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The worker's operational endpoint (node:http, no framework):
 *   GET /healthz  200 while the process runs (liveness)
 *   GET /readyz   200 when consuming with Redis and MySQL reachable and the outbox keeping up,
 *                 503 otherwise; the body says which check failed (JSON)
 *   GET /metrics  Prometheus text exposition
 */
export async function startHttpEndpoint(o: HttpEndpointOptions): Promise<HttpEndpoint> {
  const send = (res: ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  const json = (res: ServerResponse, status: number, body: unknown) =>
    send(res, status, 'application/json', `${JSON.stringify(body)}\n`);

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return json(res, 405, { error: 'method not allowed' });
    }
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      const r = await o.readiness();
      return json(res, r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'unready', ...r });
    }
    if (path === '/metrics') return send(res, 200, o.metrics.contentType, await o.metrics.text());
    return json(res, 404, { error: 'not found', paths: ['/healthz', '/readyz', '/metrics'] });
  };

  const server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      o.logger.error({ err: toError(e), url: req.url }, 'http endpoint failed');
      if (!res.headersSent) json(res, 500, { error: errorText(e) });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = address && typeof address === 'object' ? address.port : o.port;
  server.on('error', (err) => o.logger.warn({ err: err.message }, 'http endpoint error'));
  o.logger.info({ port, host: o.host }, 'http endpoint listening: /healthz /readyz /metrics');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
