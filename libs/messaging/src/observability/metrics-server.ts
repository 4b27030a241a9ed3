import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';

export interface MetricsServerOptions {
  registry: Registry;
  /** 0 picks a free port (tests run several services in one process). */
  port: number;
  host?: string;
  /** Readiness, e.g. the consumer joined its group; /health/ready answers 503 while false. */
  ready?: () => boolean | Promise<boolean>;
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * The tiny HTTP face of a service process: Prometheus text at /metrics, /health/live while the
 * process runs, /health/ready once it consumes. Kept off Nest: a consumer needs nothing more.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const reply = (status: number, body: string, type = 'application/json') => {
      response.writeHead(status, { 'content-type': type });
      response.end(body);
    };
    if (request.method !== 'GET') return reply(405, '{"status":"method not allowed"}');
    if (path === '/health/live') return reply(200, '{"status":"ok"}');
    if (path === '/health/ready') {
      void Promise.resolve(options.ready?.() ?? true).then(
        (ready) => reply(ready ? 200 : 503, `{"status":"${ready ? 'ok' : 'starting'}"}`),
        () => reply(503, '{"status":"error"}'),
      );
      return;
    }
    if (path === '/metrics') {
      void options.registry.metrics().then(
        (text) => reply(200, text, options.registry.contentType),
        (error: Error) => reply(500, JSON.stringify({ status: 'error', message: error.message })),
      );
      return;
    }
    reply(404, '{"status":"not found"}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
