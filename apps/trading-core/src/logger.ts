import type { TradingMetrics } from '@trade/metrics';
import { pino, type Logger, type LoggerOptions } from 'pino';

const ERROR_LEVEL = 50;

/**
 * The app's pino logger. With `metrics`, every record at error level or above
 * increments `trading_errors_total{component}`, where `component` is the child
 * logger's binding (`logger.child({ component: 'database' })`), `app` otherwise.
 * Without, it only logs: the libraries count their own errors, so the logger
 * handed to them must not count them again.
 */
export function createLogger(
  metrics: Pick<TradingMetrics, 'errors'> | undefined,
  options: LoggerOptions = {},
  destination?: pino.DestinationStream,
): Logger {
  const hooks: LoggerOptions['hooks'] = {
    logMethod(args, method, level) {
      if (metrics && level >= ERROR_LEVEL) {
        const { component } = this.bindings() as { component?: unknown };
        metrics.errors.inc({ component: typeof component === 'string' ? component : 'app' });
      }
      method.apply(this, args);
    },
  };
  const merged: LoggerOptions = {
    name: 'trading-core',
    level: 'info',
    ...options,
    hooks,
  };
  return destination ? pino(merged, destination) : pino(merged);
}
