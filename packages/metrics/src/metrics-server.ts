import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, TradeError } from '@trade/core';
import type { Registry } from 'prom-client';
import {
  EXPOSITION_CONTENT_TYPES,
  negotiateFormat,
  renderExposition,
  type ExpositionFormat,
} from './exposition.js';
import { runChecks, type HealthCheck } from './health.js';

/** Options of {@link startMetricsServer}. */
export interface MetricsServerOptions {
  /** The registry served on `/metrics`. */
  registry: Registry;
  /** Interface to listen on. Default `0.0.0.0`. */
  host?: string;
  /** Port to listen on; `0` picks a free one. Default `9090`. */
  port?: number;
  /** Liveness checks behind `/health`: 200 `OK` when all pass, 503 with the reasons otherwise. */
  health?: Readonly<Record<string, HealthCheck>>;
  /** Readiness checks behind `/ready`: 200 `READY` when all pass, 503 with the reasons otherwise. */
  ready?: Readonly<Record<string, HealthCheck>>;
  /** Scrapes served at once; more get 503 with `Retry-After`. Default `8`. */
  maxConcurrentScrapes?: number;
  /** How long one check may take before it counts as failing. Default `2000` ms. */
  checkTimeoutMs?: number;
  /** How long `close()` lets in-flight responses finish before cutting them. Default `2000` ms. */
  closeGraceMs?: number;
  /** Told when rendering the exposition fails (the scraper gets a 500). */
  onError?: (error: unknown) => void;
}

/** A running exporter. */
export interface MetricsServer {
  readonly host: string;
  /** The port actually bound (useful with `port: 0`). */
  readonly port: number;
  /** Base URL, e.g. `http://127.0.0.1:9090`. */
  readonly url: string;
  /** Stops accepting, lets in-flight responses finish (within the grace), then resolves. */
  close(): Promise<void>;
}

const ALLOW = 'GET, HEAD';

/**
 * Serves `GET /metrics` (Prometheus text, or OpenMetrics when the scraper
 * asks for it), `GET /health` and `GET /ready`, with HEAD on each.
 * Concurrent scrapes of the same format share one rendering.
 *
 * @example
 * ```ts
 * const server = await startMetricsServer({ registry, port: 9090,
 *   ready: { database: async () => ({ ok: await db.ping() }) } });
 * console.log(`metrics on ${server.url}/metrics`);
 * ```
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const settings = validate(options);
  const { registry } = options;
  const pending = new Map<ExpositionFormat, Promise<string>>();
  let scrapesInFlight = 0;

  function render(format: ExpositionFormat): Promise<string> {
    let body = pending.get(format);
    if (!body) {
      body = renderExposition(registry, format).finally(() => pending.delete(format));
      pending.set(format, body);
    }
    return body;
  }

  async function serveMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (scrapesInFlight >= settings.maxConcurrentScrapes) {
      res.setHeader('Retry-After', '1');
      send(req, res, 503, 'too many concurrent scrapes\n');
      return;
    }
    scrapesInFlight += 1;
    try {
      const format = negotiateFormat(req.headers.accept);
      const body = await render(format);
      send(req, res, 200, body, EXPOSITION_CONTENT_TYPES[format]);
    } catch (error) {
      options.onError?.(error);
      send(req, res, 500, `metrics collection failed: ${messageOf(error)}\n`);
    } finally {
      scrapesInFlight -= 1;
    }
  }

  async function serveChecks(
    req: IncomingMessage,
    res: ServerResponse,
    checks: Readonly<Record<string, HealthCheck>>,
    okBody: string,
    failBody: string,
  ): Promise<void> {
    const report = await runChecks(checks, settings.checkTimeoutMs);
    if (report.ok) send(req, res, 200, `${okBody}\n`);
    else send(req, res, 503, `${failBody}\n${report.failures.join('\n')}\n`);
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    const route =
      path === '/metrics'
        ? () => serveMetrics(req, res)
        : path === '/health'
          ? () => serveChecks(req, res, options.health ?? {}, 'OK', 'UNHEALTHY')
          : path === '/ready'
            ? () => serveChecks(req, res, options.ready ?? {}, 'READY', 'NOT READY')
            : undefined;
    if (!route) {
      send(req, res, 404, 'not found: try /metrics, /health or /ready\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', ALLOW);
      send(req, res, 405, `method ${req.method} not allowed: use ${ALLOW}\n`);
      return;
    }
    route().catch((error: unknown) => {
      options.onError?.(error);
      if (!res.headersSent) send(req, res, 500, `${messageOf(error)}\n`);
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new TradeError(
          `metrics server cannot listen on ${settings.host}:${settings.port}: ${
            error.code === 'EADDRINUSE' ? 'the port is already in use' : error.message
          }`,
          { cause: error },
        ),
      );
    });
    server.listen(settings.port, settings.host, () => resolve());
  });

  const { port } = server.address() as AddressInfo;
  const urlHost =
    settings.host === '0.0.0.0' || settings.host === '::' ? '127.0.0.1' : settings.host;
  let closing: Promise<void> | undefined;

  return {
    host: settings.host,
    port,
    url: `http://${urlHost.includes(':') ? `[${urlHost}]` : urlHost}:${port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        const cut = setTimeout(() => server.closeAllConnections(), settings.closeGraceMs);
        server.close(() => {
          clearTimeout(cut);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: string,
  contentType = 'text/plain; charset=utf-8',
): void {
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function validate(options: MetricsServerOptions) {
  const host = options.host ?? '0.0.0.0';
  const port = options.port ?? 9090;
  const maxConcurrentScrapes = options.maxConcurrentScrapes ?? 8;
  const checkTimeoutMs = options.checkTimeoutMs ?? 2000;
  const closeGraceMs = options.closeGraceMs ?? 2000;
  if (typeof host !== 'string' || host.trim() === '') {
    throw new ConfigError('host', host, 'an interface address such as 0.0.0.0 or 127.0.0.1');
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError('port', port, 'an integer from 0 to 65535');
  }
  if (!Number.isInteger(maxConcurrentScrapes) || maxConcurrentScrapes < 1) {
    throw new ConfigError('maxConcurrentScrapes', maxConcurrentScrapes, 'an integer of at least 1');
  }
  for (const [name, value] of [
    ['checkTimeoutMs', checkTimeoutMs],
    ['closeGraceMs', closeGraceMs],
  ] as const) {
    if (!Number.isFinite(value) || value < 0) {
      throw new ConfigError(name, value, 'a non-negative number of milliseconds');
    }
  }
  return { host, port, maxConcurrentScrapes, checkTimeoutMs, closeGraceMs };
}
