/**
 * The daemon's HTTP listener (default 127.0.0.1:9380): GET /metrics (Prometheus text),
 * /status (JSON, read by `lvsd status`), /healthz (200 "ok" while reconcile passes
 * complete, 503 with the reason otherwise). Read-only: nothing here changes anything, so
 * it needs no authentication beyond where it listens.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../util/log.js';
import type { DaemonStatus } from './status.js';

export const DEFAULT_HTTP_ADDRESS = '127.0.0.1:9380';

export interface StatusSource {
  status(): Promise<DaemonStatus>;
  renderMetrics(): Promise<string>;
  healthy(): { ok: boolean; reason: string };
  readonly metrics: { contentType: string };
}

/** "127.0.0.1:9380", "[::1]:9380", ":9380" (all addresses), "9380". */
export function parseListenAddress(text: string): { host: string; port: number } | null {
  const match =
    /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  if (!match) return null;
  const port = Number(match[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return null;
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? '::' : host, port };
}

export class StatusServer {
  private server: Server | null = null;

  constructor(
    private readonly source: StatusSource,
    private readonly log: Logger,
  ) {}

  async listen(host: string, port: number): Promise<AddressInfo> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://lvsd').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(res, 405, 'text/plain', 'method not allowed\n', { allow: 'GET, HEAD' });
    try {
      switch (path) {
        case '/metrics':
          return send(res, 200, this.source.metrics.contentType, await this.source.renderMetrics());
        case '/status':
          return send(
            res,
            200,
            'application/json',
            `${JSON.stringify(await this.source.status(), null, 2)}\n`,
          );
        case '/healthz': {
          const health = this.source.healthy();
          return send(res, health.ok ? 200 : 503, 'text/plain', `${health.reason}\n`);
        }
        case '/':
          return send(res, 200, 'text/plain', 'lvsd: /metrics /status /healthz\n');
        default:
          return send(res, 404, 'text/plain', 'not found\n');
      }
    } catch (err) {
      if ((err as Error).name === 'NotReadyError')
        return send(res, 503, 'text/plain', `${(err as Error).message}\n`);
      this.log.error({ event: 'http_error', path, err }, `${path}: ${(err as Error).message}`);
      return send(res, 500, 'text/plain', `${(err as Error).message}\n`);
    }
  }
}

function send(
  res: ServerResponse,
  code: number,
  type: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(code, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
