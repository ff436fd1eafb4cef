import type { Logger } from 'pino';
import { createTradingMetrics, startMetricsServer, startUptimeMonitor } from '@trade/metrics';
import { Registry } from 'prom-client';
import type { MetricsConfig } from '../config.js';

/** What `live` needs from the CLI. */
export interface LiveOptions {
  readonly metrics: MetricsConfig;
  readonly version: string;
  readonly logger: Logger;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM). */
  readonly stopSignal: Promise<void>;
}

/**
 * Runs the pipeline until asked to stop. So far it serves the metric
 * catalogue and health; the exchange stream, storage and paper engine are
 * composed here as their packages land.
 */
export async function runLive(options: LiveOptions): Promise<void> {
  const { logger } = options;
  const metrics = createTradingMetrics({ registry: new Registry(), version: options.version });
  const uptime = startUptimeMonitor({ gauge: metrics.uptimeSeconds });
  const server = await startMetricsServer({
    registry: metrics.registry,
    host: options.metrics.host,
    port: options.metrics.port,
    onError: (error) => {
      metrics.errors.inc({ component: 'metrics' });
      logger.error({ err: error }, 'metrics collection failed');
    },
  });
  logger.info(
    { metrics: `${server.url}/metrics`, health: `${server.url}/health` },
    `metrics served on ${server.url}/metrics (listening on ${server.host}:${server.port})`,
  );

  await options.stopSignal;
  logger.info('stopping');
  uptime.stop();
  await server.close();
  logger.info('stopped');
}
