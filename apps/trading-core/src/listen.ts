import { TradeError } from '@trade/core';
import { startMetricsServer, type MetricsServer } from '@trade/metrics';
import type { MetricsConfig } from './config.js';

/** Starts the exporter; a failure to listen names the settings to change. */
export async function listenOrExplain(
  at: MetricsConfig,
  options: Omit<Parameters<typeof startMetricsServer>[0], 'host' | 'port'>,
): Promise<MetricsServer> {
  try {
    return await startMetricsServer({ ...options, host: at.host, port: at.port });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new TradeError(`METRICS_HOST/METRICS_PORT: ${reason}`, { cause: error });
  }
}
